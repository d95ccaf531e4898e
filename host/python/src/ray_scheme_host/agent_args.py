"""What Ray's runtime_env agent was started with, read from its command line.

Ray constructs third-party RuntimeEnvPlugins with no arguments; the agent's own flags
(`--runtime-env-dir=`, `--gcs-address=`, ...) are the only way to learn where packages go
and which node and cluster this is. The node id is a flag since Ray 2.54; before that the
agent has no such flag, and the id is in the environment the raylet starts it with
(`RAY_NODE_ID`).
"""

import os
import sys
from dataclasses import dataclass
from typing import Dict, List, Optional

_FLAGS = ("runtime-env-dir", "gcs-address", "cluster-id-hex", "node-id")
# Where the node id comes from when the agent has no --node-id flag.
NODE_ID_ENV = "RAY_NODE_ID"


@dataclass(frozen=True)
class AgentArgs:
    runtime_env_dir: str
    gcs_address: str
    cluster_id_hex: str
    node_id: str


def flag_value(argv: List[str], name: str) -> Optional[str]:
    """`--name=value` or `--name value`; the last occurrence wins, like argparse."""
    found = None
    for i, arg in enumerate(argv):
        if arg.startswith(f"--{name}="):
            found = arg.split("=", 1)[1]
        elif arg == f"--{name}" and i + 1 < len(argv):
            found = argv[i + 1]
    return found


def parse(argv: Optional[List[str]] = None, environ: Optional[Dict[str, str]] = None) -> AgentArgs:
    argv = sys.argv if argv is None else argv
    environ = os.environ if environ is None else environ
    values = {name: flag_value(argv, name) for name in _FLAGS}
    if not values["node-id"]:
        values["node-id"] = environ.get(NODE_ID_ENV) or None
    absent = [f"--{name}" if name != "node-id" else f"--node-id (or {NODE_ID_ENV})" for name, value in values.items() if not value]
    if absent:
        raise RuntimeError(
            "ray_scheme_host's runtime_env plugins must be loaded by Ray's runtime_env agent "
            "(through RAY_RUNTIME_ENV_PLUGINS set before `ray start`); this process has no "
            + ", ".join(absent)
            + " argument"
        )
    return AgentArgs(
        runtime_env_dir=values["runtime-env-dir"],
        gcs_address=values["gcs-address"],
        cluster_id_hex=values["cluster-id-hex"],
        node_id=values["node-id"],
    )
