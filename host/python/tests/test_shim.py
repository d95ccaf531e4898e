import asyncio
import enum
import importlib
import sys
import types
from pathlib import Path

import pytest
from conftest import host_calls
from test_node_records import FakeGcs

from ray_scheme_host import compat, hostcli, node_records, schemes, shim, targets


@pytest.fixture
def shim_state(monkeypatch):
    """The shim's process-wide state, restored after each test (the real Ray modules of
    this interpreter stay patched between tests, as in any process)."""
    monkeypatch.setattr(shim, "_refusal", None)
    monkeypatch.setattr(shim, "_protocol_cls", shim._protocol_cls)
    monkeypatch.setattr(shim, "added_schemes", set(shim.added_schemes))
    return shim


@pytest.fixture
def patched_ray(host_env):
    """This venv's Ray with the shim applied, as the .pth hook does at import time, in the
    modules where this Ray release keeps each part. Patched once per session, like a
    process; the shim's state stays with it (`shim_state` restores it after other tests)."""
    layout = compat.detect()
    protocol_mod = importlib.import_module(layout.protocol_module)
    parse_uri_mod = importlib.import_module(layout.parse_uri_module)
    packaging = importlib.import_module(layout.packaging_module)
    schemes.forget()
    shim.patch_protocol_module(protocol_mod)
    shim.patch_packaging_module(packaging)
    shim.patch_upload_module(importlib.import_module(layout.working_dir_module))
    shim.patch_upload_module(importlib.import_module(layout.py_modules_module))
    assert shim.refusal() is None
    return protocol_mod.Protocol, parse_uri_mod.parse_uri, packaging


def _protocol_as_class():
    """Ray 2.57 and later: a Protocol class reading a module-level tuple."""

    class Protocol(enum.Enum):
        GCS = "gcs"
        S3 = "s3"

        @classmethod
        def remote_protocols(cls):
            return [cls[p.upper()] for p in mod._REMOTE_PROTOCOLS]

    mod = types.SimpleNamespace(__name__="fake_uri", Protocol=Protocol, _REMOTE_PROTOCOLS=("s3",))
    return mod


def _protocol_as_function():
    """Ray 2.47 to 2.56: a functional Enum with remote_protocols set on it afterwards."""
    Protocol = enum.Enum("Protocol", {"GCS": "gcs", "S3": "s3"})
    Protocol.remote_protocols = classmethod(lambda cls: [cls["S3"]])
    return types.SimpleNamespace(__name__="fake_protocol", Protocol=Protocol)


@pytest.mark.parametrize("make", [_protocol_as_class, _protocol_as_function], ids=["class", "functional"])
def test_plugin_schemes_join_the_protocol_enum(make, shim_state, monkeypatch):
    monkeypatch.setattr(schemes, "is_handled", lambda s, ray_has_it=False: not ray_has_it and s in {"obs", "ftp-x"})
    mod = make()
    shim.patch_protocol_module(mod)
    member = mod.Protocol("obs")
    assert member is mod.Protocol.OBS is mod.Protocol["OBS"]
    assert member in mod.Protocol.remote_protocols()
    assert [m.value for m in mod.Protocol] == ["gcs", "s3", "obs"]
    assert mod.Protocol("ftp-x").name == "FTP-X"
    with pytest.raises(ValueError):
        mod.Protocol("nope")
    with pytest.raises(ValueError):
        mod.Protocol("OBS")  # urlparse lower-cases schemes; Ray never asks for this
    assert shim.refusal() is None


def test_a_refused_shim_rejects_plugin_schemes_with_the_reason(shim_state, monkeypatch):
    monkeypatch.setattr(shim, "_refusal", "needs Ray 2.47 or newer; this is Ray 2.46.0")
    monkeypatch.setattr(schemes, "is_handled", lambda s, ray_has_it=False: not ray_has_it and s == "obs")
    mod = _protocol_as_class()
    shim.patch_protocol_module(mod)
    with pytest.raises(ValueError, match="needs Ray 2.47 or newer"):
        mod.Protocol("obs")
    with pytest.raises(ValueError, match="is not a valid"):
        mod.Protocol("other")  # not a plugin scheme: Ray's own error
    assert [m.value for m in mod.Protocol] == ["gcs", "s3"]


def test_a_protocol_unlike_the_expected_refuses_the_whole_shim(shim_state, monkeypatch):
    monkeypatch.setattr(schemes, "is_handled", lambda s, ray_has_it=False: not ray_has_it and s == "obs")
    mod = _protocol_as_class()
    mod.Protocol.remote_protocols = classmethod(lambda cls, strict: [])  # a changed signature
    shim.patch_protocol_module(mod)
    assert "fake_uri.Protocol.remote_protocols has the signature (strict)" in shim.refusal()
    with pytest.raises(ValueError, match="refuses to patch Ray"):
        mod.Protocol("obs")


def _packaging_like(download):
    """A packaging module with the expected helpers around the given download function."""
    mod = types.ModuleType("fake_packaging")

    class _AsyncFileLock:
        def __init__(self, lock_file):
            pass

        async def __aenter__(self):
            return self

        async def __aexit__(self, *exc):
            return None

    def _get_local_path(base_directory, pkg_uri):
        return str(Path(base_directory) / "pkg.zip")

    def get_local_dir_from_uri(uri, base_directory):
        return Path(base_directory) / "pkg"

    import logging

    mod.__dict__.update(
        _AsyncFileLock=_AsyncFileLock,
        _get_local_path=_get_local_path,
        get_local_dir_from_uri=get_local_dir_from_uri,
        default_logger=logging.getLogger("fake"),
        download_and_unpack_package=download,
    )
    return mod


def test_a_changed_packaging_module_is_not_patched_and_refuses_what_was(shim_state, monkeypatch):
    monkeypatch.setattr(schemes, "is_handled", lambda s, ray_has_it=False: not ray_has_it and s in {"obs", "ftp"})
    uri_mod = _protocol_as_class()
    shim.patch_protocol_module(uri_mod)
    assert uri_mod.Protocol("obs") in uri_mod.Protocol.remote_protocols()

    async def download_and_unpack_package(pkg_uri, base_directory, gcs_client=None, logger=None):
        return "ray's own"

    packaging = _packaging_like(download_and_unpack_package)
    shim.patch_packaging_module(packaging)
    assert packaging.download_and_unpack_package is download_and_unpack_package  # left alone
    assert "fake_packaging.download_and_unpack_package has the signature" in shim.refusal()
    # The Protocol patch installed earlier in this process now refuses too: all or nothing.
    assert uri_mod.Protocol.OBS not in uri_mod.Protocol.remote_protocols()
    with pytest.raises(ValueError, match="refuses to patch Ray"):
        uri_mod.Protocol("ftp")  # a plugin scheme this process had not added yet


def test_a_refusal_after_patching_makes_the_download_explain(shim_state, monkeypatch, tmp_path):
    monkeypatch.setattr(schemes, "is_handled", lambda s, ray_has_it=False: not ray_has_it and s == "obs")
    uri_mod = _protocol_as_class()
    shim.patch_protocol_module(uri_mod)

    async def download_and_unpack_package(pkg_uri, base_directory, gcs_client=None, logger=None, overwrite=False):
        return f"ray's own {pkg_uri}"

    packaging = _packaging_like(download_and_unpack_package)
    shim.patch_packaging_module(packaging)
    assert getattr(packaging.download_and_unpack_package, shim._MARK)
    shim._refuse(["ray._private.runtime_env.agent.runtime_env_agent.RuntimeEnvAgent was not found"])
    with pytest.raises(ValueError, match="RuntimeEnvAgent was not found"):
        asyncio.run(packaging.download_and_unpack_package("obs://b/app.zip", str(tmp_path)))
    assert asyncio.run(packaging.download_and_unpack_package("s3://b/app.zip", str(tmp_path))) == "ray's own s3://b/app.zip"


def test_ray_validation_accepts_plugin_schemes(patched_ray):
    from ray.runtime_env import RuntimeEnv

    protocol_cls, parse_uri, _ = patched_ray
    protocol, name = parse_uri("obs://b/app.zip")
    assert protocol.value == "obs" and protocol in protocol_cls.remote_protocols()
    assert name.startswith("obs_") and name.endswith(".zip")
    env = RuntimeEnv(working_dir="obs://b/app.zip", py_modules=["obs://b/demo-1.0-py3-none-any.whl"])
    assert env.working_dir() == "obs://b/app.zip"
    with pytest.raises(ValueError, match="Invalid protocol"):
        parse_uri("nosuchscheme://b/app.zip")


def test_download_and_unpack_package_uses_the_host_with_rays_names_and_reuse(patched_ray, host_env, tmp_path):
    _, parse_uri, packaging = patched_ray
    base = tmp_path / "working_dir_files"
    base.mkdir()
    run = lambda **kw: asyncio.run(packaging.download_and_unpack_package("obs://b/app.zip", str(base), **kw))
    local = run(overwrite=False)
    # The directory is this Ray release's own name for the package: hashed since 2.57,
    # readable before.
    assert Path(local) == packaging.get_local_dir_from_uri("obs://b/app.zip", str(base))
    assert Path(local).name == Path(parse_uri("obs://b/app.zip")[1]).stem
    assert (Path(local) / "main.py").is_file()  # top-level app/ stripped like Ray
    assert run(overwrite=False) == local  # Ray's reuse rule: no second fetch
    assert len(host_calls(host_env)) == 1
    assert run(overwrite=True) == local  # working_dir asks to overwrite
    calls = host_calls(host_env)
    assert len(calls) == 2 and "--overwrite" in calls[1]
    assert calls[0][2] == local  # the host unpacks into the directory Ray named
    assert not [p for p in base.iterdir() if "staging" in p.name]


def test_wheels_come_back_as_files(patched_ray, host_env, tmp_path):
    _, _, packaging = patched_ray
    got = asyncio.run(packaging.download_and_unpack_package("obs://b/demo-1.0-py3-none-any.whl", str(tmp_path)))
    assert Path(got) == tmp_path / "demo-1.0-py3-none-any.whl" and Path(got).is_file()


def test_missing_object_raises_with_store_code(patched_ray, host_env, tmp_path):
    _, _, packaging = patched_ray
    base = tmp_path / "base"
    with pytest.raises(hostcli.SchemeHostError, match=r"NoSuchKey, request id \w+"):
        asyncio.run(packaging.download_and_unpack_package("obs://b/none.zip", str(base)))
    # Nothing that looks like a package is left, only lock files.
    assert [p.name for p in base.iterdir() if not p.name.endswith(".lock")] == []


def test_rays_own_schemes_stay_rays(patched_ray, host_env, tmp_path):
    import zipfile

    _, _, packaging = patched_ray
    src = tmp_path / "local.zip"
    with zipfile.ZipFile(src, "w") as z:
        z.writestr("top/x.txt", "x")
    out = asyncio.run(packaging.download_and_unpack_package(f"file://{src}", str(tmp_path / "base")))
    assert (Path(out) / "x.txt").read_text() == "x"
    assert host_calls(host_env) == []


def test_the_cluster_check_runs_before_fetching(patched_ray, host_env, tmp_path):
    _, _, packaging = patched_ray
    gcs = FakeGcs()
    gcs.add_node("lonely", 100)
    with pytest.raises(node_records.IntegrationMissing):
        asyncio.run(packaging.download_and_unpack_package("obs://b/app.zip", str(tmp_path), gcs_client=gcs))
    assert host_calls(host_env) == []


def _agent_module(gcs_param="gcs_client"):
    src = f"class RuntimeEnvAgent:\n    def __init__(self, {gcs_param}):\n        self._gcs_client = {gcs_param}\n        self._logger = None\n"
    mod = types.ModuleType("runtime_env_agent")
    mod.__file__ = "/x/ray/_private/runtime_env/agent/runtime_env_agent.py"
    exec(src, mod.__dict__)
    return mod


def test_agent_records_its_node(shim_state, monkeypatch):
    gcs = FakeGcs()
    mod = _agent_module()
    monkeypatch.setattr(sys, "argv", ["main.py", "--node-id=n1", "--runtime-env-dir=/r", "--gcs-address=a:1", "--cluster-id-hex=c"])
    shim.patch_agent_module(mod)
    mod.RuntimeEnvAgent(gcs)
    assert node_records.registered_ids(gcs.internal_kv_keys(b"node:", node_records.NAMESPACE), node_records.SHIM) == {"n1"}
    other = types.SimpleNamespace(RuntimeEnvAgent=type("RuntimeEnvAgent", (), {}), __file__="/elsewhere/runtime_env_agent.py")
    original = other.RuntimeEnvAgent.__init__
    shim.patch_agent_module(other)
    assert other.RuntimeEnvAgent.__init__ is original


def test_agent_of_a_release_without_the_node_id_flag_records_its_node(shim_state, monkeypatch):
    # Ray 2.47 to 2.53 start the agent without --node-id; the raylet sets RAY_NODE_ID.
    gcs = FakeGcs()
    mod = _agent_module()
    monkeypatch.setattr(sys, "argv", ["main.py", "--runtime-env-dir=/r", "--gcs-address=a:1", "--cluster-id-hex=c"])
    monkeypatch.setenv("RAY_NODE_ID", "n47")
    shim.patch_agent_module(mod)
    mod.RuntimeEnvAgent(gcs)
    assert node_records.registered_ids(gcs.internal_kv_keys(b"node:", node_records.NAMESPACE), node_records.SHIM) == {"n47"}


def test_a_changed_agent_is_not_patched_and_refuses_the_shim(shim_state):
    mod = _agent_module("gcs")
    original = mod.RuntimeEnvAgent.__init__
    shim.patch_agent_module(mod)
    assert mod.RuntimeEnvAgent.__init__ is original
    assert "expected a gcs_client parameter" in shim.refusal()


@pytest.fixture
def s3_plugin(host_env):
    """scheme-host serves s3 too (the wheel ships both plugins); the stand-in host fetches
    every scheme from the same OBS test server."""
    (host_env["plugins"] / "s3.wasm").write_bytes(b"")
    schemes.forget()
    return host_env


def test_rays_own_s3_stays_on_rays_path_by_default(patched_ray, s3_plugin, shim_state):
    assert not shim.routes("s3://b/app.zip")
    assert shim.routes("obs://b/app.zip")


def test_s3_named_in_schemes_is_fetched_by_the_host_into_rays_own_directory(patched_ray, s3_plugin, shim_state, monkeypatch, tmp_path):
    _, parse_uri, packaging = patched_ray
    monkeypatch.setattr(targets, "chosen_schemes", ("obs", "s3"))
    assert shim.routes("s3://b/app.zip")
    base = tmp_path / "working_dir_files"
    local = asyncio.run(packaging.download_and_unpack_package("s3://b/app.zip", str(base), overwrite=True))
    # The directory Ray's own s3 path uses (the installed release's naming rule): Ray's cache
    # and cleanup find it, and a node without the opt-in would reuse it.
    assert Path(local) == packaging.get_local_dir_from_uri("s3://b/app.zip", str(base))
    assert Path(local).name == Path(parse_uri("s3://b/app.zip")[1]).stem
    assert (Path(local) / "main.py").is_file()
    assert host_calls(s3_plugin) == [["download-and-unpack", "s3://b/app.zip", local, "--overwrite", "--json"]]


def test_a_node_without_the_shim_does_not_block_rays_own_schemes(patched_ray, s3_plugin, shim_state, monkeypatch, tmp_path):
    # Such a node fetches s3:// with Ray's own code: the job has its code there too.
    _, _, packaging = patched_ray
    monkeypatch.setattr(targets, "chosen_schemes", ("obs", "s3"))
    gcs = FakeGcs()
    gcs.add_node("lonely", 100)
    local = asyncio.run(packaging.download_and_unpack_package("s3://b/app.zip", str(tmp_path), gcs_client=gcs))
    assert (Path(local) / "main.py").is_file()
    with pytest.raises(node_records.IntegrationMissing):
        asyncio.run(packaging.download_and_unpack_package("obs://b/app.zip", str(tmp_path / "o"), gcs_client=gcs))


def test_a_refused_shim_gives_rays_own_schemes_back_to_ray(patched_ray, s3_plugin, shim_state, monkeypatch):
    monkeypatch.setattr(targets, "chosen_schemes", ("obs", "s3"))
    monkeypatch.setattr(shim, "_refusal", "a stand-in refusal")
    assert not shim.routes("s3://b/app.zip")


def test_rays_package_store_is_never_taken(patched_ray, shim_state, monkeypatch):
    # `enable` refuses --schemes gcs; even if a .pth said so, Ray's GCS packages stay Ray's.
    monkeypatch.setattr(targets, "chosen_schemes", ("gcs",))
    assert not shim.routes("gcs://_ray_pkg_0123.zip")
