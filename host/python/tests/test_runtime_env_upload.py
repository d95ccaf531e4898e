"""Local working_dir / py_modules uploaded through scheme-host (`SCHEME_HOST_UPLOAD_TO`),
through this venv's own Ray upload functions as the shim patches them, with the stand-in
scheme-host and OBS server. Each package is unpacked again as a node would (Ray's
`download_and_unpack_package`, patched), to compare with the tree it came from."""

import asyncio
import importlib
import inspect
import logging
import sys
import uuid
import zipfile
from pathlib import Path

import pytest
from conftest import host_calls
from test_publish import stored_keys, tree
from test_shim import patched_ray, shim_state  # noqa: F401 (fixtures)

from ray_scheme_host import compat, runtime_env_upload, shim

UPLOAD_TO = runtime_env_upload.UPLOAD_TO_ENV


@pytest.fixture
def ray_upload(patched_ray):  # noqa: F811
    layout = compat.detect()
    working_dir = importlib.import_module(layout.working_dir_module)
    py_modules = importlib.import_module(layout.py_modules_module)
    return working_dir.upload_working_dir_if_needed, py_modules.upload_py_modules_if_needed, patched_ray[2]


@pytest.fixture
def prefix(host_env, monkeypatch):
    value = f"obs://b/way2-{uuid.uuid4().hex[:8]}/"
    monkeypatch.setenv(UPLOAD_TO, value)
    return value


class UploadFnCalls(list):
    """Ray's `upload_fn` (the job SDK's upload to the dashboard): must not be called."""

    def __call__(self, *args, **kwargs):
        self.append((args, kwargs))


def call(fn, runtime_env, monkeypatch, include_gitignore=True, upload_fn=None):
    """Calls a Ray upload function the way this release's callers do (2.53 added
    `include_gitignore`; before, Ray reads RAY_RUNTIME_ENV_IGNORE_GITIGNORE itself)."""
    kwargs = {"upload_fn": upload_fn} if upload_fn is not None else {"scratch_dir": None}
    if "include_gitignore" in inspect.signature(fn).parameters:
        kwargs["include_gitignore"] = include_gitignore
    else:
        monkeypatch.setenv("RAY_RUNTIME_ENV_IGNORE_GITIGNORE", "0" if include_gitignore else "1")
    return fn(runtime_env, **kwargs)


def rays_default_excludes():
    from ray._private import ray_constants

    read = getattr(ray_constants, "get_runtime_env_default_excludes", None)
    return read() if read else []


def unpack(packaging, uri, base):
    return Path(asyncio.run(packaging.download_and_unpack_package(uri, str(base))))


def project(root):
    (root / "pkg" / "__pycache__").mkdir(parents=True)
    (root / "main.py").write_text("print('main')\n")
    (root / "pkg" / "__init__.py").write_text("VALUE = 1\n")
    (root / "pkg" / "__pycache__" / "x.pyc").write_text("bytecode\n")
    (root / "run.log").write_text("noise\n")
    (root / "notes.tmp").write_text("scratch\n")
    (root / ".gitignore").write_text("*.log\n")
    return root


def test_without_the_variable_ray_uploads_as_before(ray_upload, host_env, tmp_path, monkeypatch):
    upload_working_dir, _, _ = ray_upload
    monkeypatch.delenv(UPLOAD_TO, raising=False)
    calls = UploadFnCalls()
    env = call(upload_working_dir, {"working_dir": str(project(tmp_path / "proj"))}, monkeypatch, upload_fn=calls)
    assert env["working_dir"].startswith("gcs://_ray_pkg_")
    assert len(calls) == 1 and host_calls(host_env) == []


def test_a_working_dir_directory_goes_to_the_store_with_rays_rules(ray_upload, host_env, prefix, tmp_path, monkeypatch):
    upload_working_dir, _, packaging = ray_upload
    src = project(tmp_path / "proj")
    calls = UploadFnCalls()
    env = call(upload_working_dir, {"working_dir": str(src), "excludes": ["*.tmp"]}, monkeypatch, upload_fn=calls)
    uri = env["working_dir"]
    assert uri.startswith(prefix + "_ray_pkg_") and uri.endswith(".zip")
    assert calls == []  # nothing went to Ray's GCS (or the dashboard)
    (pack,) = [c for c in host_calls(host_env) if c[0] == "pack-and-upload"]
    assert pack == ["pack-and-upload", str(src), prefix, "--exclude", "*.tmp", "--json"]
    assert uri[len("obs://b/"):] in stored_keys(host_env)
    got = tree(unpack(packaging, uri, tmp_path / "node"))
    # This Ray's default excludes (since 2.54: .git, .venv, venv, __pycache__) and the
    # .gitignore apply; the runtime_env's excludes too.
    expected = {".gitignore", "main.py", "pkg/__init__.py"} | ({"pkg/__pycache__/x.pyc"} if "__pycache__" not in rays_default_excludes() else set())
    assert set(got) == expected


def test_rays_gitignore_setting_is_followed(ray_upload, host_env, prefix, tmp_path, monkeypatch):
    upload_working_dir, _, packaging = ray_upload
    env = call(upload_working_dir, {"working_dir": str(project(tmp_path / "proj"))}, monkeypatch, include_gitignore=False)
    assert "run.log" in tree(unpack(packaging, env["working_dir"], tmp_path / "node"))


def test_py_modules_entries_each_become_an_importable_package(ray_upload, host_env, prefix, obs_objects, tmp_path, monkeypatch):
    _, upload_py_modules, packaging = ray_upload
    lib = tmp_path / "src" / "mylib"
    (lib / "__pycache__").mkdir(parents=True)
    (lib / "__init__.py").write_text("NAME = 'mylib'\n")
    (lib / "__pycache__" / "c.pyc").write_text("bytecode\n")
    single = tmp_path / "src" / "single.py"
    single.write_text("NAME = 'single'\n")
    imported_dir = tmp_path / "imported"
    (imported_dir / "viamodule").mkdir(parents=True)
    (imported_dir / "viamodule" / "__init__.py").write_text("NAME = 'viamodule'\n")
    monkeypatch.syspath_prepend(str(imported_dir))
    viamodule = importlib.import_module("viamodule")
    wheel = obs_objects["b/demo-1.0-py3-none-any.whl"]
    remote = "obs://b/app.zip"
    calls = UploadFnCalls()
    env = call(upload_py_modules, {"py_modules": [str(lib), single, viamodule, str(wheel), remote]}, monkeypatch, upload_fn=calls)
    lib_uri, single_uri, module_uri, wheel_uri, kept = env["py_modules"]
    assert calls == [] and kept == remote
    assert wheel_uri == prefix + "demo-1.0-py3-none-any.whl"
    # Directories keep their own name (Ray's include_parent_dir) and, as Ray packs
    # py_modules, no default excludes apply.
    assert tree(unpack(packaging, lib_uri, tmp_path / "n1")) == {"mylib/__init__.py": "NAME = 'mylib'\n", "mylib/__pycache__/c.pyc": "bytecode\n"}
    assert tree(unpack(packaging, single_uri, tmp_path / "n2")) == {"single.py": "NAME = 'single'\n"}
    assert tree(unpack(packaging, module_uri, tmp_path / "n3")) == {"viamodule/__init__.py": "NAME = 'viamodule'\n"}
    got_wheel = Path(asyncio.run(packaging.download_and_unpack_package(wheel_uri, str(tmp_path / "n4"))))
    assert got_wheel.read_bytes() == wheel.read_bytes()
    packs = [c for c in host_calls(host_env) if c[0] == "pack-and-upload"]
    assert [("--include-parent-dir" in c) for c in packs] == [True, False, True]
    sys.modules.pop("viamodule", None)


def test_a_local_archive_working_dir_is_uploaded_as_is_under_its_content_name(ray_upload, host_env, prefix, tmp_path, monkeypatch):
    upload_working_dir, _, _ = ray_upload
    archive = tmp_path / "app.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("app/main.py", "print('zip')\n")
    env = call(upload_working_dir, {"working_dir": str(archive)}, monkeypatch)
    import hashlib

    assert env["working_dir"] == f"{prefix}_ray_pkg_{hashlib.sha1(archive.read_bytes()).hexdigest()}.zip"
    assert [c[0] for c in host_calls(host_env) if c[0] != "schemes"] == ["upload"]


def test_an_archive_this_ray_refuses_is_not_uploaded(host_env, tmp_path):
    archive = tmp_path / "app.tar.xz"
    archive.write_bytes(b"not really")

    def refuse(uri):
        raise ValueError(f"Only .zip files supported for remote URIs: {uri}")

    env = {"working_dir": str(archive)}
    with pytest.raises(ValueError, match="Only .zip files supported"):
        runtime_env_upload.working_dir(
            env, lambda: "obs://b/p", include_gitignore=True, default_excludes=[], check_uri=refuse, logger=logging.getLogger("t")
        )
    assert host_calls(host_env) == [] and env["working_dir"] == str(archive)


def test_entries_that_are_not_local_packages_are_left_to_ray(host_env, tmp_path):
    env = {"working_dir": "obs://b/app.zip", "py_modules": ["s3://b/x.zip", str(tmp_path / "missing"), 42]}
    log = logging.getLogger("t")
    runtime_env_upload.working_dir(env, lambda: "obs://b/p", include_gitignore=True, default_excludes=[], check_uri=lambda u: None, logger=log)
    runtime_env_upload.py_modules(env, lambda: "obs://b/p", include_gitignore=True, logger=log)
    assert env == {"working_dir": "obs://b/app.zip", "py_modules": ["s3://b/x.zip", str(tmp_path / "missing"), 42]}
    env = {"working_dir": str(tmp_path / "missing")}
    runtime_env_upload.working_dir(env, lambda: "obs://b/p", include_gitignore=True, default_excludes=[], check_uri=lambda u: None, logger=log)
    assert env == {"working_dir": str(tmp_path / "missing")}
    assert host_calls(host_env) == []


def test_a_destination_this_ray_does_not_take_is_refused_before_uploading(ray_upload, host_env, tmp_path, monkeypatch):
    upload_working_dir, upload_py_modules, _ = ray_upload
    monkeypatch.setenv(UPLOAD_TO, "nosuchscheme://b/p/")
    with pytest.raises(ValueError, match=r"does not take nosuchscheme:// packages"):
        call(upload_working_dir, {"working_dir": str(project(tmp_path / "proj"))}, monkeypatch)
    assert [c for c in host_calls(host_env) if c[0] != "schemes"] == []
    # Nothing local to upload: the variable is not consulted at all.
    env = {"working_dir": "obs://b/app.zip", "py_modules": ["obs://b/app.zip"], "env_vars": {"A": "1"}}
    assert call(upload_working_dir, dict(env), monkeypatch) == env
    assert call(upload_py_modules, dict(env), monkeypatch) == env
    assert call(upload_working_dir, {"env_vars": {"A": "1"}}, monkeypatch) == {"env_vars": {"A": "1"}}


def test_a_refused_shim_refuses_uploads_instead_of_using_the_gcs(ray_upload, host_env, prefix, tmp_path, monkeypatch, shim_state):  # noqa: F811
    upload_working_dir, _, _ = ray_upload
    monkeypatch.setattr(shim, "_refusal", "ray-scheme-host's literal-URI support refuses to patch Ray 9.9.9: stand-in")
    with pytest.raises(ValueError, match=f"{UPLOAD_TO} is set, but .*refuses to patch Ray 9.9.9"):
        call(upload_working_dir, {"working_dir": str(project(tmp_path / "proj"))}, monkeypatch, upload_fn=UploadFnCalls())
    assert host_calls(host_env) == []


def test_a_malformed_destination_is_named(ray_upload, host_env, tmp_path, monkeypatch):
    upload_working_dir, _, _ = ray_upload
    monkeypatch.setenv(UPLOAD_TO, "bucket/prefix")
    with pytest.raises(ValueError, match=f"{UPLOAD_TO}: 'bucket/prefix' is not an upload prefix"):
        call(upload_working_dir, {"working_dir": str(tmp_path)}, monkeypatch)


def test_excludes_must_be_strings(host_env, tmp_path):
    with pytest.raises(TypeError, match="'excludes' must be a list of strings"):
        runtime_env_upload.working_dir(
            {"working_dir": str(tmp_path), "excludes": [1]}, lambda: "obs://b/p", include_gitignore=True, default_excludes=[],
            check_uri=lambda u: None, logger=logging.getLogger("t"),
        )
