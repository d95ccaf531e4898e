"""Fixtures for the official-SDK interop tests: the binaries under test and a fresh
OBS-compatible server per test module."""

import json
import os
import subprocess
import sys

import pytest

# Keys that break naive encoders. Both SDK interops and the plugins take a key literally.
HARD_KEYS = [
    "simple.zip",
    "nested/prefix/deeper/job-1.zip",
    "with space/job file.zip",
    "plus+sign/a+b.zip",
    "percent/100%/x%2Fy.zip",
    "tilde~dir/~job~.zip",
    "sub/!*'()/job.zip",
    "unicode/数据/作业-ü.zip",
    "query?and#hash/job.zip",
    "semi;colon,comma=eq&amp/job.zip",
]


def _binary(var):
    path = os.environ.get(var)
    if not path or not os.path.isfile(path):
        pytest.fail(f"{var} must name the built binary (run through `cargo xtask test`), got {path!r}")
    return path


@pytest.fixture(scope="session")
def scheme_host():
    return _binary("SCHEME_HOST_BIN")


@pytest.fixture(scope="session")
def plugin_dir():
    d = os.environ.get("SCHEME_HOST_PLUGIN_DIR")
    if not d or not os.path.isfile(os.path.join(d, "obs.wasm")):
        pytest.fail(f"SCHEME_HOST_PLUGIN_DIR must hold obs.wasm, got {d!r}")
    return d


class Server:
    def __init__(self, binary, creds, extra_args=()):
        args = [binary, "--listen", "127.0.0.1:0", "--crc64", *extra_args]
        for c in creds:
            args += ["--cred", c]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stdin=subprocess.PIPE, text=True)
        ready = json.loads(self.proc.stdout.readline())
        self.endpoint = ready["endpoint"]
        self.port = ready["port"]

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


@pytest.fixture
def obs_server():
    servers = []

    def start(*creds, args=()):
        s = Server(_binary("OBS_SERVER_BIN"), creds, args)
        servers.append(s)
        return s

    yield start
    for s in servers:
        s.stop()
