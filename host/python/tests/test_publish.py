"""`ray_scheme_host.upload` and `python -m ray_scheme_host upload`, against the stand-in
scheme-host (tests/fakes) and its OBS server: what goes on the command line, what comes back,
and that a package uploaded this way unpacks on a node into the tree it was made from."""

import asyncio
import json
import pickle
import urllib.request
import uuid
import zipfile

import pytest
from conftest import SECRET, host_calls

import ray_scheme_host
from ray_scheme_host import __main__ as cli
from ray_scheme_host import hostcli, publish


@pytest.fixture
def prefix():
    return f"obs://b/up-{uuid.uuid4().hex[:8]}/"


def tree(root):
    return {str(p.relative_to(root)): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()}


def stored_keys(host_env, bucket="b"):
    with urllib.request.urlopen(f"{host_env['OBS_ENDPOINT']}/__admin/objects/{bucket}") as resp:
        return json.loads(resp.read())["keys"]


def make_project(root):
    (root / "pkg").mkdir(parents=True)
    (root / "main.py").write_text("print('main')\n")
    (root / "pkg" / "__init__.py").write_text("VALUE = 1\n")
    (root / "run.log").write_text("noise\n")
    (root / "notes.tmp").write_text("scratch\n")
    (root / ".gitignore").write_text("*.log\n")
    return root


def test_a_directory_is_packed_uploaded_and_unpacks_into_the_same_tree(host_env, prefix, tmp_path):
    project = make_project(tmp_path / "proj")
    uri = ray_scheme_host.upload(project, prefix, excludes=["*.tmp"])
    assert uri.startswith(prefix + "_ray_pkg_") and uri.endswith(".zip")
    (call,) = host_calls(host_env)
    assert call == ["pack-and-upload", str(project), prefix, "--exclude", "*.tmp", "--json"]
    assert uri[len("obs://b/"):] in stored_keys(host_env)
    dest = tmp_path / "node" / "pkg"
    asyncio.run(hostcli.download_and_unpack(uri, str(dest)))
    # Ray's rules: .gitignore'd and excluded files are left out, the ignore file itself is
    # packed, and the package's own top-level directory is stripped on the node.
    assert tree(dest) == {".gitignore": "*.log\n", "main.py": "print('main')\n", "pkg/__init__.py": "VALUE = 1\n"}


def test_the_same_tree_is_not_uploaded_twice(host_env, prefix, tmp_path):
    project = make_project(tmp_path / "proj")
    first = publish.publish_path(project, prefix)
    again = publish.publish_path(project, prefix.rstrip("/"))  # the trailing slash is optional
    assert first.uploaded and not again.uploaded
    assert again.uri == first.uri
    assert first.files == 4 and first.bytes > 0


def test_include_parent_dir_keeps_the_directory_name_for_imports(host_env, prefix, tmp_path):
    lib = tmp_path / "mylib"
    lib.mkdir()
    (lib / "__init__.py").write_text("NAME = 'mylib'\n")
    uri = ray_scheme_host.upload(lib, prefix, include_parent_dir=True)
    assert host_calls(host_env)[0][-2:] == ["--include-parent-dir", "--json"]
    dest = tmp_path / "node" / "mods"
    asyncio.run(hostcli.download_and_unpack(uri, str(dest)))
    assert tree(dest) == {"mylib/__init__.py": "NAME = 'mylib'\n"}


def test_a_file_is_uploaded_as_is_under_its_name(host_env, prefix, obs_objects, tmp_path):
    wheel = obs_objects["b/demo-1.0-py3-none-any.whl"]
    uri = ray_scheme_host.upload(wheel, prefix)
    assert uri == prefix + "demo-1.0-py3-none-any.whl"
    assert host_calls(host_env) == [["upload", str(wheel), uri, "--json"]]
    got = tmp_path / "got.whl"
    asyncio.run(hostcli.download(uri, str(got)))
    assert got.read_bytes() == wheel.read_bytes()


def test_a_store_refusal_is_a_typed_error_without_the_secret(host_env, prefix, tmp_path, monkeypatch):
    project = make_project(tmp_path / "proj")
    monkeypatch.setenv("OBS_ACCESS_KEY_ID", "AKWRONG")
    with pytest.raises(publish.UploadError) as err:
        ray_scheme_host.upload(project, prefix)
    e = err.value
    assert (e.kind, e.store_code, e.http_status) == ("access-denied", "InvalidAccessKeyId", 403)
    assert e.request_id and e.path == str(project)
    assert str(e).startswith(f"uploading {project}: ")
    assert SECRET not in str(e) and SECRET not in repr(e.__dict__)
    assert isinstance(e, hostcli.SchemeHostError)
    again = pickle.loads(pickle.dumps(e))
    assert str(again) == str(e) and again.path == e.path


@pytest.mark.parametrize(
    "prefix,needle",
    [("b/path/", "is not an upload prefix"), ("obs:///path", "is not an upload prefix"), ("obs://b/p?x=1", "query or fragment")],
)
def test_bad_prefixes_are_refused_before_any_host_call(host_env, tmp_path, prefix, needle):
    with pytest.raises(ValueError, match=needle):
        ray_scheme_host.upload(tmp_path, prefix)
    assert host_calls(host_env) == []


def test_paths_that_are_neither_or_options_that_do_not_apply(host_env, prefix, tmp_path):
    with pytest.raises(ValueError, match="neither a directory nor a file"):
        ray_scheme_host.upload(tmp_path / "missing", prefix)
    f = tmp_path / "x.whl"
    f.write_bytes(b"x")
    with pytest.raises(ValueError, match="excludes apply to a directory"):
        ray_scheme_host.upload(f, prefix, excludes=["*.py"])
    with pytest.raises(ValueError, match="include_parent_dir applies to a directory"):
        ray_scheme_host.upload(f, prefix, include_parent_dir=True)
    assert host_calls(host_env) == []


def test_cli_prints_the_uri(host_env, prefix, tmp_path, capsys):
    project = make_project(tmp_path / "proj")
    assert cli.main(["upload", str(project), prefix, "--exclude", "*.tmp", "--exclude", "pkg/"]) == 0
    out, err = capsys.readouterr()
    uri = out.strip()
    assert uri.startswith(prefix + "_ray_pkg_")
    assert "uploaded (2 files" in err
    assert host_calls(host_env)[0][3:7] == ["--exclude", "*.tmp", "--exclude", "pkg/"]
    assert cli.main(["upload", str(project), prefix, "--exclude", "*.tmp", "--exclude", "pkg/", "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["uri"] == uri and answer["uploaded"] is False and answer["ok"] is True


def test_cli_failures_exit_non_zero_with_the_store_code(host_env, prefix, tmp_path, capsys, monkeypatch):
    project = make_project(tmp_path / "proj")
    monkeypatch.setenv("OBS_ACCESS_KEY_ID", "AKWRONG")
    assert cli.main(["upload", str(project), prefix, "--json"]) == 1
    out, err = capsys.readouterr()
    answer = json.loads(out)
    assert answer["ok"] is False and answer["error"]["store_code"] == "InvalidAccessKeyId"
    assert "store code InvalidAccessKeyId" in err
    assert cli.main(["upload", str(tmp_path / "nope"), prefix]) == 2
    assert "neither a directory nor a file" in capsys.readouterr().err


def test_an_answer_without_the_uri_is_a_host_failure(monkeypatch, tmp_path):
    monkeypatch.setattr(hostcli, "run", lambda *a, **k: {"ok": True, "uploaded": True})
    with pytest.raises(publish.UploadError, match="host-failure: scheme-host answered without the URI"):
        publish.pack_and_upload(tmp_path, "obs://b/p/")


def test_content_names_follow_the_bytes(tmp_path):
    a = tmp_path / "a.zip"
    with zipfile.ZipFile(a, "w") as z:
        z.writestr("top/x", "1")
    name = publish.content_name(a, ".zip")
    import hashlib

    assert name == f"_ray_pkg_{hashlib.sha1(a.read_bytes()).hexdigest()}.zip"
    with zipfile.ZipFile(a, "a") as z:
        z.writestr("top/y", "2")
    assert publish.content_name(a, ".zip") != name
