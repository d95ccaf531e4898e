#!/usr/bin/env python3
"""Ray 2.60's own path for a remote zip package, for `cargo xtask bench`.

Reproduces, step for step, what a Ray 2.60.0 node does for
`runtime_env={"working_dir": "http://.../pkg.zip"}` (read off the wheel's
`ray/_private/runtime_env/packaging.py` and `protocol.py`):

1. `download_and_unpack_package`: flock `<pkg>.lock`, derive the local names
   (`http_<sha1 of the URI>.zip`, directory without `.zip`);
2. `ProtocolsProvider.download_remote_uri`: smart_open opens the URL with Ray's curl-like
   headers and 60 s timeout, then `fout.write(fin.read())` -- the whole object in memory,
   then written to `<pkg>.zip`;
3. `unzip_package(remove_top_level_directory=True, unlink_zip=True)`: `ZipFile.namelist()`,
   per member the path checks, `os.makedirs`, `zip_ref.open` + `shutil.copyfileobj`,
   `os.chmod(external_attr >> 16)`; then `get_top_level_dir_from_compressed_package` opens
   the zip again, and `remove_dir_from_filepaths` moves the children up through a temporary
   directory; the zip is unlinked.

For `s3://bucket/key.zip` step 2 is `_handle_s3_protocol` instead: a new `boto3.Session()`;
a signed `session.client("s3")` when it finds credentials, else an unsigned client; smart_open
opens the object with that client (`transport_params={"client": ...}`) and reads it whole.
Ray takes no endpoint or client from its caller, so the endpoint, keys and region come from
the environment, as for any boto3 user (`AWS_ENDPOINT_URL_S3`, `AWS_ACCESS_KEY_ID`, ...);
botocore addresses an IP endpoint path-style by itself.

`--impl ray` calls Ray's own `download_and_unpack_package` instead (needs `ray` importable).
Prints one JSON line: wall seconds of the call (imports excluded: a Ray agent is long-lived),
peak RSS of the process and its RSS before the call, in KiB.
"""

import argparse
import asyncio
import fcntl
import hashlib
import json
import logging
import ntpath
import os
import resource
import shutil
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path
from zipfile import ZipFile

from procstat import rss_now_kib

MAC_OS_ZIP_HIDDEN_DIR_NAME = "__MACOSX"
RAY_USER_AGENT = "ray-runtime-env-curl/1.0"


def local_names(base_directory, pkg_uri):
    """`_get_local_path` + `get_local_dir_from_uri` for a remote `.zip` URI."""
    uri = urllib.parse.urlparse(pkg_uri)
    suffix = Path(uri.netloc + uri.path).suffix
    digest = hashlib.sha1(pkg_uri.encode("utf-8")).hexdigest()
    pkg_file = Path(os.path.join(base_directory, f"{uri.scheme}_{digest}{suffix}"))
    return pkg_file, pkg_file.with_suffix("")


def open_http(uri):
    """`ProtocolsProvider._handle_http_protocol`: smart_open with Ray's headers."""
    try:
        from smart_open import open as smart_open_open
    except ImportError:
        # Same semantics (one response, read whole) without smart_open.
        import urllib.request

        req = urllib.request.Request(uri, headers={"User-Agent": RAY_USER_AGENT, "Accept": "*/*"})
        return urllib.request.urlopen(req, timeout=60)
    params = {"headers": {"User-Agent": RAY_USER_AGENT, "Accept": "*/*"}, "timeout": 60}
    return smart_open_open(uri, "rb", transport_params=params)


def open_s3(uri):
    """`ProtocolsProvider._handle_s3_protocol`: a fresh session and client on every call."""
    import boto3
    from smart_open import open as smart_open_open

    session = boto3.Session()
    if session.get_credentials():
        client = session.client("s3")
    else:
        from botocore import UNSIGNED
        from botocore.config import Config

        client = boto3.client("s3", config=Config(signature_version=UNSIGNED))
    return smart_open_open(uri, "rb", transport_params={"client": client})


def download_remote_uri(source_uri, dest_file):
    """`ProtocolsProvider.download_remote_uri`, http(s) and s3 branches."""
    opener = open_s3 if urllib.parse.urlparse(source_uri).scheme == "s3" else open_http
    with opener(source_uri) as fin:
        with open(dest_file, "wb") as fout:
            fout.write(fin.read())


def get_top_level_dir_from_compressed_package(package_path):
    package_zip = ZipFile(package_path, "r")
    top_level_directory = None

    def is_safe_top_level_dir(dir_name):
        return (
            bool(dir_name)
            and dir_name not in [os.curdir, os.pardir]
            and "/" not in dir_name
            and "\\" not in dir_name
            and not os.path.isabs(dir_name)
            and not ntpath.isabs(dir_name)
            and not ntpath.splitdrive(dir_name)[0]
        )

    for file_name in package_zip.namelist():
        if top_level_directory is None:
            if "/" not in file_name:
                return None
            dir_name = file_name.split("/")[0]
            if dir_name == MAC_OS_ZIP_HIDDEN_DIR_NAME:
                continue
            if not is_safe_top_level_dir(dir_name):
                return None
            top_level_directory = dir_name
        elif "/" not in file_name or file_name.split("/")[0] not in [
            top_level_directory,
            MAC_OS_ZIP_HIDDEN_DIR_NAME,
        ]:
            return None
    return top_level_directory


def remove_dir_from_filepaths(base_dir, rdir):
    with tempfile.TemporaryDirectory() as tmp_dir:
        shutil.move(os.path.join(base_dir, rdir), os.path.join(tmp_dir, rdir))
        for child in os.listdir(os.path.join(tmp_dir, rdir)):
            shutil.move(os.path.join(tmp_dir, rdir, child), os.path.join(base_dir, child))


def unzip_package(package_path, target_dir, remove_top_level_directory, unlink_zip, logger):
    target_real = os.path.realpath(target_dir)
    try:
        os.mkdir(target_dir)
    except FileExistsError:
        logger.info(f"Directory at {target_dir} already exists")
    with ZipFile(str(package_path), "r") as zip_ref:
        for member in zip_ref.namelist():
            if "\\" in member or os.path.isabs(member) or ntpath.isabs(member) or ntpath.splitdrive(member)[0]:
                logger.warning(f"Skipping unsafe path in zip: {member}")
                continue
            member_path = os.path.join(target_dir, member)
            resolved = os.path.realpath(member_path)
            try:
                common = os.path.commonpath([target_real, resolved])
                if os.path.normcase(common) != os.path.normcase(target_real):
                    logger.warning(f"Skipping unsafe path in zip: {member}")
                    continue
            except ValueError:
                continue
            zip_info = zip_ref.getinfo(member)
            if member.endswith("/"):
                os.makedirs(member_path, exist_ok=True)
            else:
                parent_dir = os.path.dirname(member_path)
                if parent_dir:
                    os.makedirs(parent_dir, exist_ok=True)
                with zip_ref.open(member) as source, open(member_path, "wb") as target:
                    shutil.copyfileobj(source, target)
                if zip_info.external_attr:
                    mode = zip_info.external_attr >> 16
                    if mode:
                        os.chmod(member_path, mode)
    if remove_top_level_directory:
        top_level_directory = get_top_level_dir_from_compressed_package(package_path)
        if top_level_directory is not None:
            macos_dir = os.path.join(target_dir, MAC_OS_ZIP_HIDDEN_DIR_NAME)
            if os.path.isdir(macos_dir):
                shutil.rmtree(macos_dir)
            if os.path.isdir(os.path.join(target_dir, top_level_directory)):
                remove_dir_from_filepaths(target_dir, top_level_directory)
    if unlink_zip:
        Path(package_path).unlink()


def download_and_unpack_package(pkg_uri, base_directory, logger, overwrite=True):
    pkg_file, local_dir = local_names(base_directory, pkg_uri)
    with open(str(pkg_file) + ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if local_dir.exists() and not overwrite:
                return str(local_dir)
            if local_dir.exists():
                shutil.rmtree(local_dir)
            download_remote_uri(pkg_uri, pkg_file)
            unzip_package(pkg_file, local_dir, remove_top_level_directory=True, unlink_zip=True, logger=logger)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return str(local_dir)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--uri", required=True)
    ap.add_argument("--base-dir", required=True)
    ap.add_argument("--impl", choices=["repro", "ray"], default="repro")
    args = ap.parse_args()
    logger = logging.getLogger("ray_path")
    logger.addHandler(logging.NullHandler())
    logger.propagate = False
    os.makedirs(args.base_dir, exist_ok=True)
    try:
        # Ray imports smart_open (and for s3, boto3) on first use; a running agent has them
        # loaded already. Sessions and clients are not warmed: Ray makes new ones every call.
        if urllib.parse.urlparse(args.uri).scheme == "s3":
            import boto3  # noqa: F401
            import smart_open.s3  # noqa: F401
        else:
            import smart_open.http  # noqa: F401
    except ImportError:
        pass
    if args.impl == "ray":
        from ray._private.runtime_env.packaging import download_and_unpack_package as ray_fn

        def call():
            return asyncio.run(ray_fn(args.uri, args.base_dir, logger=logger, overwrite=True))
    else:

        def call():
            return download_and_unpack_package(args.uri, args.base_dir, logger)

    before = rss_now_kib()
    started = time.perf_counter()
    local_dir = call()
    wall = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    files = sum(len(f) for _, _, f in os.walk(local_dir))
    print(json.dumps({"impl": args.impl, "wall_s": wall, "rss_before_kib": before, "maxrss_kib": peak, "files": files, "dir": local_dir}))


if __name__ == "__main__":
    sys.exit(main())
