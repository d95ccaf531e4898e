import asyncio
import os
import sys

import pytest
from conftest import host_calls
from ray._private.runtime_env.context import RuntimeEnvContext
from test_node_records import FakeGcs

from ray_scheme_host import node_records, runtime_env_plugin

APP = "obs://b/app.zip"
WHEEL = "obs://b/demo-1.0-py3-none-any.whl"


@pytest.fixture
def agent(monkeypatch, tmp_path, host_env):
    """The plugins as Ray's runtime_env agent constructs them: no arguments, its argv."""
    gcs = FakeGcs()
    gcs.add_node("n1", 100)
    monkeypatch.setattr(runtime_env_plugin, "GcsClient", lambda address, cluster_id: gcs)
    monkeypatch.setattr(sys, "argv", ["main.py", f"--runtime-env-dir={tmp_path / 'rt'}", "--gcs-address=a:1", "--cluster-id-hex=c", "--node-id=n1"])
    monkeypatch.delenv("PYTHONPATH", raising=False)
    return runtime_env_plugin.SchemeWorkingDirPlugin(), runtime_env_plugin.SchemePyModulesPlugin(), gcs


def test_validate():
    runtime_env_plugin.SchemeWorkingDirPlugin.validate({"scheme_working_dir": APP})
    runtime_env_plugin.SchemePyModulesPlugin.validate({"scheme_py_modules": [APP, WHEEL]})
    with pytest.raises(ValueError, match="both working_dir and scheme_working_dir"):
        runtime_env_plugin.SchemeWorkingDirPlugin.validate({"scheme_working_dir": APP, "working_dir": "s3://b/x.zip"})
    with pytest.raises(ValueError, match="must end in one of"):
        runtime_env_plugin.SchemeWorkingDirPlugin.validate({"scheme_working_dir": WHEEL})
    with pytest.raises(ValueError, match="must be a list"):
        runtime_env_plugin.SchemePyModulesPlugin.validate({"scheme_py_modules": APP})


def test_construction_records_the_node(agent):
    _, _, gcs = agent
    assert node_records.registered_ids(gcs.internal_kv_keys(b"node:", node_records.NAMESPACE), node_records.PLUGIN) == {"n1"}


def test_working_dir_lifecycle(agent, host_env):
    wd, _, _ = agent
    env = {"scheme_working_dir": APP}
    assert wd.get_uris(env) == [APP] and wd.get_uris({}) == []
    size = asyncio.run(wd.create(APP, env, RuntimeEnvContext(), runtime_env_plugin.default_logger))
    assert size > 0
    ctx = RuntimeEnvContext(env_vars={"PYTHONPATH": "/user"})
    wd.modify_context([APP], env, ctx, runtime_env_plugin.default_logger)
    local = wd._local_dir(APP)
    assert ctx.command_prefix == ["cd", local, "&&"]
    assert ctx.env_vars["PYTHONPATH"] == f"{local}:/user"
    assert asyncio.run(wd.create(APP, env, RuntimeEnvContext(), runtime_env_plugin.default_logger)) == size
    assert [c[0] for c in host_calls(host_env)] == ["download-and-unpack"] * 2  # the host reused it
    assert wd.delete_uri(APP, runtime_env_plugin.default_logger) == size
    with pytest.raises(ValueError, match="missing"):
        wd.modify_context([APP], env, RuntimeEnvContext(), runtime_env_plugin.default_logger)


def test_py_modules_archives_and_wheels(agent, host_env):
    _, mods, _ = agent
    env = {"scheme_py_modules": [APP, WHEEL]}
    for uri in mods.get_uris(env):
        assert asyncio.run(mods.create(uri, env, RuntimeEnvContext(), runtime_env_plugin.default_logger)) > 0
    ctx = RuntimeEnvContext()
    mods.modify_context([APP, WHEEL], env, ctx, runtime_env_plugin.default_logger)
    paths = ctx.env_vars["PYTHONPATH"].split(":")
    assert paths == [mods._local_dir(APP), mods._local_dir(WHEEL)]
    assert os.path.isfile(os.path.join(mods._local_dir(WHEEL), "demo", "__init__.py"))
    # A second create reuses the installed wheel without asking the host again.
    calls = len(host_calls(host_env))
    asyncio.run(mods.create(WHEEL, env, RuntimeEnvContext(), runtime_env_plugin.default_logger))
    assert len(host_calls(host_env)) == calls


def test_a_wheel_installed_meanwhile_by_another_agent_is_used(agent, host_env, monkeypatch):
    # Two agents share one resources directory when several nodes of a Ray up to 2.54 run
    # on one machine: the other one may publish the same wheel while this one installs it.
    _, mods, _ = agent
    real_install = mods._pip_install

    async def other_agent_finishes_first(wheel, target, logger):
        await real_install(wheel, target, logger)
        os.makedirs(os.path.join(mods._local_dir(WHEEL), "demo"))
        with open(os.path.join(mods._local_dir(WHEEL), "demo", "__init__.py"), "w") as f:
            f.write("VALUE = 'other'\n")

    monkeypatch.setattr(mods, "_pip_install", other_agent_finishes_first)
    env = {"scheme_py_modules": [WHEEL]}
    assert asyncio.run(mods.create(WHEEL, env, RuntimeEnvContext(), runtime_env_plugin.default_logger)) > 0
    with open(os.path.join(mods._local_dir(WHEEL), "demo", "__init__.py")) as f:
        assert f.read() == "VALUE = 'other'\n"
    assert [p for p in os.listdir(mods._dir) if "staging" in p] == []


def test_a_node_without_the_plugin_fails_setup(agent):
    wd, _, gcs = agent
    gcs.add_node("bare", 100)
    with pytest.raises(node_records.IntegrationMissing, match="bare"):
        asyncio.run(wd.create(APP, {"scheme_working_dir": APP}, RuntimeEnvContext(), runtime_env_plugin.default_logger))
