#!/usr/bin/env python3
"""A stand-in for the `obs-server` test binary: same command line, same first stdout line.

`--listen 127.0.0.1:0 --cred AK:SK --bucket NAME --put BUCKET/KEY=FILE` serves the listed
objects path-style; a missing key answers 404 with an OBS `NoSuchKey` XML body and a
request id; a request without the access key answers 403. For the Python package's tests.
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

        def do_GET(self):
            auth = self.headers.get("Authorization", "")
            if keys and not any(auth.startswith(f"OBS {k}:") for k in keys):
                return self._error(403, "InvalidAccessKeyId")
            data = objects.get(self.path.split("?", 1)[0])
            if data is None:
                return self._error(404, "NoSuchKey")
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    host, port = args.listen.rsplit(":", 1)
    server = ThreadingHTTPServer((host, int(port)), Handler)
    real_port = server.server_address[1]
    print(json.dumps({"endpoint": f"http://{host}:{real_port}", "port": real_port}), flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
