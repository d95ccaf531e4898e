#!/usr/bin/env python3
"""The two Python sides of `cargo xtask bench`'s upload table: what users do today to put a
working directory into OBS, and what Ray 2.60's own client does with it.

    upload_path.py --impl zip-sdk --dir DIR --endpoint URL --bucket B --key K
        A user's script: `zipfile` (ZIP_DEFLATED) over `os.walk(DIR)`, the entries under one
        top-level directory (DIR's name), into a temporary file (`tempfile`, so TMPDIR says
        where), then the official OBS SDK (esdk-obs-python) uploads it with `uploadFile`,
        its documented call for large files (multipart), with the SDK's defaults: 9 MiB
        parts, one thread, no checkpoint file. `ObsClient(server=URL, keys)` as its README
        constructs it; the keys come from OBS_ACCESS_KEY_ID / OBS_SECRET_ACCESS_KEY.

    upload_path.py --impl ray-pack --dir DIR
        Ray 2.60's own client side of `ray job submit --working-dir DIR`:
        `JobSubmissionClient._upload_working_dir_if_needed`, unchanged, which runs
        `upload_working_dir_if_needed` (the content hash, `get_uri_for_directory`, with Ray's
        default excludes and .gitignore/.rayignore handling), then `_upload_package_if_needed`
        (the hash again, as Ray does), `create_package` into a temporary directory and
        `read_bytes()` of the zip as the request body. There is no cluster: the client's two
        requests to the dashboard (does the package exist, PUT it) are answered in-process
        (404, then 200) and nothing is sent, so the time is packing only.

Prints one JSON line: the call's wall seconds (imports excluded), the bytes uploaded (or, for
ray-pack, the body Ray would PUT), the files in the package, the process's RSS before the
call and its peak, in KiB.
"""

import argparse
import io
import json
import logging
import os
import resource
import sys
import tempfile
import time
import zipfile

# The script's own directory is on sys.path; ray_path imports only the standard library at the top.
from procstat import rss_now_kib


def zip_dir(directory, out_path):
    """How a user zips a directory: os.walk, ZIP_DEFLATED, paths under DIR's own name."""
    directory = os.path.abspath(directory)
    parent = os.path.dirname(directory)
    files = 0
    with zipfile.ZipFile(out_path, "w", zipfile.ZIP_DEFLATED) as z:
        for root, _dirs, names in os.walk(directory):
            for name in names:
                path = os.path.join(root, name)
                z.write(path, os.path.relpath(path, parent))
                files += 1
    return files


def zip_sdk(args):
    from obs import ObsClient

    ak = os.environ.get("OBS_ACCESS_KEY_ID")
    sk = os.environ.get("OBS_SECRET_ACCESS_KEY")
    if not ak or not sk:
        raise SystemExit("OBS_ACCESS_KEY_ID and OBS_SECRET_ACCESS_KEY must be set")

    def call():
        fd, tmp = tempfile.mkstemp(suffix=".zip")
        os.close(fd)
        try:
            packed = time.perf_counter()
            files = zip_dir(args.dir, tmp)
            packed = time.perf_counter() - packed
            size = os.path.getsize(tmp)
            client = ObsClient(access_key_id=ak, secret_access_key=sk, server=args.endpoint)
            try:
                resp = client.uploadFile(args.bucket, args.key, tmp)
            finally:
                client.close()
            if resp.status >= 300:
                raise SystemExit("uploadFile failed: status %s, %s %s" % (resp.status, resp.errorCode, resp.errorMessage))
            return {"files": files, "bytes": size, "pack_s": packed}
        finally:
            os.unlink(tmp)

    return call


def ray_pack(args):
    from ray.dashboard.modules.job.sdk import JobSubmissionClient

    class Answer:
        def __init__(self, status_code):
            self.status_code = status_code
            self.text = ""

    class NoCluster(JobSubmissionClient):
        """Ray's client with its dashboard requests answered here: nothing else differs."""

        def __init__(self):  # the real one connects to a cluster
            self.body = None

        def _do_request(self, method, endpoint, *, data=None, json_data=None, **kwargs):
            if method == "GET" and endpoint.startswith("/api/packages/"):
                return Answer(404)
            if method == "PUT" and endpoint.startswith("/api/packages/"):
                self.body = data
                return Answer(200)
            raise RuntimeError("unexpected request %s %s" % (method, endpoint))

    def call():
        client = NoCluster()
        runtime_env = {"working_dir": args.dir}
        client._upload_working_dir_if_needed(runtime_env)
        if client.body is None:
            raise SystemExit("Ray's client did not build a package for %s" % args.dir)
        return {"bytes": len(client.body), "uri": runtime_env["working_dir"], "body": client.body}

    return call


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--impl", choices=["zip-sdk", "ray-pack"], required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--endpoint")
    ap.add_argument("--bucket")
    ap.add_argument("--key")
    args = ap.parse_args()
    if args.impl == "zip-sdk" and not (args.endpoint and args.bucket and args.key):
        ap.error("zip-sdk needs --endpoint, --bucket and --key")
    # Ray warns about default excludes and logs the upload; the bench reads stdout only.
    logging.disable(logging.WARNING)
    call = zip_sdk(args) if args.impl == "zip-sdk" else ray_pack(args)
    before = rss_now_kib()
    started = time.perf_counter()
    out = call()
    wall = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    body = out.pop("body", None)
    if body is not None:
        # After the clock: the package's central directory, to count what Ray packed.
        with zipfile.ZipFile(io.BytesIO(body)) as z:
            out["files"] = sum(1 for i in z.infolist() if not i.is_dir())
    out.update({"impl": args.impl, "wall_s": wall, "rss_before_kib": before, "maxrss_kib": peak})
    print(json.dumps(out))


if __name__ == "__main__":
    sys.exit(main())
