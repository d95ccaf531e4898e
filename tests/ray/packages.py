"""The job packages the tests upload to the OBS test server, built fresh for each run.

Each run embeds a random token so a test can tell its own files from anything left over.
Layouts follow what Ray users upload: one top-level directory (Ray strips it), a py_modules
archive whose top level holds the importable package, and a real wheel.
"""

import base64
import hashlib
import zipfile
from pathlib import Path
from typing import Dict

# The job's entrypoint. It prints one `RESULT <json>` line: what the driver (head node), a
# task pinned to the second node, and an actor there with a per-actor runtime_env can see.
MAIN_PY = r'''
import json
import os
import sys

import ray


def snapshot():
    import helper
    import mymod
    import wheelmod

    with open("data.txt") as f:
        data = f.read().strip()
    return {
        "node": ray.get_runtime_context().get_node_id(),
        "cwd": os.getcwd(),
        "data": data,
        "helper": helper.VALUE,
        "mymod": mymod.VALUE,
        "wheelmod": wheelmod.VALUE,
    }


@ray.remote
def task_snapshot():
    return snapshot()


@ray.remote
class Probe:
    def look(self):
        import extramod

        return dict(snapshot(), extramod=extramod.VALUE)


def main():
    py_modules_field, extra_uris, pin = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
    ray.init()
    job_env = ray.get_runtime_context().runtime_env
    result = {"driver": snapshot()}
    result["task"] = ray.get(task_snapshot.options(resources={pin: 0.01}).remote())
    # A per-actor runtime_env replaces the job's value of a field it sets: keep the job's
    # modules and add one more.
    actor_env = {py_modules_field: list(job_env.get(py_modules_field) or []) + extra_uris}
    probe = Probe.options(resources={pin: 0.01}, runtime_env=actor_env).remote()
    result["actor"] = ray.get(probe.look.remote())
    print("RESULT " + json.dumps(result), flush=True)


main()
'''


# An entrypoint that needs no Ray: what the job's working directory holds, as seen by the
# process the job runs (for the tests of where a package was fetched and by whom). Printed,
# and also written to $WHEREAMI_OUT if set: Ray serves the logs of a job whose entrypoint
# runs on another node than the head only from that node.
WHEREAMI_PY = r'''
import json
import os
import sys

files = sorted(os.path.relpath(os.path.join(d, f), ".") for d, _, fs in os.walk(".") for f in fs)
imported = {}
for name in sys.argv[1:]:
    imported[name] = __import__(name).VALUE
line = "RESULT " + json.dumps({"cwd": os.getcwd(), "data": open("data.txt").read().strip(), "files": files, "imported": imported})
if os.environ.get("WHEREAMI_OUT"):
    with open(os.environ["WHEREAMI_OUT"], "w") as f:
        f.write(line + "\n")
print(line, flush=True)
'''


def _zip(path: Path, entries: Dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in entries.items():
            z.writestr(name, text)
    return path


def _wheel(path_dir: Path, name: str, version: str, modules: Dict[str, str]) -> Path:
    """A minimal valid wheel (PEP 427): pip installs it with --target like Ray does."""
    dist_info = f"{name}-{version}.dist-info"
    files = dict(modules)
    files[f"{dist_info}/METADATA"] = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    files[f"{dist_info}/WHEEL"] = "Wheel-Version: 1.0\nGenerator: ray-scheme-host-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    record_lines = []
    for fname, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record_lines.append(f"{fname},sha256={digest},{len(text.encode())}")
    record_lines.append(f"{dist_info}/RECORD,,")
    files[f"{dist_info}/RECORD"] = "\n".join(record_lines) + "\n"
    return _zip(path_dir / f"{name}-{version}-py3-none-any.whl", files)


def build(out: Path, token: str) -> Dict[str, Path]:
    """{object key: local file} for every package the tests use."""
    out.mkdir(parents=True, exist_ok=True)
    app = {
        "app/main.py": MAIN_PY,
        "app/data.txt": f"data-{token}\n",
        "app/helper.py": f"VALUE = 'helper-{token}'\n",
    }
    files = {
        "jobs/app.zip": _zip(out / "app.zip", app),
        # The same package under other keys: new URIs that no node has cached yet.
        "jobs/app-literal-fresh.zip": _zip(out / "app-literal-fresh.zip", app),
        "jobs/app-plugin-fresh.zip": _zip(out / "app-plugin-fresh.zip", app),
        "libs/mods.zip": _zip(out / "mods.zip", {"mods/mymod/__init__.py": f"VALUE = 'mymod-{token}'\n"}),
        "libs/extra.zip": _zip(out / "extra.zip", {"extra/extramod/__init__.py": f"VALUE = 'extramod-{token}'\n"}),
        "libs/wheelmod-1.0-py3-none-any.whl": _wheel(out, "wheelmod", "1.0", {"wheelmod/__init__.py": f"VALUE = 'wheelmod-{token}'\n"}),
        # A plain s3:// working_dir (Ray's own scheme) for the opt-in routing through scheme-host.
        "jobs/s3-app.zip": _zip(out / "s3-app.zip", {"s3app/whereami.py": WHEREAMI_PY, "s3app/data.txt": f"s3-data-{token}\n"}),
    }
    return files
