"""Everything a real-Ray test run needs, set up the way the README tells an operator:
this tree's ray-scheme-host wheel installed, the literal-URI shim enabled with the
documented command, the OBS test server holding the packages, and a Ray cluster whose
nodes get `RAY_RUNTIME_ENV_PLUGINS`, scheme-host and the store credentials from the
environment of `ray start`. Used by conftest.py (tests) and bench_submit.py.
"""

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterator, List, Optional

import harness

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
PY = sys.executable
BUCKET = "rsh-test"
PLUGINS_ENV_VALUE = (
    '[{"class":"ray_scheme_host.runtime_env_plugin.SchemeWorkingDirPlugin"},'
    '{"class":"ray_scheme_host.runtime_env_plugin.SchemePyModulesPlugin"}]'
)
JOB_TIMEOUT_S = 240
# Ends each line of the host call log: the pid of the process that ran scheme-host.
CALLER_TAG = "caller="
# How long a node's runtime_env agent may take to start and record itself.
AGENT_RECORD_TIMEOUT_S = 120
# Ray's own directory name for a remote package, asked of the installed release.
RAYS_PACKAGE_DIR = (
    "import sys\n"
    "from ray._private.runtime_env import packaging\n"
    "print(packaging.get_local_dir_from_uri(sys.argv[1], '/base').name)\n"
)


@dataclass
class Stack:
    root: Path
    cluster: harness.Cluster
    env: Dict[str, str]
    token: str
    secret_key: str
    host_log: Path
    uris: Dict[str, str]
    head: harness.Node
    node2: Optional[harness.Node]
    store_endpoint: str
    submitted: List[str] = field(default_factory=list)

    def uri(self, key: str) -> str:
        return self.uris[key]

    @property
    def nodes_share_temp_dir(self) -> bool:
        """Whether node2 runs in the head's temp dir: Ray releases up to 2.54 ignore a
        worker's --temp-dir, so all nodes on one machine share one runtime_resources."""
        return self.node2 is not None and self.cluster.temp_dir_of(self.node2) == self.cluster.temp_dir_of(self.head)

    def host_calls(self, uri: str, under: Optional[str] = None, node: Optional[harness.Node] = None) -> List[List[str]]:
        """scheme-host invocations for `uri` (optionally whose destination contains `under`,
        or made by a process of `node`: nodes of Ray releases up to 2.54 share the head's
        temp dir, so a path does not tell them apart)."""
        calls = []
        if self.host_log.exists():
            for line in self.host_log.read_text().splitlines():
                argv = line.split(" ")
                caller = int(argv.pop()[len(CALLER_TAG):]) if argv and argv[-1].startswith(CALLER_TAG) else None
                if uri not in argv or (under is not None and not any(under in a for a in argv)):
                    continue
                if node is not None and not (caller is not None and node.runs(caller)):
                    continue
                calls.append(argv)
        return calls

    def client(self):
        from ray.job_submission import JobSubmissionClient

        return JobSubmissionClient(self.cluster.dashboard_url)

    def wait(self, submission_id: str, timeout_s: float = JOB_TIMEOUT_S):
        from ray.job_submission import JobStatus

        self.submitted.append(submission_id)
        client = self.client()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            info = client.get_job_info(submission_id)
            if info.status in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.STOPPED):
                return info, client.get_job_logs(submission_id)
            time.sleep(0.5)
        client.stop_job(submission_id)
        raise AssertionError(f"job {submission_id} did not finish in {timeout_s} s; logs:\n{client.get_job_logs(submission_id)[-4000:]}")

    def rays_package_dir(self, uri: str) -> str:
        """The directory this Ray release unpacks a remote package into (hashed since 2.57,
        a readable name before), from Ray's own function in an interpreter with the shim."""
        return self.run_client_script(RAYS_PACKAGE_DIR, uri).strip().splitlines()[-1]

    def run_client_script(self, code: str, *args: str, timeout: float = 120, env: Optional[Dict[str, str]] = None) -> str:
        """Runs `code` in a fresh interpreter, as a user's own script would (so the literal-URI
        shim is loaded by the .pth like on any enabled machine), with `env` added to the
        stack's environment. Returns its stdout."""
        done = self.client_process([PY, "-c", code, *args], timeout=timeout, env=env)
        if done.returncode != 0:
            raise AssertionError(f"client script failed ({done.returncode}):\n{done.stdout}\n{done.stderr[-6000:]}")
        return done.stdout

    def client_process(self, argv: List[str], timeout: float = 120, env: Optional[Dict[str, str]] = None) -> subprocess.CompletedProcess:
        """Runs a command of this venv (a script, `ray job submit`) on the submitting side."""
        return subprocess.run(argv, env={**self.env, **(env or {})}, capture_output=True, text=True, timeout=timeout)

    def enable(self, *args: str) -> str:
        """The documented operator command, as the tests' machine runs it (`enable`,
        `enable --schemes obs,s3`); Ray processes started afterwards pick it up."""
        return run([PY, "-m", "ray_scheme_host", "enable", *args], env=self.env)

    def status(self) -> dict:
        return json.loads(run([PY, "-m", "ray_scheme_host", "status", "--json"], env=self.env))

    def add_node(self, name: str) -> harness.Node:
        """One more node on this machine, started with the stack's environment, once its
        runtime_env agent has recorded itself (the cluster check counts every alive node)."""
        node = self.cluster.start_worker(name, {name: 1})
        self.cluster.wait_for(node)
        wait_for_agent_records(self.cluster.gcs_address, [node])
        return node

    def stored_keys(self, bucket: str = BUCKET) -> List[str]:
        """The object keys the test server holds in `bucket` (its admin API)."""
        return harness.http_json(f"{self.store_endpoint}/__admin/objects/{bucket}")["keys"]


def run(cmd: List[str], env: Optional[Dict[str, str]] = None, timeout: float = 300) -> str:
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done.stdout


def find_wheel() -> Path:
    """The platform wheel under test: `$SCHEME_HOST_WHEEL`, else the one `cargo xtask dist`
    put in dist/python."""
    explicit = os.environ.get("SCHEME_HOST_WHEEL")
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise RuntimeError(f"SCHEME_HOST_WHEEL={explicit} is not a file")
        return path
    found = sorted((REPO / "dist" / "python").glob("ray_scheme_host-*-manylinux*.whl"))
    if not found:
        raise RuntimeError(f"no ray-scheme-host wheel in {REPO / 'dist' / 'python'}: run `cargo xtask dist` or set SCHEME_HOST_WHEEL")
    return found[-1]


def install_package() -> str:
    """Installs the platform wheel the way an operator would (`pip install`), so the cluster
    runs exactly this tree's code; returns the scheme-host it put on the venv's PATH."""
    run([PY, "-m", "pip", "install", "--no-deps", "--force-reinstall", "--disable-pip-version-check", str(find_wheel())])
    installed = harness.VENV_BIN / "scheme-host"
    if not installed.is_file():
        raise RuntimeError(f"the wheel did not install scheme-host into {harness.VENV_BIN}")
    return str(installed)


def counting_wrapper(root: Path, real: str, log: Path) -> Path:
    """scheme-host behind a one-line logger: the tests see every real invocation, which is
    how they prove that a second job reused the package instead of fetching it again. Each
    line ends with the caller's pid (a runtime_env agent), which tells the nodes apart."""
    path = root / "bin" / "scheme-host"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'#!/bin/sh\nprintf "%s {CALLER_TAG}%s\\n" "$*" "$PPID" >> "{log}"\nexec "{real}" "$@"\n')
    path.chmod(0o755)
    return path


def wait_for_agent_records(gcs_address: str, nodes: List[harness.Node]) -> None:
    """Blocks until every node's runtime_env agent has recorded both ways in. An agent starts
    seconds after its node joins (on a busy machine longer than the grace period the tests
    give a new node), and no test should meet a half-started node."""
    from ray._raylet import GcsClient
    from ray_scheme_host import node_records

    client = GcsClient(address=gcs_address)
    wanted = {node_records.key(n.node_id, path) for n in nodes for path in (node_records.PLUGIN, node_records.SHIM)}
    deadline = time.monotonic() + AGENT_RECORD_TIMEOUT_S
    found = set()
    while time.monotonic() < deadline:
        found = set(client.internal_kv_keys(b"node:", node_records.NAMESPACE, timeout=10))
        if wanted <= found:
            return
        time.sleep(0.5)
    raise RuntimeError(f"runtime_env agents did not record themselves within {AGENT_RECORD_TIMEOUT_S} s: missing {sorted(wanted - found)}")


def start_obs_server(binary: str, root: Path, access_key: str, secret_key: str, objects: Dict[str, Path]):
    out = root / "obs-server.out"
    cmd = [binary, "--listen", "127.0.0.1:0", "--cred", f"{access_key}:{secret_key}", "--bucket", BUCKET]
    for key, path in objects.items():
        cmd += ["--put", f"{BUCKET}/{key}={path}"]
    with open(out, "wb") as f:
        # obs-server stops when its stdin closes: it dies with this process, whatever happens.
        proc = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        text = out.read_text() if out.exists() else ""
        if "\n" in text:
            return proc, json.loads(text.splitlines()[0])
        if proc.poll() is not None:
            raise RuntimeError(f"obs-server exited ({proc.returncode}):\n{text}")
        time.sleep(0.1)
    stop_process_group(proc)
    raise RuntimeError("obs-server printed no endpoint line within 30 s")


def stop_process_group(proc: subprocess.Popen) -> None:
    if proc.stdin is not None:
        proc.stdin.close()
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        except ProcessLookupError:
            pass


@contextlib.contextmanager
def running_stack(
    scheme_host_bin: Optional[str],
    obs_server_bin: str,
    plugin_dir: Optional[str],
    objects_for,
    second_node: bool = True,
) -> Iterator[Stack]:
    """`objects_for(dir, token)` returns {object key: local file} to put in the bucket.
    `scheme_host_bin` None: the one the wheel installed, with its bundled plugins."""
    # Short path: Ray puts unix sockets under the temp dir (108-byte limit).
    root = Path(tempfile.mkdtemp(prefix="rsh-", dir="/tmp"))
    token = secrets.token_hex(6)
    access_key = "AK" + secrets.token_hex(8).upper()
    secret_key = "SK" + secrets.token_hex(20)
    host_log = root / "scheme-host-calls.log"
    obs_proc = None
    cluster = None
    was_enabled = None
    try:
        installed = install_package()
        wrapper = counting_wrapper(root, scheme_host_bin or installed, host_log)
        objects = objects_for(root / "packages", token)
        obs_proc, server = start_obs_server(obs_server_bin, root, access_key, secret_key, objects)

        env = dict(os.environ)
        env.update(
            {
                "PATH": f"{harness.VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
                "RAY_USAGE_STATS_ENABLED": "0",
                "RAY_RUNTIME_ENV_PLUGINS": PLUGINS_ENV_VALUE,
                # A node added by a test must be judged within the test's time.
                "RAY_SCHEME_HOST_NODE_GRACE_S": "3",
                "SCHEME_HOST_BIN": str(wrapper),
                # The OBS plugin may reach the host named here (its manifest grants env:OBS_ENDPOINT).
                "OBS_ENDPOINT": server["endpoint"],
                "OBS_ACCESS_KEY_ID": access_key,
                "OBS_SECRET_ACCESS_KEY": secret_key,
                "OBS_PATH_STYLE": "true",
                "OBS_METADATA_DISABLED": "true",
                # The same server and keys through its S3 side, for the s3 plugin (its
                # manifest grants env:AWS_ENDPOINT_URL_S3; an IP endpoint is path-style).
                "AWS_ENDPOINT_URL_S3": server["endpoint"],
                "AWS_ACCESS_KEY_ID": access_key,
                "AWS_SECRET_ACCESS_KEY": secret_key,
                "AWS_REGION": "us-east-1",
                "AWS_EC2_METADATA_DISABLED": "true",
            }
        )
        if plugin_dir:
            env["SCHEME_HOST_PLUGIN_DIR"] = plugin_dir
        for inherited in ("RAY_ADDRESS", "RAY_SCHEME_HOST_SHIM", "RAY_RUNTIME_ENV_SLEEP_FOR_TESTING_S"):
            env.pop(inherited, None)

        listing = json.loads(run([str(wrapper), "schemes", "--json"], env=env))
        schemes = {s for p in listing.get("plugins", []) for s in p.get("schemes", [])}
        if "obs" not in schemes:
            raise RuntimeError(f"scheme-host serves no obs scheme: {listing}")

        status = json.loads(run([PY, "-m", "ray_scheme_host", "status", "--json"], env=env))
        was_enabled = status["literal_uris"]["enabled"]
        # The documented operator command for the literal working_dir/py_modules.
        run([PY, "-m", "ray_scheme_host", "enable"], env=env)

        cluster = harness.Cluster(root=root / "ray", env=env)
        head = cluster.start_head({"head": 1})
        cluster.wait_for(head)
        node2 = None
        if second_node:
            node2 = cluster.start_worker("node2", {"node2": 1})
            cluster.wait_for(node2)
        wait_for_agent_records(cluster.gcs_address, [n for n in (head, node2) if n is not None])
        yield Stack(
            root=root,
            cluster=cluster,
            env=env,
            token=token,
            secret_key=secret_key,
            host_log=host_log,
            uris={key: f"obs://{BUCKET}/{key}" for key in objects},
            head=head,
            node2=node2,
            store_endpoint=server["endpoint"],
        )
    finally:
        if cluster is not None:
            cluster.stop()
        if obs_proc is not None:
            stop_process_group(obs_proc)
        if was_enabled is False:
            subprocess.run([PY, "-m", "ray_scheme_host", "disable"], capture_output=True)
        if os.environ.get("RAY_SCHEME_HOST_KEEP_TEST_DIR"):
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
