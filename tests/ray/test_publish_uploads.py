"""Publishing through scheme-host instead of Ray's GCS: with `SCHEME_HOST_UPLOAD_TO` set on
the submitting machine (which ran `python -m ray_scheme_host enable`, as the stack's has), a
local `working_dir` / `py_modules` given to `ray job submit`, `JobSubmissionClient` or
`ray.init` is packed and uploaded by `scheme-host pack-and-upload` / `upload`, the job's
runtime_env names the `obs://` URI, and the nodes fetch it like any literal URI. Ray's GCS
receives no package, so Ray's size limit for it does not apply."""

import hashlib
import json
import os
import re
import uuid
from pathlib import Path

import harness
import packages
from conftest import result_of
from stack import BUCKET, PY

UPLOAD_TO = "SCHEME_HOST_UPLOAD_TO"
WD = "working_dir_files"
# Ray's own limit for a package in its GCS, lowered for the test through Ray's own setting
# (`RAY_max_grpc_message_size`, which `GCS_STORAGE_MAX_SIZE` in packaging.py reads; 512 MiB
# by default) in the submitting process only.
GCS_LIMIT = 8 * 1024 * 1024
BIG_FILES, BIG_FILE_BYTES = 5, 2 * 1024 * 1024

SUBMIT_WITH_PYTHON_CLIENT = r"""
import json, sys
from ray.job_submission import JobSubmissionClient
address, entrypoint, runtime_env, sid = sys.argv[1:5]
print(JobSubmissionClient(address).submit_job(entrypoint=entrypoint, runtime_env=json.loads(runtime_env), submission_id=sid))
"""

BIG_TREE_DRIVER = r"""
import hashlib, json, os, sys
import ray
address, runtime_env = sys.argv[1], json.loads(sys.argv[2])
ray.init(address=address, runtime_env=runtime_env)

@ray.remote
def look():
    blobs = sorted(os.listdir("blobs"))
    return {"node": ray.get_runtime_context().get_node_id(), "cwd": os.getcwd(),
            "digests": {b: hashlib.sha256(open(os.path.join("blobs", b), "rb").read()).hexdigest() for b in blobs}}

runs = {pin: ray.get(look.options(resources={pin: 0.01}).remote()) for pin in ("head", "node2")}
print("RESULT " + json.dumps({"uri": ray.get_runtime_context().runtime_env["working_dir"], "runs": runs}), flush=True)
"""


def destination(stack) -> str:
    """A fresh prefix per test, so no package is already in the store."""
    return f"obs://{BUCKET}/uploads/{stack.token}/{uuid.uuid4().hex[:8]}/"


def rays_default_excludes():
    """What the installed Ray leaves out of a working_dir by default (since 2.54)."""
    from ray._private import ray_constants

    read = getattr(ray_constants, "get_runtime_env_default_excludes", None)
    return read() if read else []


def gcs_packages(stack) -> set:
    """The packages Ray's own uploads put in its GCS (`gcs://_ray_pkg_<hash>.zip` keys)."""
    from ray._raylet import GcsClient

    return set(GcsClient(address=stack.cluster.gcs_address).internal_kv_keys(b"gcs://", None, timeout=10))


def make_project(root: Path, token: str) -> Path:
    (root / "sub").mkdir(parents=True)
    (root / "whereami.py").write_text(packages.WHEREAMI_PY)
    (root / "data.txt").write_text(f"way2-{token}\n")
    (root / "sub" / "helper.txt").write_text("helper\n")
    (root / ".gitignore").write_text("*.log\n")
    (root / "debug.log").write_text("left out by .gitignore\n")
    (root / "scratch").mkdir()
    (root / "scratch" / "tmp.bin").write_text("left out by the runtime_env's excludes\n")
    (root / "__pycache__").mkdir()
    (root / "__pycache__" / "stale.pyc").write_text("left out by Ray's default excludes, since 2.54\n")
    return root


def expected_files() -> list:
    files = {".gitignore", "data.txt", "sub/helper.txt", "whereami.py"}
    if "__pycache__" not in rays_default_excludes():
        files.add("__pycache__/stale.pyc")
    return sorted(files)


def assert_ran_from_the_store(stack, info, result, prefix) -> str:
    uri = info.runtime_env["working_dir"]
    assert re.fullmatch(re.escape(prefix) + r"_ray_pkg_[0-9a-f]+\.zip", uri), uri
    assert uri[len(f"obs://{BUCKET}/"):] in stack.stored_keys()
    assert result["data"] == f"way2-{stack.token}"
    cwd = os.path.realpath(result["cwd"])
    assert cwd.endswith(os.path.join("runtime_resources", WD, stack.rays_package_dir(uri))), cwd
    fetched = stack.host_calls(uri)
    assert fetched and {c[0] for c in fetched} == {"download-and-unpack"}, fetched
    return uri


def test_ray_job_submit_working_dir_is_uploaded_through_scheme_host(stack):
    prefix = destination(stack)
    project = make_project(stack.root / "way2" / "cli-proj", stack.token)
    before = gcs_packages(stack)
    done = stack.client_process(
        [
            str(harness.VENV_BIN / "ray"),
            "job",
            "submit",
            f"--address={stack.cluster.dashboard_url}",
            "--no-wait",
            f"--working-dir={project}",
            f"--runtime-env-json={json.dumps({'excludes': ['scratch/']})}",
            "--",
            "python",
            "whereami.py",
        ],
        env={UPLOAD_TO: prefix},
        timeout=240,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    found = re.search(r"Job '([^']+)' submitted successfully", done.stdout + done.stderr)
    assert found, done.stdout + done.stderr
    info, logs = stack.wait(found.group(1))
    assert info.status == "SUCCEEDED", f"{info.message}\n{logs[-4000:]}"
    result = result_of(logs)
    assert_ran_from_the_store(stack, info, result, prefix)
    # Ray's packing rules: .gitignore, the runtime_env's excludes, Ray's default excludes.
    assert result["files"] == expected_files()
    (pack,) = [c for c in stack.host_calls(prefix) if c[0] == "pack-and-upload"]
    assert pack[1] == str(project) and "--exclude" in pack and pack[pack.index("--exclude") + 1] == "scratch/"
    assert gcs_packages(stack) == before


def test_python_client_py_modules_directory_and_wheel_import_on_the_node(stack):
    prefix = destination(stack)
    root = stack.root / "way2" / "client"
    project = make_project(root / "proj", stack.token)
    lib = root / "src" / "way2lib"
    lib.mkdir(parents=True)
    (lib / "__init__.py").write_text(f"VALUE = 'way2lib-{stack.token}'\n")
    # A name no other test uses: Ray keys an installed wheel by its file name on each node.
    wheel = packages._wheel(root, "way2wheel", "1.0", {"way2wheel/__init__.py": f"VALUE = 'way2wheel-{stack.token}'\n"})
    before = gcs_packages(stack)
    sid = f"way2-client-{uuid.uuid4().hex[:8]}"
    runtime_env = {"working_dir": str(project), "py_modules": [str(lib), str(wheel)]}
    out = stack.run_client_script(
        SUBMIT_WITH_PYTHON_CLIENT,
        stack.cluster.dashboard_url,
        "python whereami.py way2lib way2wheel",
        json.dumps(runtime_env),
        sid,
        env={UPLOAD_TO: prefix},
        timeout=240,
    )
    assert out.strip().splitlines()[-1] == sid
    info, logs = stack.wait(sid)
    assert info.status == "SUCCEEDED", f"{info.message}\n{logs[-4000:]}"
    result = result_of(logs)
    assert_ran_from_the_store(stack, info, result, prefix)
    # The directory was packed with its own name inside (Ray's include_parent_dir), so it
    # imports exactly as through Ray's own upload; the wheel went up as a file.
    assert result["imported"] == {"way2lib": f"way2lib-{stack.token}", "way2wheel": f"way2wheel-{stack.token}"}
    lib_uri, wheel_uri = info.runtime_env["py_modules"]
    assert re.fullmatch(re.escape(prefix) + r"_ray_pkg_[0-9a-f]+\.zip", lib_uri), lib_uri
    assert wheel_uri == prefix + wheel.name
    assert [c[1:3] for c in stack.host_calls(wheel_uri) if c[0] == "upload"] == [[str(wheel), wheel_uri]]
    (lib_pack,) = [c for c in stack.host_calls(prefix) if c[0] == "pack-and-upload" and c[1] == str(lib)]
    assert "--include-parent-dir" in lib_pack
    assert gcs_packages(stack) == before


def test_a_tree_above_rays_gcs_limit_runs_through_the_store(stack):
    root = stack.root / "way2" / "big"
    (root / "blobs").mkdir(parents=True)
    digests = {}
    for i in range(BIG_FILES):
        data = os.urandom(BIG_FILE_BYTES)  # incompressible: the zip is as large as the tree
        (root / "blobs" / f"blob{i}.bin").write_bytes(data)
        digests[f"blob{i}.bin"] = hashlib.sha256(data).hexdigest()
    runtime_env = {"working_dir": str(root)}
    if stack.nodes_share_temp_dir:
        runtime_env["config"] = {"eager_install": False}  # see test_literal_uris.literal_env
    limit = {"RAY_max_grpc_message_size": str(GCS_LIMIT)}
    argv = [PY, "-c", BIG_TREE_DRIVER, stack.cluster.gcs_address, json.dumps(runtime_env)]

    # Ray's own route refuses it: the limit is in force in this process.
    refused = stack.client_process(argv, env=limit, timeout=240)
    assert refused.returncode != 0
    assert "exceeds the maximum size of 8.00MiB" in refused.stdout + refused.stderr, (refused.stdout + refused.stderr)[-4000:]

    prefix = destination(stack)
    done = stack.client_process(argv, env={**limit, UPLOAD_TO: prefix}, timeout=300)
    assert done.returncode == 0, (done.stdout + done.stderr)[-6000:]
    result = result_of(done.stdout)
    assert re.fullmatch(re.escape(prefix) + r"_ray_pkg_[0-9a-f]+\.zip", result["uri"]), result["uri"]
    for pin, node in (("head", stack.head), ("node2", stack.node2)):
        run = result["runs"][pin]
        assert run["node"] == node.node_id
        assert run["digests"] == digests
        assert os.path.realpath(run["cwd"]).endswith(os.path.join(WD, stack.rays_package_dir(result["uri"])))
    (pack,) = [c for c in stack.host_calls(prefix) if c[0] == "pack-and-upload"]
    assert pack[1] == str(root)
