#!/usr/bin/env python3
"""A stand-in for the `obs-server` test binary: same command line, same first stdout line.

`--listen 127.0.0.1:0 --cred AK:SK --bucket NAME --put BUCKET/KEY=FILE` serves the listed
objects path-style; a missing key answers 404 with an OBS `NoSuchKey` XML body and a
request id; a request without the access key answers 403. PUT stores an object, HEAD
answers whether one exists, and `GET /__admin/objects/BUCKET` lists the keys (as the real
obs-server's admin API does). For the Python package's tests.
"""

import argparse
import json
import sys
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--listen", default="127.0.0.1:0")
    p.add_argument("--cred", action="append", default=[])
    p.add_argument("--bucket", action="append", default=[])
    p.add_argument("--put", action="append", default=[])
    args = p.parse_args()
    objects = {}
    for spec in args.put:
        name, path = spec.split("=", 1)
        with open(path, "rb") as f:
            objects["/" + name] = f.read()
    keys = {c.split(":", 1)[0] for c in args.cred}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def _error(self, status, code):
            rid = uuid.uuid4().hex[:16].upper()
            body = f"<?xml version='1.0'?><Error><Code>{code}</Code><Message>{code}</Message><RequestId>{rid}</RequestId></Error>".encode()
            self.send_response(status)
            self.send_header("x-obs-request-id", rid)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _authorized(self):
            auth = self.headers.get("Authorization", "")
            return not keys or any(auth.startswith(f"OBS {k}:") for k in keys)

        def _send(self, status, data=b"", head=False):
            self.send_response(status)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if not head:
                self.wfile.write(data)

        def do_GET(self):
            path = self.path.split("?", 1)[0]
            if path.startswith("/__admin/objects/"):
                bucket = path[len("/__admin/objects/"):]
                listed = sorted(k[len(bucket) + 2:] for k in objects if k.startswith(f"/{bucket}/"))
                return self._send(200, json.dumps({"keys": listed}).encode())
            if not self._authorized():
                return self._error(403, "InvalidAccessKeyId")
            data = objects.get(path)
            if data is None:
                return self._error(404, "NoSuchKey")
            self._send(200, data)

        def do_HEAD(self):
            # Like OBS: an error to a HEAD has no body, its code travels in a header.
            found = self.path.split("?", 1)[0] in objects
            status, code = (200, None) if found else (404, "NoSuchKey")
            if not self._authorized():
                status, code = 403, "InvalidAccessKeyId"
            self.send_response(status)
            if code:
                self.send_header("x-obs-error-code", code)
                self.send_header("x-obs-request-id", uuid.uuid4().hex[:16].upper())
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_PUT(self):
            if not self._authorized():
                return self._error(403, "InvalidAccessKeyId")
            length = int(self.headers.get("Content-Length") or 0)
            objects[self.path.split("?", 1)[0]] = self.rfile.read(length)
            self.send_response(200)
            self.send_header("ETag", '"fake"')
            self.send_header("Content-Length", "0")
            self.end_headers()

    host, port = args.listen.rsplit(":", 1)
    server = ThreadingHTTPServer((host, int(port)), Handler)
    real_port = server.server_address[1]
    print(json.dumps({"endpoint": f"http://{host}:{real_port}", "port": real_port}), flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
