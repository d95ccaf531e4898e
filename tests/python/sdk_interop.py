#!/usr/bin/env python3
"""Interop check of an OBS-compatible endpoint with Huawei's official Python SDK
(esdk-obs-python 3.26.6, see requirements.txt).

Uploads objects with hard keys using the SDK's OBS signature and its default signing (AWS V2,
path-style, which the SDK picks by itself for an IP endpoint), reads every one back with every
client (in memory, to a file, HEAD, presigned URLs of both forms), and checks that the server
refuses the SDK signing with a wrong secret key (403 SignatureDoesNotMatch) or an unknown
access key (403 InvalidAccessKeyId).

Usage:
  sdk_interop.py --endpoint http://127.0.0.1:PORT --ak AK --sk SK [--token TOKEN]
                 (--manifest manifest.json | --builtin) [--bucket NAME] [--out results.json]

Credentials may also come from OBS_ACCESS_KEY_ID / OBS_SECRET_ACCESS_KEY / OBS_SECURITY_TOKEN.

Manifest (JSON):
  {"bucket": "interop",
   "objects": [
     {"key": "dir/a b.zip", "file": "relative/or/absolute/path.zip"},
     {"key": "notes+1%.txt", "text": "hello"},
     {"key": "raw.bin", "base64": "AAEC"},
     {"key": "gen/data.bin", "size": 12345},
     {"key": "only-obs.txt", "text": "x", "signers": ["obs"]},
     {"key": "streamed.bin", "size": 100000, "as_stream": true}]}
"file" paths are relative to the manifest and uploaded with putFile ("as_file": true does the
same for other sources); "as_stream" uploads through putContent with a stream (chunked);
everything else goes through putContent with bytes. "size" generates deterministic bytes.
"signers" (default both: "obs" and "v2") says which clients upload the object.

Prints one JSON document on stdout (secrets never included) and a closing
"N passed, M failed" line on stderr. Exit status: 0 all checks passed, 1 a check failed,
2 bad arguments or manifest.
"""

import argparse
import base64
import hashlib
import io
import json
import os
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request

SDK_VERSION = "3.26.6"

# Keys that break naive encoders: spaces, unicode, '+', '%', '~', "!*'()", reserved URL
# characters, nested prefixes, a doubled slash.
BUILTIN_KEYS = [
    "simple.zip",
    "nested/prefix/deeper/job-1.zip",
    "with space/job file.zip",
    "plus+sign/a+b=c&d.zip",
    "percent/100%/x%2Fy.zip",
    "tilde~dir/~file~.txt",
    "marks/!*'()/bang!star*quote'paren().bin",
    "unicode/数据/ünïcødé 文件.zip",
    "emoji/\U0001F4E6 package.tar.gz",
    "reserved/q?x#frag;semi:colon@at$dollar,comma.txt",
    "double//slash/file.txt",
    "empty-object.txt",
]


class UsageError(Exception):
    pass


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--endpoint", required=True, help="http://HOST:PORT of the server")
    p.add_argument("--ak", default=os.environ.get("OBS_ACCESS_KEY_ID"))
    p.add_argument("--sk", default=os.environ.get("OBS_SECRET_ACCESS_KEY"))
    p.add_argument("--token", default=os.environ.get("OBS_SECURITY_TOKEN"))
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--manifest", help="JSON manifest of objects to upload")
    src.add_argument("--builtin", action="store_true", help="use the built-in set of hard keys")
    p.add_argument("--bucket", help="bucket (overrides the manifest's)")
    p.add_argument("--out", help="also write the JSON result to this file")
    args = p.parse_args(argv)
    if not args.ak or not args.sk:
        raise UsageError("credentials missing: pass --ak/--sk or set OBS_ACCESS_KEY_ID/OBS_SECRET_ACCESS_KEY")
    # An empty token means permanent credentials; the SDK would otherwise send an empty header.
    args.token = args.token or None
    return args


def generated(size, seed):
    """Deterministic bytes that differ per key."""
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(("%s:%d" % (seed, counter)).encode("utf-8")).digest()
        counter += 1
    return bytes(out[:size])


def load_objects(args):
    """[(key, bytes, source, signers)] and the bucket name."""
    if args.builtin:
        objects = []
        for i, key in enumerate(BUILTIN_KEYS):
            size = 0 if key == "empty-object.txt" else 1000 + i * 4099
            objects.append({"key": key, "size": size})
        # One object goes through putFile, one through putContent with a stream (sent
        # chunked), the rest through putContent with bytes.
        objects.append({"key": "from-file/pkg with space+plus.zip", "size": 70001, "as_file": True})
        objects.append({"key": "from-stream/chunked (upload).bin", "size": 150003, "as_stream": True})
        doc = {"bucket": "sdk-interop", "objects": objects}
        base_dir = os.getcwd()
    else:
        try:
            with open(args.manifest, "rb") as f:
                doc = json.loads(f.read().decode("utf-8"))
        except (OSError, ValueError) as e:
            raise UsageError("cannot read manifest %s: %s" % (args.manifest, e))
        base_dir = os.path.dirname(os.path.abspath(args.manifest))
    if not isinstance(doc, dict) or not isinstance(doc.get("objects"), list) or not doc["objects"]:
        raise UsageError("manifest needs a non-empty 'objects' list")
    bucket = args.bucket or doc.get("bucket")
    if not bucket:
        raise UsageError("no bucket: give --bucket or a 'bucket' in the manifest")
    loaded = []
    seen = set()
    for entry in doc["objects"]:
        key = entry.get("key") if isinstance(entry, dict) else None
        if not isinstance(key, str) or not key:
            raise UsageError("every object needs a non-empty string 'key'")
        if key in seen:
            raise UsageError("duplicate key in manifest: %r" % key)
        seen.add(key)
        sources = [s for s in ("file", "text", "base64", "size") if s in entry]
        if len(sources) != 1:
            raise UsageError("object %r needs exactly one of file/text/base64/size" % key)
        source = sources[0]
        if source == "file":
            path = entry["file"]
            path = path if os.path.isabs(path) else os.path.join(base_dir, path)
            try:
                with open(path, "rb") as f:
                    data = f.read()
            except OSError as e:
                raise UsageError("object %r: cannot read %s: %s" % (key, path, e))
        elif source == "text":
            data = entry["text"].encode("utf-8")
        elif source == "base64":
            data = base64.b64decode(entry["base64"])
        else:
            data = generated(int(entry["size"]), key)
        signers = entry.get("signers", ["obs", "v2"])
        if not signers or any(s not in ("obs", "v2") for s in signers):
            raise UsageError("object %r: signers must be a non-empty subset of ['obs', 'v2']" % key)
        use_file = source == "file" or bool(entry.get("as_file"))
        via = "putFile" if use_file else "putContent(stream)" if entry.get("as_stream") else "putContent"
        loaded.append({"key": key, "data": data, "source": source, "signers": signers, "via": via})
    return bucket, loaded


def split_endpoint(endpoint):
    u = urllib.parse.urlparse(endpoint)
    if u.scheme not in ("http", "https") or not u.hostname:
        raise UsageError("endpoint must look like http://HOST:PORT")
    port = u.port or (443 if u.scheme == "https" else 80)
    return u.scheme, u.hostname, port


def make_clients(endpoint, ak, sk, token):
    """The three ways a user builds the SDK client against a local endpoint."""
    import obs  # imported late so --help works without the SDK

    scheme, host, port = split_endpoint(endpoint)
    common = dict(access_key_id=ak, secret_access_key=sk, security_token=token, max_retry_count=0, timeout=30)
    return {
        # OBS signature, path-style, no negotiation.
        "obs": obs.ObsClient(server=host, port=port, is_secure=scheme == "https", path_style=True,
                             signature="obs", is_signature_negotiation=False, client_mode="local", **common),
        # OBS signature chosen by the SDK's unsigned HEAD ?apiversion probe.
        "obs-negotiated": obs.ObsClient(server=host, port=port, is_secure=scheme == "https", path_style=True,
                                        signature="obs", is_signature_negotiation=True, client_mode="local",
                                        **common),
        # Default construction: with an IP endpoint the SDK silently signs AWS V2, path-style.
        "v2": obs.ObsClient(server=endpoint, **common),
    }


class Report:
    def __init__(self):
        self.checks = []

    def check(self, name, ok, **detail):
        self.checks.append({"name": name, "ok": bool(ok), "detail": detail})
        return ok

    def run(self, name, fn):
        """Runs fn() -> (ok, detail); an exception is a failed check."""
        try:
            ok, detail = fn()
        except Exception as e:  # the SDK raises on transport errors and CRC mismatches
            return self.check(name, False, exception="%s: %s" % (type(e).__name__, e),
                              trace=traceback.format_exc(limit=3))
        return self.check(name, ok, **detail)

    @property
    def failed(self):
        return [c for c in self.checks if not c["ok"]]


def status_detail(resp):
    return {"status": resp.status, "errorCode": resp.errorCode, "requestId": resp.requestId}


def header_value(resp, name):
    for k, v in resp.header or []:
        if k.lower() in (name, name.replace("x-obs-", ""), name.replace("x-obs-", "x-amz-")):
            return v
    return None


def md5_etag(data):
    return '"%s"' % hashlib.md5(data).hexdigest()


def run_checks(args, bucket, objects):
    clients = make_clients(args.endpoint, args.ak, args.sk, args.token)
    report = Report()
    obs_client = clients["obs"]

    def create_bucket():
        resp = obs_client.createBucket(bucket)
        ok = resp.status == 200 or (resp.status == 409 and resp.errorCode == "BucketAlreadyOwnedByYou")
        return ok, status_detail(resp)

    report.run("createBucket", create_bucket)
    for name, client in clients.items():
        def head_bucket(c=client):
            resp = c.headBucket(bucket)
            return resp.status == 200, status_detail(resp)

        report.run("headBucket[%s]" % name, head_bucket)

    with tempfile.TemporaryDirectory(prefix="sdk-interop-") as tmp:
        for index, obj in enumerate(objects):
            key, data = obj["key"], obj["data"]
            for signer in obj["signers"]:
                client = clients[signer]
                label = "%s[%s]" % (key, signer)

                def upload(client=client, obj=obj, index=index):
                    if obj["via"] == "putFile":
                        path = os.path.join(tmp, "upload-%d.bin" % index)
                        with open(path, "wb") as f:
                            f.write(obj["data"])
                        resp = client.putFile(bucket, obj["key"], path)
                    elif obj["via"] == "putContent(stream)":
                        # A readable without a length makes the SDK send Transfer-Encoding: chunked.
                        resp = client.putContent(bucket, obj["key"], io.BytesIO(obj["data"]))
                    else:
                        resp = client.putContent(bucket, obj["key"], obj["data"])
                    etag = resp.body.etag if resp.status < 300 and resp.body is not None else None
                    ok = resp.status == 200 and etag == md5_etag(obj["data"])
                    return ok, dict(status_detail(resp), method=obj["via"], etag=etag)

                if not report.run("upload " + label, upload):
                    continue
                for reader_name, reader in clients.items():
                    def read_memory(reader=reader):
                        resp = reader.getObject(bucket, key, loadStreamInMemory=True, isAttachCrc64=True)
                        body = (resp.body.buffer or b"") if resp.status < 300 else None
                        ok = resp.status == 200 and body == data
                        crc = header_value(resp, "x-obs-checksum-crc64ecma") if resp.status < 300 else None
                        return ok, dict(status_detail(resp), bytes=None if body is None else len(body),
                                        crc64_header=crc is not None)

                    report.run("getObject(memory) %s read by %s" % (label, reader_name), read_memory)

                    def head(reader=reader):
                        resp = reader.getObjectMetadata(bucket, key)
                        ok = (resp.status == 200 and resp.body.contentLength == len(data)
                              and resp.body.etag == md5_etag(data))
                        return ok, status_detail(resp)

                    report.run("getObjectMetadata %s read by %s" % (label, reader_name), head)

                def read_file(client=client, index=index):
                    path = os.path.join(tmp, "download-%d.bin" % index)
                    resp = client.getObject(bucket, key, downloadPath=path)
                    if resp.status != 200:
                        return False, status_detail(resp)
                    with open(path, "rb") as f:
                        return f.read() == data, status_detail(resp)

                report.run("getObject(file) " + label, read_file)

                def presigned(client=client):
                    signed = client.createSignedUrl("GET", bucket, key, expires=300)
                    req = urllib.request.Request(signed.signedUrl, headers=signed.actualSignedRequestHeaders)
                    form = "AccessKeyId" if "AccessKeyId=" in signed.signedUrl and "AWSAccessKeyId=" not in signed.signedUrl \
                        else "AWSAccessKeyId"
                    with urllib.request.urlopen(req, timeout=30) as r:
                        return r.read() == data, {"status": r.status, "form": form}

                report.run("presigned GET " + label, presigned)

        check_refusals(args, bucket, objects, report)
    return report


def check_refusals(args, bucket, objects, report):
    """The server must refuse a wrong secret key and an unknown access key, for both signers."""
    probe = objects[0]
    bad_sk = make_clients(args.endpoint, args.ak, args.sk + "-wrong", args.token)
    bad_ak = make_clients(args.endpoint, "AKUNKNOWNINTEROP0000", args.sk, args.token)
    good = make_clients(args.endpoint, args.ak, args.sk, args.token)["obs"]
    for signer in ("obs", "v2"):
        def wrong_sk_get(c=bad_sk[signer]):
            resp = c.getObject(bucket, probe["key"], loadStreamInMemory=True)
            return resp.status == 403 and resp.errorCode == "SignatureDoesNotMatch", status_detail(resp)

        report.run("wrong secret key refused: getObject[%s]" % signer, wrong_sk_get)

        def wrong_sk_put(c=bad_sk[signer]):
            resp = c.putContent(bucket, probe["key"], b"must not be stored")
            after = good.getObject(bucket, probe["key"], loadStreamInMemory=True)
            unchanged = after.status == 200 and (after.body.buffer or b"") == probe["data"]
            ok = resp.status == 403 and resp.errorCode == "SignatureDoesNotMatch" and unchanged
            return ok, dict(status_detail(resp), object_unchanged=unchanged)

        report.run("wrong secret key refused: putContent[%s]" % signer, wrong_sk_put)

        def unknown_ak(c=bad_ak[signer]):
            resp = c.getObject(bucket, probe["key"], loadStreamInMemory=True)
            return resp.status == 403 and resp.errorCode == "InvalidAccessKeyId", status_detail(resp)

        report.run("unknown access key refused: getObject[%s]" % signer, unknown_ak)


def scrub(value, secrets):
    """Removes secrets from anything about to be printed."""
    if isinstance(value, str):
        for s in secrets:
            value = value.replace(s, "******")
        return value
    if isinstance(value, list):
        return [scrub(v, secrets) for v in value]
    if isinstance(value, dict):
        return {k: scrub(v, secrets) for k, v in value.items()}
    return value


def main(argv):
    try:
        args = parse_args(argv)
        bucket, objects = load_objects(args)
        split_endpoint(args.endpoint)
    except UsageError as e:
        print("sdk_interop: %s" % e, file=sys.stderr)
        return 2
    started = time.time()
    report = run_checks(args, bucket, objects)
    passed = len(report.checks) - len(report.failed)
    result = {
        "ok": not report.failed,
        "sdk": "esdk-obs-python " + SDK_VERSION,
        "endpoint": args.endpoint,
        "bucket": bucket,
        "summary": {"passed": passed, "failed": len(report.failed), "seconds": round(time.time() - started, 3)},
        "objects": [
            {"key": o["key"], "size": len(o["data"]), "md5": hashlib.md5(o["data"]).hexdigest(),
             "source": o["source"], "uploaded_with": o["signers"], "via": o["via"]}
            for o in objects
        ],
        "failures": [c["name"] for c in report.failed],
        "checks": report.checks,
    }
    secrets = [s for s in (args.sk + "-wrong", args.sk, args.token, args.ak) if s]
    text = json.dumps(scrub(result, secrets), ensure_ascii=False, indent=1)
    print(text)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text + "\n")
    print("%d passed, %d failed" % (passed, len(report.failed)), file=sys.stderr)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
