import asyncio
import enum
import sys
import types
from pathlib import Path

import pytest
from conftest import host_calls
from test_node_records import FakeGcs

from ray_scheme_host import hostcli, node_records, schemes, shim


@pytest.fixture
def patched_ray(host_env):
    """Ray's modules with the shim applied, as the .pth hook does at import time."""
    from ray._common import runtime_env_uri
    from ray._private.runtime_env import packaging

    schemes.forget()
    shim.patch_uri_module(runtime_env_uri)
    shim.patch_packaging_module(packaging)
    return runtime_env_uri, packaging


def _fake_uri_module():
    class Protocol(enum.Enum):
        GCS = "gcs"
        S3 = "s3"

        @classmethod
        def remote_protocols(cls):
            return [cls[p.upper()] for p in mod._REMOTE_PROTOCOLS]

    mod = types.SimpleNamespace(Protocol=Protocol, _REMOTE_PROTOCOLS=("s3",))
    return mod


def test_plugin_schemes_join_the_protocol_enum(monkeypatch):
    monkeypatch.setattr(shim, "_version_problem", lambda: None)
    monkeypatch.setattr(schemes, "is_plugin_scheme", lambda s: s in {"obs", "ftp-x"})
    mod = _fake_uri_module()
    shim.patch_uri_module(mod)
    member = mod.Protocol("obs")
    assert member is mod.Protocol.OBS is mod.Protocol["OBS"]
    assert member in mod.Protocol.remote_protocols()
    assert [m.value for m in mod.Protocol] == ["gcs", "s3", "obs"]
    assert mod.Protocol("ftp-x").name == "FTP-X"
    with pytest.raises(ValueError):
        mod.Protocol("nope")
    with pytest.raises(ValueError):
        mod.Protocol("OBS")  # urlparse lower-cases schemes; Ray never asks for this


def test_other_ray_versions_are_refused_loudly(monkeypatch):
    monkeypatch.setattr(shim, "_version_problem", lambda: "tested only with Ray 2.60.0")
    monkeypatch.setattr(schemes, "is_plugin_scheme", lambda s: s == "obs")
    mod = _fake_uri_module()
    shim.patch_uri_module(mod)
    with pytest.raises(ValueError, match="tested only with Ray 2.60.0"):
        mod.Protocol("obs")
    with pytest.raises(ValueError, match="is not a valid"):
        mod.Protocol("other")  # not a plugin scheme: Ray's own error
    assert [m.value for m in mod.Protocol] == ["gcs", "s3"]


def test_ray_validation_accepts_plugin_schemes(patched_ray):
    from ray.runtime_env import RuntimeEnv

    uri_mod, _ = patched_ray
    protocol, name = uri_mod.parse_uri("obs://b/app.zip")
    assert protocol.value == "obs" and name.startswith("obs_") and name.endswith(".zip")
    env = RuntimeEnv(working_dir="obs://b/app.zip", py_modules=["obs://b/demo-1.0-py3-none-any.whl"])
    assert env.working_dir() == "obs://b/app.zip"
    with pytest.raises(ValueError, match="Invalid protocol"):
        uri_mod.parse_uri("nosuchscheme://b/app.zip")


def test_download_and_unpack_package_uses_the_host_with_rays_names_and_reuse(patched_ray, host_env, tmp_path):
    _, packaging = patched_ray
    base = tmp_path / "working_dir_files"
    base.mkdir()
    run = lambda **kw: asyncio.run(packaging.download_and_unpack_package("obs://b/app.zip", str(base), **kw))
    local = run(overwrite=False)
    assert Path(local) == packaging.get_local_dir_from_uri("obs://b/app.zip", str(base))
    assert (Path(local) / "main.py").is_file()  # top-level app/ stripped like Ray
    assert run(overwrite=False) == local  # Ray's reuse rule: no second fetch
    assert len(host_calls(host_env)) == 1
    assert run(overwrite=True) == local  # working_dir asks to overwrite
    calls = host_calls(host_env)
    assert len(calls) == 2 and "--overwrite" in calls[1]
    assert not [p for p in base.iterdir() if "staging" in p.name]


def test_wheels_come_back_as_files(patched_ray, host_env, tmp_path):
    _, packaging = patched_ray
    got = asyncio.run(packaging.download_and_unpack_package("obs://b/demo-1.0-py3-none-any.whl", str(tmp_path)))
    assert Path(got) == tmp_path / "demo-1.0-py3-none-any.whl" and Path(got).is_file()


def test_missing_object_raises_with_store_code(patched_ray, host_env, tmp_path):
    _, packaging = patched_ray
    base = tmp_path / "base"
    with pytest.raises(hostcli.SchemeHostError, match=r"NoSuchKey, request id \w+"):
        asyncio.run(packaging.download_and_unpack_package("obs://b/none.zip", str(base)))
    # Nothing that looks like a package is left, only lock files.
    assert [p.name for p in base.iterdir() if not p.name.endswith(".lock")] == []


def test_rays_own_schemes_stay_rays(patched_ray, host_env, tmp_path):
    import zipfile

    _, packaging = patched_ray
    src = tmp_path / "local.zip"
    with zipfile.ZipFile(src, "w") as z:
        z.writestr("top/x.txt", "x")
    out = asyncio.run(packaging.download_and_unpack_package(f"file://{src}", str(tmp_path / "base")))
    assert (Path(out) / "x.txt").read_text() == "x"
    assert host_calls(host_env) == []


def test_the_cluster_check_runs_before_fetching(patched_ray, host_env, tmp_path):
    _, packaging = patched_ray
    gcs = FakeGcs()
    gcs.add_node("lonely", 100)
    with pytest.raises(node_records.IntegrationMissing):
        asyncio.run(packaging.download_and_unpack_package("obs://b/app.zip", str(tmp_path), gcs_client=gcs))
    assert host_calls(host_env) == []


def test_agent_records_its_node(monkeypatch):
    gcs = FakeGcs()

    class RuntimeEnvAgent:
        def __init__(self, gcs_client):
            self._gcs_client = gcs_client
            self._logger = None

    mod = types.SimpleNamespace(RuntimeEnvAgent=RuntimeEnvAgent, __file__="/x/ray/_private/runtime_env/agent/runtime_env_agent.py")
    monkeypatch.setattr(shim, "_version_problem", lambda: None)
    monkeypatch.setattr(sys, "argv", ["main.py", "--node-id=n1", "--runtime-env-dir=/r", "--gcs-address=a:1", "--cluster-id-hex=c"])
    shim.patch_agent_module(mod)
    RuntimeEnvAgent(gcs)
    assert node_records.registered_ids(gcs.internal_kv_keys(b"node:", node_records.NAMESPACE), node_records.SHIM) == {"n1"}
    other = types.SimpleNamespace(RuntimeEnvAgent=type("RuntimeEnvAgent", (), {}), __file__="/elsewhere/runtime_env_agent.py")
    original = other.RuntimeEnvAgent.__init__
    shim.patch_agent_module(other)
    assert other.RuntimeEnvAgent.__init__ is original
