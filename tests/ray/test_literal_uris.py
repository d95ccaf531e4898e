"""The literal API: `working_dir: "obs://..."` and `py_modules: ["obs://..."]`, enabled by
`python -m ray_scheme_host enable`, on every way a user submits work."""

import json
import re
import subprocess
import sys
import uuid

import harness
from checks import assert_sees_everything, assert_store_error, entrypoint
from conftest import ray_versions, result_of

WD = "working_dir_files"

SUBMIT_WITH_PYTHON_CLIENT = r"""
import json, sys
from ray.job_submission import JobSubmissionClient
address, entrypoint, runtime_env, sid = sys.argv[1:5]
client = JobSubmissionClient(address)
print(client.submit_job(entrypoint=entrypoint, runtime_env=json.loads(runtime_env), submission_id=sid))
"""

RAY_INIT_DRIVER = r"""
import json, os, sys
import ray
address, runtime_env = sys.argv[1], json.loads(sys.argv[2])
ray.init(address=address, runtime_env=runtime_env)

@ray.remote
def look():
    import helper, mymod, wheelmod
    return {"node": ray.get_runtime_context().get_node_id(), "cwd": os.getcwd(),
            "data": open("data.txt").read().strip(), "helper": helper.VALUE,
            "mymod": mymod.VALUE, "wheelmod": wheelmod.VALUE}

print("RESULT " + json.dumps({pin: ray.get(look.options(resources={pin: 0.01}).remote()) for pin in ("head", "node2")}))
"""


def literal_env(stack, app_key="jobs/app.zip"):
    env = {
        "working_dir": stack.uri(app_key),
        "py_modules": [stack.uri("libs/mods.zip"), stack.uri("libs/wheelmod-1.0-py3-none-any.whl")],
    }
    if stack.nodes_share_temp_dir:
        # Ray fetches a working_dir afresh on each node (overwrite=True). Where the nodes
        # share one directory (releases up to 2.54, several nodes on one machine), the
        # second node's eager install at job start would replace the directory under the
        # running driver, with Ray's own schemes as with ours; installed when a task first
        # needs it, the replacement comes after the driver has read its files.
        env["config"] = {"eager_install": False}
    return env


def test_python_client_job_runs_in_obs_working_dir_on_both_nodes(stack):
    sid = f"literal-{uuid.uuid4().hex[:8]}"
    out = stack.run_client_script(
        SUBMIT_WITH_PYTHON_CLIENT,
        stack.cluster.dashboard_url,
        entrypoint("py_modules", [stack.uri("libs/extra.zip")]),
        json.dumps(literal_env(stack)),
        sid,
    )
    assert out.strip() == sid
    info, logs = stack.wait(sid)
    assert info.status == "SUCCEEDED", f"{info.message}\n{logs[-4000:]}"
    # The directory is the installed Ray's own name for the package (hashed since 2.57,
    # readable before), so Ray's cache and cleanup find it.
    assert_sees_everything(stack, result_of(logs), WD, stack.rays_package_dir(stack.uri("jobs/app.zip")))
    app = stack.uri("jobs/app.zip")
    assert len(stack.host_calls(app, node=stack.head)) >= 1
    assert len(stack.host_calls(app, node=stack.node2)) >= 1


def test_rest_api_second_job_reuses_the_cached_package(stack):
    app = stack.uri("jobs/app.zip")
    before = len(stack.host_calls(app, under=f"/{WD}/"))
    assert before >= 2
    sid = f"literal-rest-{uuid.uuid4().hex[:8]}"
    reply = harness.http_json(
        f"{stack.cluster.dashboard_url}/api/jobs/",
        {"entrypoint": entrypoint("py_modules", [stack.uri("libs/extra.zip")]), "runtime_env": literal_env(stack), "submission_id": sid},
    )
    assert reply["submission_id"] == sid
    info, logs = stack.wait(sid)
    assert info.status == "SUCCEEDED", f"{info.message}\n{logs[-4000:]}"
    assert_sees_everything(stack, result_of(logs), WD, stack.rays_package_dir(app))
    assert len(stack.host_calls(app, under=f"/{WD}/")) == before


def test_ray_job_submit_cli_missing_object_fails_with_the_store_code(stack):
    missing = f"obs://{stack.uri('jobs/app.zip').split('/')[2]}/jobs/missing-{uuid.uuid4().hex[:6]}.zip"
    done = subprocess.run(
        [
            str(harness.VENV_BIN / "ray"),
            "job",
            "submit",
            f"--address={stack.cluster.dashboard_url}",
            "--no-wait",
            f"--runtime-env-json={json.dumps({'working_dir': missing})}",
            "--",
            "python",
            "main.py",
        ],
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    found = re.search(r"Job '([^']+)' submitted successfully", done.stdout + done.stderr)
    assert found, done.stdout + done.stderr
    info, _ = stack.wait(found.group(1))
    assert_store_error(info, missing)


def test_ray_init_driver_with_obs_runtime_env(stack):
    runtime_env = literal_env(stack, "jobs/app.zip")
    out = stack.run_client_script(RAY_INIT_DRIVER, stack.cluster.gcs_address, json.dumps(runtime_env), timeout=240)
    result = result_of(out)
    for pin, node in (("head", stack.head), ("node2", stack.node2)):
        snap = result[pin]
        assert snap["node"] == node.node_id
        assert snap["data"] == f"data-{stack.token}"
        assert (snap["helper"], snap["mymod"], snap["wheelmod"]) == (
            f"helper-{stack.token}",
            f"mymod-{stack.token}",
            f"wheelmod-{stack.token}",
        )


def test_status_names_this_rays_patch_points(stack):
    import ray

    done = subprocess.run(
        [sys.executable, "-m", "ray_scheme_host", "status", "--json"], env=stack.env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["ray_version"] == ray.__version__ in ray_versions()
    assert report["ray_support"]["tested"] is True
    lit = report["literal_uris"]
    assert lit["enabled"] and lit["refused"] is None
    # Where this release keeps Ray's Protocol enum: moved in 2.57.
    expected = "ray._common.runtime_env_uri" if tuple(map(int, ray.__version__.split(".")[:2])) >= (2, 57) else "ray._private.runtime_env.protocol"
    assert lit["layout"]["protocol_module"] == expected
