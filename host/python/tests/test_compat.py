"""Detection of what the shim patches, against stand-ins of each supported Ray release's
layout (fake_ray_layouts.py), each inspected in a fresh interpreter the way `enable` does."""

import json
import os
from pathlib import Path

import pytest
from conftest import SRC
from fake_ray_layouts import RELEASES, sources, write_tree

from ray_scheme_host import __main__ as cli
from ray_scheme_host import compat, pth

REPO = Path(__file__).resolve().parents[3]
PACKAGING = "ray/_private/runtime_env/packaging.py"
WORKING_DIR = "ray/_private/runtime_env/working_dir.py"
PY_MODULES = "ray/_private/runtime_env/py_modules.py"
URI_MODULE = "ray/_common/runtime_env_uri.py"

EXPECTED_HOMES = {
    "provider": ("ray._private.runtime_env.protocol", "ray._private.runtime_env.packaging"),
    "enum-function": ("ray._private.runtime_env.protocol", "ray._private.runtime_env.packaging"),
    "runtime_env_uri": ("ray._common.runtime_env_uri", "ray._common.runtime_env_uri"),
}


@pytest.fixture
def fake_ray(tmp_path, monkeypatch):
    """Puts a stand-in Ray first on the path of the interpreters `compat.probe` starts."""

    def install(version, layout=None, edits=None):
        root = write_tree(tmp_path / f"ray-{version}", version, layout, edits)
        monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(root), SRC]))
        return root

    return install


def edited(version, path, old, new):
    text = sources(version, RELEASES[version])[path]
    assert old in text, (path, old)
    return {path: text.replace(old, new)}


@pytest.mark.parametrize("version", sorted(RELEASES, key=compat.release_of))
def test_each_supported_release_layout_is_detected(fake_ray, version):
    fake_ray(version)
    probe = compat.probe()
    assert probe.refused is None
    assert probe.ray_version == version and probe.tested
    protocol_home, parse_uri_home = EXPECTED_HOMES[RELEASES[version]]
    assert probe.layout == compat.Layout(
        ray_version=version,
        protocol_module=protocol_home,
        parse_uri_module=parse_uri_home,
        packaging_module="ray._private.runtime_env.packaging",
        agent_module="ray._private.runtime_env.agent.runtime_env_agent",
        working_dir_module="ray._private.runtime_env.working_dir",
        py_modules_module="ray._private.runtime_env.py_modules",
    )
    assert "s3" in probe.ray_remote_schemes and "gcs" in probe.ray_schemes and "gcs" not in probe.ray_remote_schemes


def test_a_newer_release_with_a_known_layout_is_accepted_as_untested(fake_ray):
    fake_ray("2.61.0", "runtime_env_uri")
    probe = compat.probe()
    assert probe.refused is None and probe.layout.protocol_module == "ray._common.runtime_env_uri"
    assert not probe.tested


def test_a_release_older_than_the_oldest_supported_is_refused(fake_ray):
    fake_ray("2.46.0", "provider")
    probe = compat.probe()
    assert probe.layout is None
    assert "needs Ray 2.47 or newer" in probe.refused and "Ray 2.46.0" in probe.refused


@pytest.mark.parametrize(
    "version,edits,needle",
    [
        ("2.60.0", lambda v: edited(v, PACKAGING, "def _get_local_path(", "def _get_local_path_renamed("),
         "ray._private.runtime_env.packaging._get_local_path was not found"),
        ("2.47.1", lambda v: edited(v, PACKAGING, "    overwrite: bool = False,\n", "    overwrite: bool = False,\n    verify=True,\n"),
         "download_and_unpack_package has the signature (pkg_uri: str, base_directory: str, gcs_client=None"),
        ("2.54.1", lambda v: edited(v, PACKAGING, "async def download_and_unpack_package(", "def download_and_unpack_package("),
         "download_and_unpack_package is not a coroutine function"),
        ("2.60.0", lambda v: edited(v, PACKAGING, "def get_local_dir_from_uri(uri: str, base_directory: str)", "def get_local_dir_from_uri(base_directory: str, uri: str)"),
         "get_local_dir_from_uri has the signature (base_directory: str, uri: str); expected (uri, base_directory)"),
        ("2.60.0", lambda v: edited(v, PACKAGING, "class _AsyncFileLock:", "class _RenamedLock:"),
         "ray._private.runtime_env.packaging._AsyncFileLock was not found"),
        ("2.60.0", lambda v: edited(v, URI_MODULE, "def parse_uri(pkg_uri: str):", "def parse_uri(pkg_uri: str, strict: bool):"),
         "ray._common.runtime_env_uri.parse_uri has the signature (pkg_uri: str, strict: bool); expected (pkg_uri)"),
        ("2.57.1", lambda v: edited(v, URI_MODULE, "    @classmethod\n    def remote_protocols(cls):", "    @classmethod\n    def _missing_(cls, value):\n        return None\n\n    @classmethod\n    def remote_protocols(cls):"),
         "Protocol defines its own _missing_"),
        ("2.50.1", lambda v: edited(v, "ray/_private/runtime_env/protocol.py", "Protocol.remote_protocols = _remote_protocols", "pass"),
         "ray._private.runtime_env.protocol.Protocol.remote_protocols was not found"),
        ("2.60.0", lambda v: {"ray/_private/runtime_env/agent/runtime_env_agent.py": "class RuntimeEnvAgent:\n    def __init__(self, runtime_env_dir, gcs):\n        pass\n"},
         "RuntimeEnvAgent.__init__ has the signature (self, runtime_env_dir, gcs); expected a gcs_client parameter"),
        ("2.60.0", lambda v: {"ray/_private/runtime_env/agent/runtime_env_agent.py": None},
         "ray._private.runtime_env.agent.runtime_env_agent was not found"),
        ("2.60.0", lambda v: edited(v, PY_MODULES, "    upload_fn=None,\n", "    upload_fn=None,\n    verify=True,\n"),
         "ray._private.runtime_env.py_modules.upload_py_modules_if_needed has the signature (runtime_env, include_gitignore, "
         "scratch_dir=None, logger=<Logger ray._private.runtime_env.py_modules (WARNING)>, upload_fn=None, verify=True); expected "
         "(runtime_env, scratch_dir, logger, upload_fn) or (runtime_env, include_gitignore, scratch_dir, logger, upload_fn)"),
        ("2.47.1", lambda v: edited(v, WORKING_DIR, "def upload_working_dir_if_needed(", "async def upload_working_dir_if_needed("),
         "ray._private.runtime_env.working_dir.upload_working_dir_if_needed is a coroutine function; expected a plain one"),
        ("2.54.1", lambda v: edited(v, WORKING_DIR, "def upload_working_dir_if_needed(", "def upload_working_dir(") ,
         "ray._private.runtime_env.working_dir.upload_working_dir_if_needed was not found"),
        ("2.57.1", lambda v: {WORKING_DIR: None},
         "ray._private.runtime_env.working_dir was not found"),
    ],
    ids=["missing-function", "extra-parameter", "not-async", "swapped-parameters", "missing-lock", "parse-uri-signature",
         "own-missing", "no-remote-protocols", "agent-signature", "no-agent-module", "upload-signature", "upload-async",
         "upload-renamed", "no-working-dir-module"],
)
def test_anything_missing_or_different_refuses_the_whole_shim(fake_ray, version, edits, needle):
    fake_ray(version, edits=edits(version))
    probe = compat.probe()
    assert probe.layout is None
    assert needle in probe.refused, probe.refused
    assert f"refuses to patch Ray {version}" in probe.refused
    assert "Nothing of Ray is patched" in probe.refused


def test_every_problem_is_named_not_only_the_first(fake_ray):
    packaging = sources("2.54.1", RELEASES["2.54.1"])[PACKAGING]
    edits = {PACKAGING: packaging.replace("def _get_local_path(", "def _local_path(").replace("def parse_uri(", "def parse(")}
    edits["ray/_private/runtime_env/agent/runtime_env_agent.py"] = "RuntimeEnvAgent = None\n"
    fake_ray("2.54.1", edits=edits)
    refused = compat.probe().refused
    assert "_get_local_path was not found" in refused
    assert "Ray's parse_uri was not found defined in ray._common.runtime_env_uri or ray._private.runtime_env.packaging" in refused
    assert "ray._private.runtime_env.agent.runtime_env_agent.RuntimeEnvAgent was not found" in refused


def test_protocol_moved_to_an_unknown_module_is_refused_with_where_it_went(fake_ray):
    moved = sources("2.60.0", "runtime_env_uri")[URI_MODULE]
    edits = {
        "ray/_common/uri_schemes.py": moved,
        URI_MODULE: "from ray._common.uri_schemes import Protocol, parse_uri\n",
    }
    fake_ray("2.61.0", "runtime_env_uri", edits)
    refused = compat.probe().refused
    assert "Protocol enum was not found defined in" in refused
    assert "it is defined in ray._common.uri_schemes, which this ray-scheme-host does not patch" in refused


def test_a_broken_import_is_a_problem_not_a_missing_layout(fake_ray):
    fake_ray("2.60.0", edits={PACKAGING: "import no_such_dependency_of_ray\n"})
    refused = compat.probe().refused
    assert "importing ray._private.runtime_env.packaging failed" in refused and "no_such_dependency_of_ray" in refused


def test_no_ray_at_all_is_refused():
    assert "found no Ray installation" in compat.version_problem(None)
    assert not compat.is_tested(None)


def test_enable_refuses_an_unsupported_ray_and_writes_nothing(fake_ray, tmp_path, monkeypatch, capsys):
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.setattr(pth, "site_dir", lambda: str(site))
    fake_ray("2.60.0", edits=edited("2.60.0", PACKAGING, "def _get_local_path(", "def _local_path("))
    assert cli.main(["enable", "--schemes", "obs"]) == 2
    err = capsys.readouterr().err
    assert "refuses to patch Ray 2.60.0" in err and "_get_local_path was not found" in err
    assert list(site.iterdir()) == []
    fake_ray("2.46.0", "provider")
    assert cli.main(["enable", "--schemes", "obs"]) == 2
    assert "needs Ray 2.47 or newer; this is Ray 2.46.0" in capsys.readouterr().err
    assert list(site.iterdir()) == []


def test_status_says_a_newer_ray_is_untested(fake_ray, host_env, capsys):
    fake_ray("2.61.0", "runtime_env_uri")
    assert cli.main(["status", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ray_version"] == "2.61.0"
    assert report["ray_support"]["tested"] is False
    assert "UNTESTED: newer than 2.60" in report["ray_support"]["text"]
    assert report["literal_uris"]["refused"] is None
    assert report["literal_uris"]["layout"]["protocol_module"] == "ray._common.runtime_env_uri"
    cli.main(["status"])
    assert "Ray: 2.61.0 (UNTESTED: newer than 2.60" in capsys.readouterr().out


def test_status_of_a_tested_release_names_its_patch_points(fake_ray, host_env, capsys):
    fake_ray("2.50.1")
    assert cli.main(["status"]) == 0
    out = capsys.readouterr().out
    assert "Ray: 2.50.1 (supported and tested: 2.47 to 2.60)" in out
    assert "Protocol in ray._private.runtime_env.protocol, parse_uri in ray._private.runtime_env.packaging" in out


def test_version_bounds_are_the_ends_of_the_tested_list():
    listed = [
        line.split("#", 1)[0].strip()
        for line in (REPO / "requirements" / "ray-versions.txt").read_text().splitlines()
        if line.split("#", 1)[0].strip()
    ]
    assert listed == sorted(listed, key=lambda v: tuple(int(x) for x in v.split(".")))
    assert compat.release_of(listed[0]) == compat.OLDEST_SUPPORTED
    assert compat.release_of(listed[-1]) == compat.NEWEST_TESTED
    assert set(listed) <= set(RELEASES), "every release the real-Ray suite runs on has a stand-in layout here"


@pytest.mark.parametrize(
    "version,release,tested,problem",
    [
        ("2.47.1", (2, 47), True, None),
        ("2.60.0", (2, 60), True, None),
        ("2.61.0rc1", (2, 61), False, None),
        ("3.0.0.dev0", (3, 0), False, None),
        ("2.46.0", (2, 46), False, "needs Ray 2.47 or newer"),
        ("garbage", None, False, "cannot read the Ray version"),
    ],
)
def test_version_rules(version, release, tested, problem):
    assert compat.release_of(version) == release
    assert compat.is_tested(version) is tested
    found = compat.version_problem(version)
    assert (found is None) if problem is None else (problem in found)


@pytest.fixture
def site(tmp_path, monkeypatch):
    """Where `enable` writes the .pth and `status` reads it."""
    directory = tmp_path / "site"
    directory.mkdir()
    monkeypatch.setattr(pth, "site_dir", lambda: str(directory))
    return directory


@pytest.mark.parametrize(
    "chosen,enabled,expected",
    [((), True, False), (("obs", "s3"), True, True), (("obs", "s3"), False, False)],
    ids=["default", "opted-in", "disabled"],
)
def test_status_says_whether_rays_own_s3_is_routed(fake_ray, host_env, site, capsys, chosen, enabled, expected):
    (host_env["plugins"] / "s3.wasm").write_bytes(b"")
    fake_ray("2.60.0")
    if enabled:
        pth.write(chosen)
    cli.main(["status", "--json"])
    schemes_state = json.loads(capsys.readouterr().out)["literal_uris"]["schemes"]
    assert schemes_state["builtin_routed"] == {"s3": expected}
    assert schemes_state["chosen"] == (list(chosen) if enabled and chosen else None)
    assert schemes_state["handled"] == ((list(chosen) if chosen else ["obs"]) if enabled else [])
    cli.main(["status"])
    out = capsys.readouterr().out
    if expected:
        assert "Ray's built-in s3://: routed through scheme-host's s3 plugin" in out
    else:
        assert "Ray's built-in s3://: Ray's own path (not routed" in out


def test_status_names_the_upload_destination(fake_ray, host_env, site, capsys, monkeypatch):
    fake_ray("2.60.0")
    cli.main(["status"])
    assert "uploaded by Ray to its GCS (SCHEME_HOST_UPLOAD_TO not set" in capsys.readouterr().out
    monkeypatch.setenv("SCHEME_HOST_UPLOAD_TO", "obs://b/jobs/")
    cli.main(["status", "--json"])
    assert json.loads(capsys.readouterr().out)["uploads"] == {"SCHEME_HOST_UPLOAD_TO": "obs://b/jobs/"}


@pytest.mark.parametrize(
    "schemes_arg,needle",
    [("obs,gcs", "names gcs: Ray uses that scheme for its own packages"), ("obs,gs", "names gs, which the scheme-host installed here does not serve")],
)
def test_enable_refuses_schemes_it_cannot_hand_over_and_writes_nothing(fake_ray, host_env, site, capsys, schemes_arg, needle):
    fake_ray("2.60.0")
    assert cli.main(["enable", "--schemes", schemes_arg]) == 2
    assert needle in capsys.readouterr().err
    assert list(site.iterdir()) == []


def test_a_failed_self_test_puts_the_previous_file_back(fake_ray, host_env, site, capsys, monkeypatch):
    import subprocess

    (host_env["plugins"] / "s3.wasm").write_bytes(b"")
    fake_ray("2.60.0")
    pth.write(["obs"])
    before = pth.current_text()
    seen = []

    def failing(layout, handled, kept):
        seen.append((pth.chosen_in_file(), list(handled), list(kept)))
        return subprocess.CompletedProcess([], 1, "", "Ray would not hand s3:// packages to scheme-host")

    monkeypatch.setattr(pth, "self_test", failing)
    assert cli.main(["enable", "--schemes", "obs,s3", "--no-precompile"]) == 1
    # The self-test saw the new file and what it had to prove; then the old one came back.
    assert seen == [(("obs", "s3"), ["obs", "s3"], [])]
    assert "Ray would not hand s3:// packages" in capsys.readouterr().err
    assert pth.current_text() == before
    pth.remove()
    assert cli.main(["enable", "--no-precompile"]) == 1
    assert seen[-1] == ((), ["obs"], ["s3"])
    assert list(site.iterdir()) == []
