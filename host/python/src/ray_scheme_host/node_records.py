"""Which Ray nodes run the integration, so a node without it cannot silently run a job.

A node's Ray does not know our fields or schemes without our code: for the plugin fields it
only logs "not recognized ... will be ignored" and starts the job's workers without their
code. Nothing of ours runs on such a node, so the check runs on the nodes that have it:
each runtime_env agent with the integration records itself in the GCS key-value store when
it starts, and before a package is used every alive node must have a record. A node that
joined moments ago gets `grace_s()` to start its agent and record itself.
"""

import asyncio
import json
import os
import socket
import time
from typing import Dict, Iterable, List, Optional, Set, Tuple

NAMESPACE = b"ray_scheme_host"
PLUGIN = "plugin"  # the scheme_working_dir / scheme_py_modules RuntimeEnvPlugins
SHIM = "shim"  # the literal working_dir / py_modules patch
GRACE_ENV = "RAY_SCHEME_HOST_NODE_GRACE_S"
DEFAULT_GRACE_S = 30.0
GCS_TIMEOUT_S = 10
_POLL_S = 0.5

PLUGINS_ENV_VALUE = (
    '[{"class":"ray_scheme_host.runtime_env_plugin.SchemeWorkingDirPlugin"},'
    '{"class":"ray_scheme_host.runtime_env_plugin.SchemePyModulesPlugin"}]'
)

_SETUP = {
    PLUGIN: (
        "pip install ray-scheme-host, make scheme-host reachable (SCHEME_HOST_BIN or PATH), and "
        f"start Ray with RAY_RUNTIME_ENV_PLUGINS='{PLUGINS_ENV_VALUE}' in its environment"
    ),
    SHIM: (
        "pip install ray-scheme-host, run `python -m ray_scheme_host enable` with the Python "
        "that runs Ray, and make scheme-host reachable (SCHEME_HOST_BIN or PATH)"
    ),
}
_WHAT = {
    PLUGIN: "the scheme_working_dir/scheme_py_modules runtime_env fields",
    SHIM: "scheme-host URIs in working_dir/py_modules",
}


class IntegrationMissing(RuntimeError):
    def __init__(self, path: str, missing: List[Tuple[str, str]], alive: int):
        self.path = path
        self.missing = missing
        self.alive = alive
        listed = ", ".join(f"{node_id} ({address})" for node_id, address in missing)
        super().__init__(
            f"ray-scheme-host is not active on {len(missing)} of {alive} alive Ray node(s): "
            f"{listed}. Ray on such a node ignores {_WHAT[path]} and would run the job there "
            f"without its code, so it is refused. On each listed node: {_SETUP[path]}; then "
            f"restart Ray on that node (or remove the node from the cluster)."
        )

    def __reduce__(self):
        return (IntegrationMissing, (self.path, self.missing, self.alive))


def grace_s() -> float:
    raw = os.environ.get(GRACE_ENV)
    if raw is None:
        return DEFAULT_GRACE_S
    try:
        return max(0.0, float(raw))
    except ValueError:
        return DEFAULT_GRACE_S


def key(node_id: str, path: str) -> bytes:
    return f"node:{node_id}:{path}".encode()


def registered_ids(keys: Iterable[bytes], path: str) -> Set[str]:
    found = set()
    for raw in keys:
        parts = raw.decode("utf-8", "replace").split(":")
        if len(parts) == 3 and parts[0] == "node" and parts[2] == path:
            found.add(parts[1])
    return found


def split_missing(
    alive: Dict[str, Tuple[str, int]], registered: Set[str], now_ms: int, grace_ms: int
) -> Tuple[List[Tuple[str, str]], List[Tuple[str, str]]]:
    """Alive nodes without a record: (older than the grace period, still within it)."""
    old, young = [], []
    for node_id, (address, start_ms) in sorted(alive.items()):
        if node_id in registered:
            continue
        (young if start_ms and now_ms - start_ms < grace_ms else old).append((node_id, address))
    return old, young


def node_infos(answer) -> dict:
    """GcsClient.async_get_all_node_info's nodes: the answer itself up to Ray 2.54, the
    first item of a (nodes, total) pair since 2.55."""
    if isinstance(answer, tuple):
        return answer[0]
    return answer


def _alive(infos) -> Dict[str, Tuple[str, int]]:
    from ray.core.generated import gcs_pb2

    return {
        node_id.hex(): (info.node_manager_address, int(info.start_time_ms))
        for node_id, info in infos.items()
        if info.state == gcs_pb2.GcsNodeInfo.ALIVE
    }


def register(gcs_client, node_id: str, path: str, detail: Optional[dict] = None) -> None:
    from ray_scheme_host import __version__

    record = {"version": __version__, "pid": os.getpid(), "host": socket.gethostname(), "time": time.time()}
    record.update(detail or {})
    gcs_client.internal_kv_put(key(node_id, path), json.dumps(record).encode(), True, NAMESPACE, timeout=GCS_TIMEOUT_S)


def check_now(gcs_client, path: str) -> None:
    """Synchronous check for code that cannot await; nodes within the grace period pass."""
    alive = _alive(gcs_client.get_all_node_info(timeout=GCS_TIMEOUT_S))
    keys = gcs_client.internal_kv_keys(b"node:", NAMESPACE, timeout=GCS_TIMEOUT_S)
    old, _ = split_missing(alive, registered_ids(keys, path), int(time.time() * 1000), int(grace_s() * 1000))
    if old:
        raise IntegrationMissing(path, old, len(alive))


async def check(gcs_client, path: str) -> None:
    """Fails if an alive node lacks the integration, waiting for nodes that just joined."""
    grace_ms = int(grace_s() * 1000)
    while True:
        alive = _alive(node_infos(await gcs_client.async_get_all_node_info(timeout=GCS_TIMEOUT_S)))
        keys = await gcs_client.async_internal_kv_keys(b"node:", NAMESPACE, timeout=GCS_TIMEOUT_S)
        old, young = split_missing(alive, registered_ids(keys, path), int(time.time() * 1000), grace_ms)
        if old:
            raise IntegrationMissing(path, old, len(alive))
        if not young:
            return
        await asyncio.sleep(_POLL_S)
