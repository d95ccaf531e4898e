"""A node that lacks the integration is detected: jobs are refused with what to install,
instead of running there without their code. Runs last: it adds a third node."""

import time
import uuid

import pytest
from checks import entrypoint

NEEDLE = "ray-scheme-host is not active on"


@pytest.fixture(scope="module")
def bare_node(stack):
    env = dict(stack.env)
    # Same machine and interpreter, but set up as if nothing had been installed: no plugin
    # classes for the agent and the .pth hook switched off for this node's processes.
    env.pop("RAY_RUNTIME_ENV_PLUGINS")
    env["RAY_SCHEME_HOST_SHIM"] = "off"
    node = stack.cluster.start_worker("node3", {"node3": 1}, env=env)
    stack.cluster.wait_for(node)
    # Older than the grace period the cluster was started with (3 s).
    time.sleep(4)
    yield node
    node.stop()


def _assert_refused(info, node):
    message = info.message or ""
    assert info.status == "FAILED", (info.status, message)
    assert NEEDLE in message, message
    assert node.node_id in message, message
    assert "pip install ray-scheme-host" in message, message


def test_plugin_fields_refused_when_a_node_lacks_the_plugin(stack, bare_node):
    for app_key in ("jobs/app-plugin-fresh.zip", "jobs/app.zip"):  # a new package, and one already cached
        sid = stack.client().submit_job(
            entrypoint=entrypoint("scheme_py_modules", []),
            runtime_env={"scheme_working_dir": stack.uri(app_key)},
            submission_id=f"bare-plugin-{uuid.uuid4().hex[:8]}",
        )
        info, _ = stack.wait(sid)
        _assert_refused(info, bare_node)
        assert "RAY_RUNTIME_ENV_PLUGINS" in info.message


def test_literal_uris_refused_when_a_node_lacks_the_shim(stack, bare_node):
    from test_literal_uris import SUBMIT_WITH_PYTHON_CLIENT
    import json

    sid = f"bare-literal-{uuid.uuid4().hex[:8]}"
    stack.run_client_script(
        SUBMIT_WITH_PYTHON_CLIENT,
        stack.cluster.dashboard_url,
        entrypoint("py_modules", []),
        json.dumps({"working_dir": stack.uri("jobs/app-literal-fresh.zip")}),
        sid,
    )
    info, _ = stack.wait(sid)
    _assert_refused(info, bare_node)
    assert "python -m ray_scheme_host enable" in info.message
