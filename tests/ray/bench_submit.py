"""Job submit-to-running time: an OBS working_dir (both ways in) versus a file:// zip of the
same package, on one cluster. Prints a table; asserts nothing.

    SCHEME_HOST_BIN=... OBS_SERVER_BIN=... SCHEME_HOST_PLUGIN_DIR=... \\
        .venv/bin/python tests/ray/bench_submit.py [--rounds 3] [--sizes small,medium]

"cold": a URI no node has seen (a new object key or file each round): download + unpack.
"warm": the URI of the previous cold job again: Ray's URI cache, no download.
The clock runs from just before `submit_job` to the first poll (every 20 ms) that reports
RUNNING, i.e. what the user waits for before their entrypoint starts. "setup ms" is the
runtime_env agent's own creation time for the job's environment (Ray's state API).
"""

import argparse
import json
import os
import statistics
import sys
import time
import uuid
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402
import stack as stack_mod  # noqa: E402

RELEASE = stack_mod.REPO / "target" / "release"
METHODS = ("file", "obs-literal", "obs-plugin")
SIZES = {
    # (files, bytes per file): the tests' tiny app, and a package with real transfer work.
    "small": (3, 200),
    "medium": (400, 64 * 1024),
}


def make_package(path: Path, files: int, size: int) -> Path:
    """Incompressible content, so the archive is as large as the tree."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("pkg/main.py", "print('ok')\n")
        for i in range(files):
            z.writestr(f"pkg/data/f{i:04d}.bin", os.urandom(size))
    return path


def objects_for(rounds: int, sizes):
    def build(out: Path, token: str):
        out.mkdir(parents=True, exist_ok=True)
        objects = {"bench/warmup.zip": make_package(out / "bench_warmup.zip", 1, 10)}
        for size_name in sizes:
            files, size = SIZES[size_name]
            for method in METHODS:
                for r in range(rounds):
                    key = f"bench/{size_name}-{method}-{r}.zip"
                    objects[key] = make_package(out / key.replace("/", "_"), files, size)
        return objects

    return build


def setup_ms(dashboard_url: str, marker: str) -> float:
    """The runtime_env agent's creation time of the live environment naming `marker`.

    Asked while the job runs: the agent forgets an environment once nothing uses it."""
    reply = harness.http_json(f"{dashboard_url}/api/v0/runtime_envs?limit=10000&detail=1", timeout=30)
    found = [
        duration_ms(env.get("creation_time_ms"))
        for env in reply["data"]["result"]["result"]
        if marker in json.dumps(env.get("runtime_env"))
    ]
    if not found:
        raise RuntimeError(f"no live runtime_env names {marker}")
    return max(found)


def duration_ms(value) -> float:
    """The state API renders durations as str(timedelta), e.g. "0:00:01.250000"."""
    if value is None:
        return 0.0
    if isinstance(value, (int, float)):
        return float(value)
    if ":" not in value:
        return float(value)
    hours, minutes, seconds = value.split(":")
    return ((int(hours) * 60 + int(minutes)) * 60 + float(seconds)) * 1000


def time_to_running(client, runtime_env, dashboard_url: str, marker: str):
    """(seconds from submit to RUNNING, ms the agent spent creating the environment)."""
    from ray.job_submission import JobStatus

    started = time.perf_counter()
    # The sleep keeps the job (and so its environment) alive while we read the setup time.
    sid = client.submit_job(entrypoint="python main.py && sleep 2", runtime_env=runtime_env, submission_id=f"bench-{uuid.uuid4().hex[:10]}")
    while True:
        status = client.get_job_status(sid)
        if status == JobStatus.RUNNING:
            elapsed = time.perf_counter() - started
            break
        if status in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.STOPPED):
            raise RuntimeError(f"bench job {sid} {status} before it was seen running: {client.get_job_info(sid).message}")
        time.sleep(0.02)
    setup = setup_ms(dashboard_url, marker)
    while client.get_job_status(sid) not in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.STOPPED):
        time.sleep(0.1)
    info = client.get_job_info(sid)
    if info.status != JobStatus.SUCCEEDED:
        raise RuntimeError(f"bench job {sid} {info.status}: {info.message}")
    return elapsed, setup


def runtime_env_for(method: str, running, key: str, file_copy: Path) -> dict:
    if method == "file":
        return {"working_dir": f"file://{file_copy}"}
    if method == "obs-literal":
        return {"working_dir": running.uri(key)}
    return {"scheme_working_dir": running.uri(key)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sizes", default="small,medium")
    args = parser.parse_args()
    sizes = [s for s in args.sizes.split(",") if s]
    bins = {}
    for env_name, default in (("SCHEME_HOST_BIN", RELEASE / "scheme-host"), ("OBS_SERVER_BIN", RELEASE / "obs-server")):
        path = Path(os.environ.get(env_name) or default)
        if not (path.is_file() and os.access(path, os.X_OK)):
            print(f"error: set {env_name} (no executable at {path})", file=sys.stderr)
            return 2
        bins[env_name] = str(path)
    with stack_mod.running_stack(
        bins["SCHEME_HOST_BIN"], bins["OBS_SERVER_BIN"], os.environ.get("SCHEME_HOST_PLUGIN_DIR"), objects_for(args.rounds, sizes), second_node=False
    ) as running:
        # This process started before `enable` wrote the .pth; install its hook now, before
        # Ray is first imported, exactly as a process started afterwards would have.
        assert "ray" not in sys.modules
        from ray_scheme_host import _hook

        _hook.install()
        client = running.client()
        packages = running.root / "packages"
        # One throwaway job so that the first measured one does not pay for worker start-up.
        url = running.cluster.dashboard_url
        warmup = f"file://{packages / 'bench_warmup.zip'}"
        time_to_running(client, {"working_dir": warmup}, url, warmup)
        results = {}
        for size_name in sizes:
            for r in range(args.rounds):
                for method in METHODS:  # interleaved, so drift hits every method alike
                    key = f"bench/{size_name}-{method}-{r}.zip"
                    # file:// reads the package where the node can see it: a local copy.
                    env = runtime_env_for(method, running, key, packages / key.replace("/", "_"))
                    marker = next(iter(env.values()))
                    results.setdefault((size_name, method, "cold"), []).append(time_to_running(client, env, url, marker))
                    results.setdefault((size_name, method, "warm"), []).append(time_to_running(client, env, url, marker))
        print()
        print(f"submit -> RUNNING, seconds ({args.rounds} rounds, 1 head node, {os.cpu_count()} CPUs)")
        print(f"{'package':<24}{'runtime_env':<34}{'cache':<7}{'median':>8}{'min':>8}{'max':>8}{'setup ms':>10}")
        for (size_name, method, cache), samples in results.items():
            times = [t for t, _ in samples]
            setup = statistics.median(ms for _, ms in samples)
            files, size = SIZES[size_name]
            label = f"{size_name} ({files} x {size // 1024 or size}{'KiB' if size >= 1024 else 'B'})"
            what = {"file": "working_dir file://.zip", "obs-literal": "working_dir obs://.zip", "obs-plugin": "scheme_working_dir obs://.zip"}[method]
            print(f"{label:<24}{what:<34}{cache:<7}{statistics.median(times):>8.2f}{min(times):>8.2f}{max(times):>8.2f}{setup:>10.0f}")
        print("setup ms: median time the runtime_env agent spent creating the job's environment")
        print("(fetch + unpack on a cold URI; a URI-cache hit on a warm one).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
