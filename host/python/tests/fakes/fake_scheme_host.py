#!/usr/bin/env python3
"""A stand-in for the `scheme-host` binary, implementing its CLI contract in plain Python.

For tests of the Python package only (the real-Ray tests use the real binary). Plugins are
`<scheme>.wasm` files in the plugin directory (content ignored); every scheme fetches
`$OBS_ENDPOINT/<bucket>/<key>` path-style and maps OBS XML errors to the host's JSON.
`upload` and `pack-and-upload` PUT there the same way. The packer follows Ray's rules in a
simplified form (patterns are fnmatch globs on a name or relative path, `.gitignore` and
`.rayignore` only at the top): enough for the package's own logic, not a second packer.
Writes an invocation line to `$FAKE_SCHEME_HOST_LOG` if set.
"""

import argparse
import fcntl
import fnmatch
import hashlib
import io
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


def store_request(u, method="GET", data=None):
    endpoint = os.environ.get("OBS_ENDPOINT")
    ak = os.environ.get("OBS_ACCESS_KEY_ID")
    if not endpoint or not ak or not os.environ.get("OBS_SECRET_ACCESS_KEY"):
        raise Fail("bad-credentials", "OBS_ENDPOINT, OBS_ACCESS_KEY_ID and OBS_SECRET_ACCESS_KEY must be set", exit_code=5)
    return urllib.request.Request(
        f"{endpoint.rstrip('/')}/{u.netloc}{u.path}", data=data, method=method, headers={"Authorization": f"OBS {ak}:fake"}
    )


def fetch(u, method="GET", data=None):
    req = store_request(u, method, data)
    endpoint = req.full_url
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.read()
    except urllib.error.HTTPError as e:
        body = e.read(4096).decode("utf-8", "replace")
        code = re.search(r"<Code>([^<]*)</Code>", body)
        rid = re.search(r"<RequestId>([^<]*)</RequestId>", body)
        code = code.group(1) if code else e.headers.get("x-obs-error-code")
        rid = rid.group(1) if rid else e.headers.get("x-obs-request-id")
        kind = {404: "not-found", 403: "access-denied"}.get(e.code, "network")
        raise Fail(kind, f"the store answered HTTP {e.code}", code, rid, e.code, exit_code=4 if e.code == 404 else 5)
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


def exists(u):
    try:
        fetch(u, method="HEAD")
    except Fail as e:
        if e.error["kind"] == "not-found":
            return False
        raise
    return True


def target_plugin(args, uri):
    u = urlparse(uri)
    if not u.scheme or not u.netloc:
        raise Fail("invalid-uri", f"not an object URI: {uri}", exit_code=3)
    plugin = next((p for p in plugins(args) if u.scheme in p["schemes"]), None)
    if plugin is None:
        raise Fail("plugin", f"no plugin handles scheme {u.scheme!r}")
    return u, plugin


def upload(args):
    u, plugin = target_plugin(args, args.uri)
    if not u.path.strip("/") or u.path.endswith("/"):
        raise Fail("invalid-uri", f"not an object URI: {args.uri}", exit_code=3)
    with open(args.file, "rb") as f:
        data = f.read()
    fetch(u, method="PUT", data=data)
    return {"uri": args.uri, "uploaded": True, "bytes": len(data), "parts": 1, "retries": 0, "etag": '"fake"', "timings_ms": {"total_ms": 0}, "plugin": plugin}


def _matches(rel, patterns):
    name = rel.rsplit("/", 1)[-1]
    for pattern in patterns:
        pattern = pattern.strip().rstrip("/")
        if pattern and (fnmatch.fnmatch(name, pattern) or fnmatch.fnmatch(rel, pattern.lstrip("/"))):
            return True
    return False


def _ignore_file(root, name):
    path = os.path.join(root, name)
    if not os.path.isfile(path):
        return []
    with open(path) as f:
        return [line for line in f.read().splitlines() if line.strip() and not line.startswith("#")]


def pack_listing(root, excludes):
    """Ray's rules, simplified: (relative path, bytes or None for an empty directory)."""
    defaults = os.environ.get("RAY_OVERRIDE_RUNTIME_ENV_DEFAULT_EXCLUDES", ".git,.venv,venv,__pycache__")
    patterns = [p.strip() for p in defaults.split(",") if p.strip()] + list(excludes)
    patterns += _ignore_file(root, ".rayignore")
    if os.environ.get("RAY_RUNTIME_ENV_IGNORE_GITIGNORE", "0") != "1":
        patterns += _ignore_file(root, ".gitignore")
    listing = []
    for dirpath, dirs, files in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root).replace(os.sep, "/")
        rel_dir = "" if rel_dir == "." else rel_dir + "/"
        dirs[:] = sorted(d for d in dirs if not _matches(rel_dir + d, patterns))
        kept = sorted(f for f in files if not _matches(rel_dir + f, patterns))
        for f in kept:
            with open(os.path.join(dirpath, f), "rb") as fh:
                listing.append((rel_dir + f, fh.read()))
        if not dirs and not kept and rel_dir:
            listing.append((rel_dir, None))
    return listing


def pack_and_upload(args):
    root = os.path.abspath(args.dir)
    if not os.path.isdir(root):
        raise Fail("config", f"{args.dir} is not a directory", exit_code=2)
    prefix = args.prefix if args.prefix.endswith("/") else args.prefix + "/"
    target_plugin(args, prefix)
    listing = pack_listing(root, args.exclude)
    inner = os.path.basename(root) + "/" if args.include_parent_dir else ""
    digest = hashlib.sha256()
    for rel, data in listing:
        digest.update(f"{inner}{rel}\0{len(data) if data is not None else -1}\0".encode())
        digest.update(data or b"")
    name = f"_ray_pkg_{digest.hexdigest()[:32]}"
    uri = f"{prefix}{name}.zip"
    u = urlparse(uri)
    files = sum(1 for _, data in listing if data is not None)
    size = sum(len(data or b"") for _, data in listing)
    if exists(u):
        return {"uri": uri, "uploaded": False, "files": files, "bytes": size, "timings_ms": {"total_ms": 0}, "plugin": target_plugin(args, uri)[1]}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(f"{name}/", "")
        for rel, data in listing:
            if data is None:
                z.writestr(f"{name}/{inner}{rel}", "")
            else:
                z.writestr(f"{name}/{inner}{rel}", data)
    fetch(u, method="PUT", data=buf.getvalue())
    return {"uri": uri, "uploaded": True, "files": files, "bytes": size, "timings_ms": {"total_ms": 0}, "plugin": target_plugin(args, uri)[1]}


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
    u = sub.add_parser("upload")
    u.add_argument("file")
    u.add_argument("uri")
    u.add_argument("--json", action="store_true", dest="json2")
    k = sub.add_parser("pack-and-upload")
    k.add_argument("dir")
    k.add_argument("prefix")
    k.add_argument("--exclude", action="append", default=[])
    k.add_argument("--include-parent-dir", action="store_true")
    k.add_argument("--json", action="store_true", dest="json2")
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
        elif args.cmd == "upload":
            out = upload(args)
        elif args.cmd == "pack-and-upload":
            out = pack_and_upload(args)
        else:
            out = download_and_unpack(args)
    except Fail as e:
        print(json.dumps({"ok": False, "error": e.error}))
        return e.exit_code
    print(json.dumps(dict(out, ok=True)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
