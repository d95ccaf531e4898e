"""The Ray part of `cargo xtask demo`: a real Ray job whose working_dir is an obs:// URI.

It does what the README tells a node operator, in order: install the ray-scheme-host
platform wheel (it carries scheme-host and its plugins), enable the integration (which also
precompiles the plugins), start Ray (one local node), then submits a job with
`ray job submit` as a user would. The store's endpoint and
credentials come from this process's environment (OBS_ENDPOINT, OBS_ACCESS_KEY_ID,
OBS_SECRET_ACCESS_KEY), as they would for `ray start`.

The node is stopped through the process group this script started (tests/ray/harness.py),
never with `ray stop`, which would kill every Ray process on the machine.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "ray"))
import harness  # noqa: E402

PY = sys.executable


def step(text: str) -> None:
    print(text, flush=True)


def run(cmd, env, timeout=300, show=True) -> str:
    if show:
        step("   $ " + " ".join(str(c) for c in cmd))
    done = subprocess.run([str(c) for c in cmd], env=env, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise SystemExit(f"demo: {' '.join(map(str, cmd))} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done.stdout


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--uri", required=True)
    ap.add_argument("--wheel", required=True)
    args = ap.parse_args()
    started = time.monotonic()

    # Short path: Ray puts unix sockets under its temp dir (108-byte limit).
    root = Path(tempfile.mkdtemp(prefix="rsh-demo-", dir="/tmp"))
    env = dict(os.environ)
    env.update(
        {
            "PATH": f"{harness.VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
            "RAY_USAGE_STATS_ENABLED": "0",
            # The demo's node gets its own plugin cache, like a new machine.
            "SCHEME_HOST_CACHE_DIR": str(root / "scheme-host-cache"),
        }
    )
    for inherited in ("RAY_ADDRESS", "RAY_SCHEME_HOST_SHIM", "RAY_RUNTIME_ENV_PLUGINS", "SCHEME_HOST_BIN", "SCHEME_HOST_PLUGIN_DIR"):
        env.pop(inherited, None)

    step("\n7. A real Ray job whose working_dir is the obs:// URI. Node setup, as the README tells an operator:")
    t = time.monotonic()
    run([PY, "-m", "pip", "install", "--quiet", "--no-deps", "--force-reinstall", "--disable-pip-version-check", args.wheel], env)
    step(f"     installed in {time.monotonic() - t:.1f} s: scheme-host {shutil.which('scheme-host', path=env['PATH'])}, its plugins beside it")
    step(f"   $ export OBS_ENDPOINT={env['OBS_ENDPOINT']} OBS_ACCESS_KEY_ID=... OBS_SECRET_ACCESS_KEY=...")
    was_enabled = json.loads(run([PY, "-m", "ray_scheme_host", "status", "--json"], env, show=False))["literal_uris"]["enabled"]
    t = time.monotonic()
    out = run([PY, "-m", "ray_scheme_host", "enable"], env)
    out += f"(enable took {time.monotonic() - t:.1f} s, including the precompile)\n"
    for line in out.strip().splitlines():
        step(f"     {line}")

    cluster = harness.Cluster(root=root / "ray", env=env)
    try:
        t = time.monotonic()
        step("   $ ray start --head ...   (one local node, on loopback)")
        head = cluster.start_head({"demo_head": 1})
        cluster.wait_for(head)
        step(f"     node up in {time.monotonic() - t:.1f} s; dashboard {cluster.dashboard_url}")

        runtime_env = json.dumps({"working_dir": args.uri})
        submission_id = f"scheme-host-demo-{os.getpid()}"
        cmd = ["ray", "job", "submit", "--address", cluster.dashboard_url, "--submission-id", submission_id,
               "--runtime-env-json", runtime_env, "--log-color", "false", "--", "python", "main.py"]
        step("\n   $ " + " ".join(c if c != runtime_env else f"'{c}'" for c in cmd))
        t = time.monotonic()
        submit = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
        for line in submit.stdout.strip().splitlines():
            step(f"     {line}")
        if submit.returncode != 0:
            raise SystemExit(f"demo: ray job submit failed ({submit.returncode}):\n{submit.stderr[-4000:]}")
        logs = run(["ray", "job", "logs", "--address", cluster.dashboard_url, submission_id], env, show=False)
        job_line = next((l for l in reversed(logs.splitlines()) if l.startswith("demo-job:")), None)
        if job_line is None:
            raise SystemExit(f"demo: the job succeeded but printed no demo-job line; its logs:\n{logs[-4000:]}")
        step(f"   job submitted and finished in {time.monotonic() - t:.1f} s")
    finally:
        cluster.stop()
        if was_enabled is False:
            subprocess.run([PY, "-m", "ray_scheme_host", "disable"], env=env, capture_output=True)
        shutil.rmtree(root, ignore_errors=True)
    step(f"   Ray node stopped; Ray part took {time.monotonic() - started:.0f} s. The job's own output:\n")
    print(job_line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
