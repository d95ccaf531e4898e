"""One real Ray cluster for the whole session: a loopback head node and a second node on the
same machine, both set up exactly as the README tells an operator (see stack.py), and the
OBS-compatible test server holding the job packages.

Needs (nothing is skipped: a missing piece stops the run with a message):
  SCHEME_HOST_WHEEL       the ray-scheme-host platform wheel (default: the one in <repo>/dist/python,
                          from `cargo xtask dist`); it carries scheme-host and its plugins,
                          and the nodes use those unless the two variables below say otherwise
                          (test_publish_uploads needs a scheme-host with `upload` and
                          `pack-and-upload`)
  OBS_SERVER_BIN          the OBS test server      (default: <repo>/target/release/obs-server)
  SCHEME_HOST_BIN         optional: another scheme-host binary
  SCHEME_HOST_PLUGIN_DIR  optional: another plugin directory
"""

import json
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import packages  # noqa: E402
import stack as stack_mod  # noqa: E402

# The releases this suite is meant for; `cargo xtask test` runs it on each, in its own venv.
RAY_VERSIONS_FILE = stack_mod.REPO / "requirements" / "ray-versions.txt"
# Modules run in this order: test_s3_routing adds (and stops) a node with the s3 opt-in,
# test_no_secrets then scans every node's files, the last one adds a node without the
# integration.
MODULE_ORDER = [
    "test_plugin_fields",
    "test_literal_uris",
    "test_publish_uploads",
    "test_s3_routing",
    "test_no_secrets",
    "test_node_without_integration",
]


def binary(env_name: str, default: Path) -> str:
    value = os.environ.get(env_name)
    path = Path(value) if value else default
    if not (path.is_file() and os.access(path, os.X_OK)):
        where = f"{env_name}={value}" if value else f"{env_name} is unset and {default} does not exist"
        raise pytest.UsageError(
            f"the real-Ray tests need the {default.name} binary: {where}. Build it (cargo build "
            f"--release) or point {env_name} at it."
        )
    return str(path)


def pytest_configure(config):
    release = stack_mod.REPO / "target" / "release"
    config.scheme_host_bin = binary("SCHEME_HOST_BIN", release / "scheme-host") if os.environ.get("SCHEME_HOST_BIN") else None
    config.wheel = stack_mod.find_wheel()
    config.obs_server_bin = binary("OBS_SERVER_BIN", release / "obs-server")
    plugin_dir = os.environ.get("SCHEME_HOST_PLUGIN_DIR")
    if plugin_dir and not Path(plugin_dir).is_dir():
        raise pytest.UsageError(f"SCHEME_HOST_PLUGIN_DIR={plugin_dir} is not a directory")
    config.plugin_dir = plugin_dir
    try:
        import ray
    except ImportError:
        raise pytest.UsageError(
            f"Ray is not installed in {sys.executable}: pip install 'ray[default]==<a release of {RAY_VERSIONS_FILE}>' "
            "-r tests/ray/requirements.txt (cargo xtask test makes one venv per release)"
        )
    listed = ray_versions()
    if ray.__version__ not in listed:
        raise pytest.UsageError(
            f"these tests run on the Ray releases of {RAY_VERSIONS_FILE} ({', '.join(listed)}); "
            f"{sys.executable} has Ray {ray.__version__}"
        )


def ray_versions():
    lines = (line.split("#", 1)[0].strip() for line in RAY_VERSIONS_FILE.read_text().splitlines())
    return [line for line in lines if line]


def pytest_report_header(config):
    import ray

    return f"Ray {ray.__version__} in {sys.executable}"


def pytest_collection_modifyitems(session, config, items):
    def rank(item):
        name = item.module.__name__.rsplit(".", 1)[-1]
        return MODULE_ORDER.index(name) if name in MODULE_ORDER else len(MODULE_ORDER)

    items.sort(key=rank)


def result_of(logs: str) -> dict:
    lines = [line for line in logs.splitlines() if line.startswith("RESULT ")]
    assert lines, f"the job printed no RESULT line; logs:\n{logs[-4000:]}"
    return json.loads(lines[-1][len("RESULT "):])


@pytest.fixture(scope="session")
def stack(pytestconfig):
    with stack_mod.running_stack(
        pytestconfig.scheme_host_bin,
        pytestconfig.obs_server_bin,
        pytestconfig.plugin_dir,
        packages.build,
    ) as running:
        yield running
