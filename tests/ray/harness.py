"""A private Ray cluster on loopback for the tests and the benchmark.

Each node is one `ray start --block` process in its own session (so its process group holds
every Ray process of that node), with its own --temp-dir, its own free ports, and the
environment given to it. Stopping a node touches only that group and processes whose
command line names that node's temp dir: never `ray stop`, which kills every Ray process
on the machine by name.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

VENV_BIN = Path(sys.executable).parent
RAY = str(VENV_BIN / "ray")
# Each node gets this many worker ports; they must not collide with another node's.
WORKER_PORTS = 60


# Ports handed out by this process: a port chosen for one node but not yet bound (worker
# ports are bound only when workers start) must not be chosen again for another.
_reserved = set()


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    for _ in range(1000):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _reserved:
            _reserved.add(port)
            return port
    raise RuntimeError("no free port")


def free_port_block(count: int) -> int:
    """First port of `count` consecutive ports that are free right now and not reserved."""
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            start = s.getsockname()[1]
        block = range(start, start + count)
        if start + count < 65000 and not _reserved.intersection(block) and all(_bindable(p) for p in block):
            _reserved.update(block)
            return start
    raise RuntimeError(f"no block of {count} free ports")


def http_json(url: str, data: Optional[dict] = None, timeout: float = 10) -> dict:
    body = None if data is None else json.dumps(data).encode()
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return json.loads(resp.read().decode())


@dataclass
class Node:
    name: str
    temp_dir: Path
    proc: subprocess.Popen
    log: Path
    resources: Dict[str, float]
    node_id: Optional[str] = None

    def alive(self) -> bool:
        return self.proc.poll() is None

    def pids(self) -> List[int]:
        """Every live process that is part of this node: its process group, plus anything
        whose command line names its temp dir (a process that left the group)."""
        found = set()
        marker = str(self.temp_dir)
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            pid = int(entry)
            try:
                if os.getpgid(pid) == self.proc.pid:
                    found.add(pid)
                    continue
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    if marker.encode() in f.read():
                        found.add(pid)
            except (OSError, ProcessLookupError):
                continue
        found.discard(os.getpid())
        return sorted(found)

    def runs(self, pid: int) -> bool:
        """Whether `pid` is this node's `ray start` or one of its descendants (raylet,
        agents, workers), whatever its command line or process group."""
        while pid > 1:
            if pid == self.proc.pid:
                return True
            try:
                with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as f:
                    stat = f.read()
            except OSError:
                return False
            # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
            pid = int(stat.rsplit(")", 1)[1].split()[1])
        return False

    def stop(self, grace_s: float = 15) -> None:
        if self.proc.poll() is None:
            # `ray start --block` shuts its node down cleanly on SIGTERM.
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                pass
        for pid in self.pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.proc.poll() is None:
            self.proc.wait(timeout=10)


@dataclass
class Cluster:
    root: Path
    env: Dict[str, str]
    gcs_address: str = ""
    dashboard_url: str = ""
    nodes: List[Node] = field(default_factory=list)

    def _start(self, name: str, args: List[str], env: Dict[str, str], resources: Dict[str, float]) -> Node:
        temp_dir = self.root / name
        temp_dir.mkdir(parents=True, exist_ok=True)
        first_worker = free_port_block(WORKER_PORTS)
        cmd = [
            RAY,
            "start",
            "--block",
            "--node-ip-address=127.0.0.1",
            f"--temp-dir={temp_dir}",
            "--num-cpus=2",
            "--object-store-memory=100000000",
            "--disable-usage-stats",
            f"--resources={json.dumps(resources)}",
            f"--node-manager-port={free_port()}",
            f"--object-manager-port={free_port()}",
            f"--runtime-env-agent-port={free_port()}",
            f"--dashboard-agent-listen-port={free_port()}",
            f"--dashboard-agent-grpc-port={free_port()}",
            f"--metrics-export-port={free_port()}",
            f"--min-worker-port={first_worker}",
            f"--max-worker-port={first_worker + WORKER_PORTS - 1}",
            *args,
        ]
        log = self.root / f"{name}.ray-start.log"
        with open(log, "ab") as out:
            proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        node = Node(name=name, temp_dir=temp_dir, proc=proc, log=log, resources=resources)
        self.nodes.append(node)
        return node

    def start_head(self, resources: Dict[str, float]) -> Node:
        gcs_port = free_port()
        dash_port = free_port()
        node = self._start(
            "head",
            [
                "--head",
                f"--port={gcs_port}",
                "--dashboard-host=127.0.0.1",
                f"--dashboard-port={dash_port}",
                f"--ray-client-server-port={free_port()}",
            ],
            self.env,
            resources,
        )
        self.gcs_address = f"127.0.0.1:{gcs_port}"
        self.dashboard_url = f"http://127.0.0.1:{dash_port}"
        return node

    def start_worker(self, name: str, resources: Dict[str, float], env: Optional[Dict[str, str]] = None) -> Node:
        return self._start(name, [f"--address={self.gcs_address}"], env or self.env, resources)

    def temp_dir_of(self, node: Node) -> Path:
        """Where `node`'s Ray keeps its session: its own --temp-dir, or the head's on the
        releases that ignore a worker's --temp-dir (up to 2.54: "temp_dir is only
        configurable from a head node"), told apart by where the session is."""
        if any(node.temp_dir.glob("session_*")):
            return node.temp_dir
        return self.nodes[0].temp_dir

    def alive_nodes(self) -> List[dict]:
        reply = http_json(f"{self.dashboard_url}/api/v0/nodes?limit=100&detail=1")
        return [n for n in reply["data"]["result"]["result"] if n.get("state") == "ALIVE"]

    def wait_for(self, node: Node, timeout_s: float = 120) -> str:
        """Blocks until `node` is alive in the GCS (found by its custom resource)."""
        (marker,) = [r for r in node.resources]
        deadline = time.monotonic() + timeout_s
        last_error = None
        while time.monotonic() < deadline:
            if not node.alive():
                raise RuntimeError(f"ray start for {node.name} exited:\n{node.log.read_text()[-4000:]}")
            try:
                for n in self.alive_nodes():
                    if marker in (n.get("resources_total") or {}):
                        node.node_id = n["node_id"]
                        return node.node_id
            except OSError as e:
                last_error = e
            time.sleep(1)
        raise RuntimeError(f"{node.name} did not join within {timeout_s} s ({last_error}):\n{node.log.read_text()[-4000:]}")

    def stop(self) -> None:
        # Workers first, so the head does not spend time on their disappearance.
        for node in reversed(self.nodes):
            node.stop()
