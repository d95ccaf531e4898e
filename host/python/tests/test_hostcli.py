import asyncio
import json
import os
import pickle
import time

import pytest
from conftest import SECRET, host_calls

from ray_scheme_host import hostcli


def test_error_answer_keeps_store_code_and_request_id():
    answer = {"ok": False, "error": {"kind": "not-found", "message": "no such object", "store_code": "NoSuchKey", "request_id": "REQ123", "http_status": 404}}
    with pytest.raises(hostcli.SchemeHostError) as err:
        hostcli.interpret(4, json.dumps(answer).encode(), b"", "obs://b/k.zip")
    e = err.value
    assert (e.kind, e.store_code, e.request_id, e.http_status) == ("not-found", "NoSuchKey", "REQ123", 404)
    assert str(e) == "obs://b/k.zip: scheme-host not-found: no such object [store code NoSuchKey, request id REQ123, HTTP 404]"
    # Ray ships exceptions between processes.
    assert str(pickle.loads(pickle.dumps(e))) == str(e)


def test_no_json_answer_quotes_stderr_without_secrets(monkeypatch):
    monkeypatch.setenv("OBS_SECRET_ACCESS_KEY", SECRET)
    with pytest.raises(hostcli.SchemeHostError) as err:
        hostcli.interpret(101, b"", f"thread panicked; key {SECRET}\n".encode(), None)
    assert err.value.kind == "host-failure"
    assert "status 101" in str(err.value) and "panicked" in str(err.value)
    assert SECRET not in str(err.value)


def test_ok_answer_needs_exit_status_zero():
    assert hostcli.interpret(0, b'{"ok": true, "path": "/x"}\n', b"", None)["path"] == "/x"
    with pytest.raises(hostcli.SchemeHostError):
        hostcli.interpret(1, b'{"ok": true}', b"", None)


def test_binary_lookup(monkeypatch, tmp_path):
    monkeypatch.setenv("SCHEME_HOST_BIN", str(tmp_path / "nope"))
    with pytest.raises(hostcli.SchemeHostError, match="not an executable file"):
        hostcli.find_binary()
    monkeypatch.delenv("SCHEME_HOST_BIN")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(hostcli.SchemeHostError, match="set SCHEME_HOST_BIN or put scheme-host on the PATH"):
        hostcli.find_binary()
    exe = tmp_path / "scheme-host"
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    assert hostcli.find_binary() == str(exe)


def test_the_wheels_binary_comes_before_path(monkeypatch, tmp_path):
    bundled = tmp_path / "scripts" / "scheme-host"
    bundled.parent.mkdir()
    bundled.write_text("#!/bin/sh\n")
    bundled.chmod(0o755)
    on_path = tmp_path / "scheme-host"
    on_path.write_text("#!/bin/sh\n")
    on_path.chmod(0o755)
    monkeypatch.delenv("SCHEME_HOST_BIN", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(hostcli, "bundled_binaries", lambda: [str(bundled)])
    assert hostcli.find_binary() == str(bundled)
    # The real lookup names this interpreter's scripts directory first.
    monkeypatch.undo()
    import sysconfig

    assert hostcli.bundled_binaries()[0] == os.path.join(sysconfig.get_path("scripts"), "scheme-host")


def test_download_and_unpack_and_reuse(host_env, tmp_path):
    dest = tmp_path / "pkgs" / "obs_x"
    first = asyncio.run(hostcli.download_and_unpack("obs://b/app.zip", str(dest)))
    assert first["reused"] is False
    assert (dest / "main.py").is_file() and (dest / "pkg" / "__init__.py").is_file()
    second = asyncio.run(hostcli.download_and_unpack("obs://b/app.zip", str(dest)))
    assert second["reused"] is True
    calls = host_calls(host_env)
    assert [c[0] for c in calls] == ["download-and-unpack", "download-and-unpack"]
    assert all("--json" in c for c in calls)


def test_missing_object_is_a_typed_error(host_env, tmp_path):
    with pytest.raises(hostcli.SchemeHostError) as err:
        asyncio.run(hostcli.download_and_unpack("obs://b/missing.zip", str(tmp_path / "d")))
    assert err.value.kind == "not-found" and err.value.store_code == "NoSuchKey" and err.value.request_id
    assert not (tmp_path / "d").exists()


def test_cancelling_kills_the_host(tmp_path, monkeypatch):
    pid_file = tmp_path / "pid"
    slow = tmp_path / "slow-host"
    slow.write_text(f"#!/bin/sh\necho $$ > {pid_file}\nexec sleep 60\n")
    slow.chmod(0o755)
    monkeypatch.setenv("SCHEME_HOST_BIN", str(slow))

    async def scenario():
        task = asyncio.create_task(hostcli.download_and_unpack("obs://b/app.zip", str(tmp_path / "d")))
        while not pid_file.exists() or not pid_file.read_text().strip():
            await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    pid = int(pid_file.read_text())
    time.sleep(0.1)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_precompile_reports_each_plugin(host_env):
    done = hostcli.precompile()
    assert [p["name"] for p in done["plugins"]] == [p["name"] for p in hostcli.list_schemes()["plugins"]]
    assert ["precompile", "--json"] in [c[-2:] for c in host_calls(host_env)]
