"""Assertions shared by the plugin-field and literal-URI tests."""

import hashlib
import json
import os
import shlex
from typing import List


def entrypoint(py_modules_field: str, extra_uris: List[str], pin: str = "node2") -> str:
    return f"python main.py {py_modules_field} {shlex.quote(json.dumps(extra_uris))} {pin}"


def package_dir(uri: str) -> str:
    """The plugin fields' directory name for a package, on every Ray release (Ray's own rule
    since 2.57; the literal URIs follow the installed Ray's rule: `Stack.rays_package_dir`)."""
    return f"obs_{hashlib.sha1(uri.encode()).hexdigest()}"


def assert_sees_everything(stack, result: dict, working_dir_kind: str, app_dir: str) -> None:
    """The driver (head node), a task and an actor (second node) all run inside the unpacked
    working directory, named `app_dir`, and import every module, each node from its own copy."""
    token = stack.token
    for where in ("driver", "task", "actor"):
        snap = result[where]
        assert snap["data"] == f"data-{token}", (where, snap)
        assert snap["helper"] == f"helper-{token}", (where, snap)
        assert snap["mymod"] == f"mymod-{token}", (where, snap)
        assert snap["wheelmod"] == f"wheelmod-{token}", (where, snap)
    assert result["actor"]["extramod"] == f"extramod-{token}"
    # The job's driver runs on the head, but attaches to a raylet found by IP address; both
    # nodes here have one, and releases whose workers share the head's temp dir (up to
    # 2.54) may attach it to either. The task and the actor are pinned to node2.
    drivers = (stack.head, stack.node2) if stack.nodes_share_temp_dir else (stack.head,)
    (driver,) = [n for n in drivers if n.node_id == result["driver"]["node"]] or [None]
    assert driver is not None, (result["driver"]["node"], [n.node_id for n in drivers])
    assert result["task"]["node"] == stack.node2.node_id
    assert result["actor"]["node"] == stack.node2.node_id
    suffix = os.path.join("runtime_resources", working_dir_kind, app_dir)
    for where, node in (("driver", driver), ("task", stack.node2), ("actor", stack.node2)):
        cwd = os.path.realpath(result[where]["cwd"])
        temp_dir = stack.cluster.temp_dir_of(node)
        assert cwd.startswith(os.path.realpath(temp_dir) + os.sep), (where, cwd, temp_dir)
        assert cwd.endswith(suffix), (where, cwd, suffix)


def assert_store_error(info, uri: str, code: str = "NoSuchKey") -> None:
    message = info.message or ""
    assert info.status == "FAILED", (info.status, message)
    assert uri in message, message
    assert code in message, message
    assert "request id " in message, message
    request_id = message.split("request id ", 1)[1].split(",", 1)[0].split("]", 1)[0].strip()
    assert request_id, message
