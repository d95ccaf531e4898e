"""Runs the `scheme-host` binary and turns its one JSON object into a dict or a typed error.

The binary is `$SCHEME_HOST_BIN`, else the one the ray-scheme-host wheel installed beside
this interpreter, else `scheme-host` on `PATH`. It reads its own settings
(`SCHEME_HOST_PLUGIN_DIR`, `SCHEME_HOST_CONFIG`, the store credentials its plugins declare)
from the environment it inherits from the Ray process that runs it; nothing secret is ever
put on its command line.
"""

import asyncio
import json
import os
import shutil
import subprocess
import sysconfig
from typing import List, Mapping, Optional, Sequence

from ray_scheme_host.redact import redact

BIN_ENV = "SCHEME_HOST_BIN"
DEFAULT_BIN_NAME = "scheme-host"
# Bytes of stderr quoted in an error when the host died without a JSON answer.
_STDERR_TAIL = 2000
# `schemes` and `parse-uri` only load plugins; anything slower is a hung host.
QUERY_TIMEOUT_S = 60.0


class SchemeHostError(RuntimeError):
    """A failed `scheme-host` call, with the store's own error code and request id if any.

    `kind` is the host's error kind (`not-found`, `access-denied`, ...) or one of ours:
    `not-installed` (no binary), `host-failure` (no usable JSON answer), `timeout`.
    """

    def __init__(
        self,
        kind: str,
        message: str,
        uri: Optional[str] = None,
        store_code: Optional[str] = None,
        request_id: Optional[str] = None,
        http_status: Optional[int] = None,
    ):
        self.kind = kind
        self.message = redact(message)
        self.uri = uri
        self.store_code = store_code
        self.request_id = request_id
        self.http_status = http_status
        super().__init__(str(self))

    def __str__(self) -> str:
        head = f"{self.uri}: " if self.uri else ""
        details = []
        if self.store_code:
            details.append(f"store code {self.store_code}")
        if self.request_id:
            details.append(f"request id {self.request_id}")
        if self.http_status:
            details.append(f"HTTP {self.http_status}")
        tail = f" [{', '.join(details)}]" if details else ""
        return f"{head}scheme-host {self.kind}: {self.message}{tail}"

    def __reduce__(self):
        # Ray pickles exceptions across processes; keep every field.
        return (
            SchemeHostError,
            (self.kind, self.message, self.uri, self.store_code, self.request_id, self.http_status),
        )


def bundled_binaries() -> List[str]:
    """Where the platform wheel puts scheme-host: this interpreter's scripts directory, and
    the user scheme's for `pip install --user`."""
    places = []
    for scheme in (None, f"{os.name}_user"):
        try:
            scripts = sysconfig.get_path("scripts", scheme) if scheme else sysconfig.get_path("scripts")
        except KeyError:
            continue
        if scripts:
            places.append(os.path.join(scripts, DEFAULT_BIN_NAME))
    return places


def find_binary() -> str:
    """`$SCHEME_HOST_BIN`, else the one the wheel installed beside this interpreter, else
    `scheme-host` on PATH."""
    explicit = os.environ.get(BIN_ENV)
    if explicit:
        if not (os.path.isfile(explicit) and os.access(explicit, os.X_OK)):
            raise SchemeHostError("not-installed", f"{BIN_ENV}={explicit} is not an executable file")
        return explicit
    looked = bundled_binaries()
    for candidate in looked:
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which(DEFAULT_BIN_NAME)
    if found is None:
        raise SchemeHostError(
            "not-installed",
            f"the {DEFAULT_BIN_NAME} binary was not found (looked at {', '.join(looked)} and PATH): "
            "pip install ray-scheme-host into the Python that runs Ray (it installs scheme-host "
            f"beside it), or set {BIN_ENV} or put {DEFAULT_BIN_NAME} on the PATH of the Ray "
            "processes (the environment of `ray start`) on this node",
        )
    return found


def command(args: Sequence[str]) -> List[str]:
    return [find_binary(), *args, "--json"]


def interpret(returncode: int, stdout: bytes, stderr: bytes, uri: Optional[str]) -> dict:
    """Maps one finished host run to its JSON answer, raising on any failure."""
    text = stdout.decode("utf-8", "replace").strip()
    answer = None
    if text:
        try:
            answer = json.loads(text)
        except ValueError:
            answer = None
    if isinstance(answer, dict) and answer.get("ok") is True and returncode == 0:
        return answer
    if isinstance(answer, dict) and answer.get("ok") is False and isinstance(answer.get("error"), dict):
        err = answer["error"]
        raise SchemeHostError(
            kind=str(err.get("kind") or "unknown"),
            message=str(err.get("message") or "no message"),
            uri=uri,
            store_code=err.get("store_code"),
            request_id=err.get("request_id"),
            http_status=err.get("http_status"),
        )
    tail = stderr.decode("utf-8", "replace").strip()[-_STDERR_TAIL:]
    raise SchemeHostError(
        "host-failure",
        f"scheme-host exited with status {returncode} without a JSON answer"
        + (f"; stderr: {tail}" if tail else ""),
        uri=uri,
    )


def run(
    args: Sequence[str],
    uri: Optional[str] = None,
    timeout: Optional[float] = QUERY_TIMEOUT_S,
    env: Optional[Mapping[str, str]] = None,
) -> dict:
    """One host call; `env` adds to (or overrides in) the environment it inherits, and
    `timeout` None waits as long as the host works (uploads of large trees)."""
    argv = command(args)
    try:
        done = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            env=None if env is None else {**os.environ, **env},
        )
    except subprocess.TimeoutExpired:
        raise SchemeHostError("timeout", f"{argv[1]} did not finish within {timeout:.0f} s", uri=uri)
    return interpret(done.returncode, done.stdout, done.stderr, uri)


async def run_async(args: Sequence[str], uri: Optional[str] = None) -> dict:
    """Runs the host without blocking the event loop; cancelling the caller kills the host.

    No timeout of our own: the host enforces its configured deadline, and Ray cancels a
    runtime_env setup that exceeds `setup_timeout_seconds`.
    """
    argv = command(args)
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        stdout, stderr = await proc.communicate()
    except BaseException:
        # Cancelled (setup timeout) or interrupted: never leave a host running behind us;
        # its staging directory is removed by the next host that takes the package lock.
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        raise
    return interpret(proc.returncode, stdout, stderr, uri)


# Compiling a plugin takes about a second per megabyte of wasm on a small node.
PRECOMPILE_TIMEOUT_S = 300.0


def precompile() -> dict:
    """Compiles every installed plugin into the host's cache now, so that the first job on
    this node does not pay for it inside its runtime_env setup."""
    return run(["precompile"], timeout=PRECOMPILE_TIMEOUT_S)


async def download_and_unpack(uri: str, dest: str, overwrite: bool = False) -> dict:
    args = ["download-and-unpack", uri, str(dest)]
    if overwrite:
        args.append("--overwrite")
    return await run_async(args, uri=uri)


async def download(uri: str, file: str) -> dict:
    # The file is a scratch copy owned by the caller's lock: replacing a leftover is right.
    return await run_async(["download", uri, str(file), "--overwrite"], uri=uri)


def list_schemes() -> dict:
    return run(["schemes"])
