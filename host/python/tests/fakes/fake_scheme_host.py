#!/usr/bin/env python3
"""A stand-in for the `scheme-host` binary, implementing its CLI contract in plain Python.

For tests of the Python package only (the real-Ray tests use the real binary). Plugins are
`<scheme>.wasm` files in the plugin directory (content ignored); every scheme fetches
`$OBS_ENDPOINT/<bucket>/<key>` path-style and maps OBS XML errors to the host's JSON.
Writes an invocation line to `$FAKE_SCHEME_HOST_LOG` if set.
"""

import argparse
import fcntl
import hashlib
import json
import os
import re
import shutil
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from urllib.parse import urlparse

FORMATS = {".zip": "zip", ".tar.gz": "tar-gz", ".tgz": "tar-gz", ".tar.xz": "tar-xz", ".whl": "wheel"}


class Fail(Exception):
    def __init__(self, kind, message, store_code=None, request_id=None, http_status=None, exit_code=1):
        super().__init__(message)
        self.error = {
            "kind": kind,
            "message": message,
            "store_code": store_code,
            "request_id": request_id,
            "http_status": http_status,
        }
        self.exit_code = exit_code


def plugin_dir(args):
    if args.plugin_dir:
        return args.plugin_dir
    if os.environ.get("SCHEME_HOST_PLUGIN_DIR"):
        return os.environ["SCHEME_HOST_PLUGIN_DIR"]
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "plugins")


def plugins(args):
    d = plugin_dir(args)
    found = []
    for name in sorted(os.listdir(d)) if os.path.isdir(d) else []:
        if name.endswith(".wasm"):
            found.append({"name": name[:-5], "version": "0.1.0", "schemes": [name[:-5]], "path": os.path.join(d, name)})
    return found


def parse(args, uri):
    u = urlparse(uri)
    if not u.scheme or not u.netloc or not u.path.strip("/"):
        raise Fail("invalid-uri", f"not a package URI: {uri}", exit_code=3)
    plugin = next((p for p in plugins(args) if u.scheme in p["schemes"]), None)
    if plugin is None:
        raise Fail("plugin", f"no plugin handles scheme {u.scheme!r}")
    ext = next((e for e in sorted(FORMATS, key=len, reverse=True) if u.path.endswith(e)), None)
    if ext is None:
        raise Fail("unsupported", f"unsupported package format: {uri}")
    name = u.path.rsplit("/", 1)[-1] if ext == ".whl" else f"{u.scheme}_{hashlib.sha1(uri.encode()).hexdigest()}{ext}"
    return {"uri": uri, "scheme": u.scheme, "package_name": name, "extension": ext, "format": FORMATS[ext], "display": uri, "plugin": plugin["name"]}, u, plugin


def fetch(u):
    endpoint = os.environ.get("OBS_ENDPOINT")
    ak = os.environ.get("OBS_ACCESS_KEY_ID")
    if not endpoint or not ak or not os.environ.get("OBS_SECRET_ACCESS_KEY"):
        raise Fail("bad-credentials", "OBS_ENDPOINT, OBS_ACCESS_KEY_ID and OBS_SECRET_ACCESS_KEY must be set", exit_code=5)
    req = urllib.request.Request(f"{endpoint.rstrip('/')}/{u.netloc}{u.path}", headers={"Authorization": f"OBS {ak}:fake"})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.read()
    except urllib.error.HTTPError as e:
        body = e.read(4096).decode("utf-8", "replace")
        code = re.search(r"<Code>([^<]*)</Code>", body)
        rid = re.search(r"<RequestId>([^<]*)</RequestId>", body)
        kind = {404: "not-found", 403: "access-denied"}.get(e.code, "network")
        raise Fail(kind, f"the store answered HTTP {e.code}", code and code.group(1), rid and rid.group(1), e.code, exit_code=4 if e.code == 404 else 5)
    except OSError as e:
        raise Fail("network", f"cannot reach {endpoint}: {e}", exit_code=6)


def strip_single_top(staging):
    entries = [e for e in os.listdir(staging) if e != "__MACOSX"]
    if len(entries) == 1 and os.path.isdir(os.path.join(staging, entries[0])):
        return os.path.join(staging, entries[0])
    return staging


def unpack(data, ext, target):
    with tempfile.NamedTemporaryFile() as f:
        f.write(data)
        f.flush()
        if ext == ".zip":
            with zipfile.ZipFile(f.name) as z:
                z.extractall(target)
        else:
            with tarfile.open(f.name) as t:
                t.extractall(target, filter="data")


def locked(dest):
    parent, name = os.path.split(os.path.abspath(dest))
    os.makedirs(parent, exist_ok=True)
    fd = os.open(os.path.join(parent, f".{name}.scheme-host.lock"), os.O_CREAT | os.O_RDWR, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def download_and_unpack(args):
    started = time.monotonic()
    info, u, plugin = parse(args, args.uri)
    dest = os.path.abspath(args.dest)
    fd = locked(dest)
    try:
        if os.path.exists(dest) and not args.overwrite:
            return dict(info, path=dest, reused=True, entries=0, files=0, directories=0, bytes_downloaded=0, bytes_written=0, timings_ms={"total_ms": 0}, plugin=plugin)
        data = fetch(u)
        staging = tempfile.mkdtemp(dir=os.path.dirname(dest), prefix=f".{os.path.basename(dest)}.scheme-host-staging-")
        try:
            unpack(data, info["extension"], staging)
            root = strip_single_top(staging)
            files = sum(len(f) for _, _, f in os.walk(root))
            if os.path.exists(dest):
                shutil.rmtree(dest)
            os.rename(root, dest)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return dict(info, path=dest, reused=False, entries=files, files=files, directories=0, bytes_downloaded=len(data), bytes_written=len(data), timings_ms={"total_ms": int((time.monotonic() - started) * 1000)}, plugin=plugin)
    finally:
        os.close(fd)


def download(args):
    info, u, plugin = parse(args, args.uri)
    if os.path.exists(args.file) and not args.overwrite:
        raise Fail("config", f"{args.file} exists", exit_code=2)
    data = fetch(u)
    tmp = args.file + ".part"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, args.file)
    return dict(info, path=os.path.abspath(args.file), reused=False, bytes_downloaded=len(data), timings_ms={"total_ms": 0}, plugin=plugin)


def main():
    p = argparse.ArgumentParser(prog="scheme-host")
    p.add_argument("--plugin-dir")
    p.add_argument("--config")
    p.add_argument("--json", action="store_true")
    sub = p.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("download-and-unpack")
    d.add_argument("uri")
    d.add_argument("dest")
    d.add_argument("--overwrite", action="store_true")
    d.add_argument("--json", action="store_true", dest="json2")
    f = sub.add_parser("download")
    f.add_argument("uri")
    f.add_argument("file")
    f.add_argument("--overwrite", action="store_true")
    f.add_argument("--json", action="store_true", dest="json2")
    q = sub.add_parser("parse-uri")
    q.add_argument("uri")
    q.add_argument("--json", action="store_true", dest="json2")
    s = sub.add_parser("schemes")
    s.add_argument("--json", action="store_true", dest="json2")
    c = sub.add_parser("precompile")
    c.add_argument("--json", action="store_true", dest="json2")
    args = p.parse_args()
    log = os.environ.get("FAKE_SCHEME_HOST_LOG")
    if log:
        with open(log, "a") as fh:
            fh.write(json.dumps(sys.argv[1:]) + "\n")
    try:
        if args.cmd == "schemes":
            out = {"plugin_dir": plugin_dir(args), "plugins": plugins(args), "broken": []}
        elif args.cmd == "precompile":
            out = {"plugin_dir": plugin_dir(args), "cache_dir": "/nonexistent", "plugins": plugins(args), "broken": []}
        elif args.cmd == "parse-uri":
            out = parse(args, args.uri)[0]
        elif args.cmd == "download":
            out = download(args)
        else:
            out = download_and_unpack(args)
    except Fail as e:
        print(json.dumps({"ok": False, "error": e.error}))
        return e.exit_code
    print(json.dumps(dict(out, ok=True)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
