"""Fixtures for the package's own tests: the stand-in scheme-host and OBS server from
tests/fakes, so these run without Rust builds or a Ray cluster."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

FAKES = Path(__file__).resolve().parent / "fakes"
# Test this tree's code, here and in the interpreters the tests start, whatever is installed.
SRC = str(Path(__file__).resolve().parent.parent / "src")
sys.path.insert(0, SRC)
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (SRC, os.environ.get("PYTHONPATH")) if p)
SECRET = "SKunit-test-secret-0123456789"


@pytest.fixture(autouse=True)
def no_installed_scheme_host(monkeypatch):
    """The venv running these tests may hold the platform wheel's scheme-host: the tests see
    only the binaries they set up themselves."""
    from ray_scheme_host import hostcli

    monkeypatch.setattr(hostcli, "bundled_binaries", lambda: [])


@pytest.fixture(scope="session")
def obs_objects(tmp_path_factory):
    import zipfile

    root = tmp_path_factory.mktemp("objects")
    app = root / "app.zip"
    with zipfile.ZipFile(app, "w") as z:
        z.writestr("app/main.py", "print('hi')\n")
        z.writestr("app/pkg/__init__.py", "VALUE = 1\n")
    wheel = root / "demo-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr("demo/__init__.py", "VALUE = 'wheel'\n")
        z.writestr("demo-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n")
        z.writestr("demo-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\nGenerator: t\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        z.writestr("demo-1.0.dist-info/RECORD", "")
    return {"b/app.zip": app, "b/demo-1.0-py3-none-any.whl": wheel}


@pytest.fixture(scope="session")
def obs_server(obs_objects):
    cmd = [sys.executable, str(FAKES / "fake_obs_server.py"), "--listen", "127.0.0.1:0", "--cred", f"AKUNIT:{SECRET}"]
    for key, path in obs_objects.items():
        cmd += ["--put", f"{key}={path}"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    info = json.loads(proc.stdout.readline())
    yield info
    proc.kill()
    proc.wait()


@pytest.fixture
def host_env(obs_server, tmp_path, monkeypatch):
    """The environment a Ray node gives scheme-host: binary, plugins, store credentials."""
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "obs.wasm").write_bytes(b"")
    log = tmp_path / "host-calls.log"
    values = {
        "SCHEME_HOST_BIN": str(FAKES / "fake_scheme_host.py"),
        "SCHEME_HOST_PLUGIN_DIR": str(plugins),
        "OBS_ENDPOINT": obs_server["endpoint"],
        "OBS_ACCESS_KEY_ID": "AKUNIT",
        "OBS_SECRET_ACCESS_KEY": SECRET,
        "FAKE_SCHEME_HOST_LOG": str(log),
    }
    for k, v in values.items():
        monkeypatch.setenv(k, v)
    values["log"] = log
    values["plugins"] = plugins
    return values


def host_calls(env) -> list:
    log = env["log"]
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
