"""Ray's own packing and unpacking of a working_dir, for pack/tests/ray_differential.rs.

    python ray_pack.py list DIR [EXCLUDE ...]
        Packs DIR the way `ray job submit --working-dir DIR` does (the same calls as
        `upload_working_dir_if_needed`: Ray's default excludes plus EXCLUDE, `.gitignore`
        unless RAY_RUNTIME_ENV_IGNORE_GITIGNORE=1, `.rayignore`) and prints one JSON object:
        {"ray": version, "entries": [{"path", "dir", "exec"}, ...] sorted by path}.

    python ray_pack.py unpack ZIP DEST
        Unpacks ZIP into DEST as Ray unpacks a remote working_dir zip (strips a single
        top-level directory) and prints {"ray": version}.

    python ray_pack.py batch < REQUESTS
        Runs a JSON list of requests, {"op": "list", "dir", "excludes", "env"},
        {"op": "list-without-hash", ...} (see ray_list) or {"op": "unpack", "zip", "dest"}
        ("env": variables set for that request only), and
        prints the list of results; a request that raises gives {"error": message}. One
        Python start (importing Ray takes seconds) for many cases.

Needs only Ray's Python package (its packing functions run without a cluster).
"""

import json
import logging
import os
import sys
import tempfile
import zipfile
from pathlib import Path

import ray
from ray._private import ray_constants
from ray._private.runtime_env import packaging
from ray._private.runtime_env.working_dir import upload_working_dir_if_needed


def ray_list(directory, user_excludes, hash_first=True):
    """With `hash_first=False` Ray's content hash (`get_uri_for_directory`, which
    `upload_working_dir_if_needed` runs before packing) is skipped and the exclude list is
    built as that function builds it: the hash opens every non-directory, so it blocks
    forever on a fifo, while the packing step skips fifos."""
    # As ray.init and `ray job submit` decide it (worker.py, dashboard_sdk.py).
    include_gitignore = (
        os.environ.get(ray_constants.RAY_RUNTIME_ENV_IGNORE_GITIGNORE, "0") != "1"
    )
    captured = {}

    def upload_fn(working_dir, excludes=None, is_file=False):
        captured["excludes"] = excludes

    if hash_first:
        runtime_env = {"working_dir": directory, "excludes": user_excludes}
        upload_working_dir_if_needed(
            runtime_env, include_gitignore=include_gitignore, upload_fn=upload_fn
        )
    else:
        captured["excludes"] = ray_constants.get_runtime_env_default_excludes() + list(
            user_excludes
        )
    with tempfile.TemporaryDirectory() as tmp:
        package = Path(tmp) / "package.zip"
        packaging.create_package(
            directory,
            package,
            include_gitignore=include_gitignore,
            include_parent_dir=False,
            excludes=captured["excludes"],
        )
        with zipfile.ZipFile(package) as z:
            entries = [
                {
                    "path": info.filename.rstrip("/"),
                    "dir": info.filename.endswith("/"),
                    "exec": bool((info.external_attr >> 16) & 0o100),
                }
                for info in z.infolist()
            ]
    entries.sort(key=lambda e: e["path"].encode("utf-8", "surrogateescape"))
    return {"ray": ray.__version__, "entries": entries}


def ray_unpack(package, dest):
    packaging.unzip_package(
        package_path=package,
        target_dir=dest,
        remove_top_level_directory=True,
        unlink_zip=False,
    )
    return {"ray": ray.__version__}


def run(request):
    saved = {k: os.environ.get(k) for k in request.get("env", {})}
    os.environ.update(request.get("env", {}))
    try:
        if request["op"] in ("list", "list-without-hash"):
            return ray_list(
                request["dir"],
                request.get("excludes", []),
                hash_first=request["op"] == "list",
            )
        return ray_unpack(request["zip"], request["dest"])
    except Exception as e:  # reported to the test, which decides what it expected
        return {"error": f"{type(e).__name__}: {e}"}
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def main(argv):
    logging.disable(logging.CRITICAL)
    if len(argv) >= 2 and argv[0] == "list":
        result = ray_list(argv[1], argv[2:])
    elif len(argv) == 3 and argv[0] == "unpack":
        result = ray_unpack(argv[1], argv[2])
    elif argv == ["batch"]:
        result = [run(r) for r in json.load(sys.stdin)]
    else:
        sys.stderr.write(__doc__)
        return 2
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
