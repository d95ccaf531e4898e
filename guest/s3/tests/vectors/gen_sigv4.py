"""Writes sigv4-botocore.json: requests signed by botocore, for the s3 plugin's signer test.

Run with botocore installed (any venv; the test itself needs only the JSON):

    python3 -m venv /tmp/v && /tmp/v/bin/pip install botocore
    /tmp/v/bin/python guest/s3/tests/vectors/gen_sigv4.py > guest/s3/tests/vectors/sigv4-botocore.json

Every request goes through a real botocore S3 client (endpoint resolution, addressing style,
key encoding, checksum mode, payload hashing, signing) with the clock fixed and the network
replaced by a handler that records the request. What botocore computed on the way (the
canonical request and the string to sign) is recorded beside the result. The upload cases
send what the plugin sends (Content-MD5, Content-Type, Content-Length before signing) and
record which payload botocore chose, which the plugin's rule must reproduce.
"""

import base64
import datetime
import hashlib
import json
import os
import sys
from unittest import mock

# Nothing from this machine's AWS configuration may leak into the vectors.
for name in list(os.environ):
    if name.startswith("AWS_"):
        del os.environ[name]
os.environ["AWS_CONFIG_FILE"] = os.devnull
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"

import botocore  # noqa: E402
import botocore.auth  # noqa: E402
import botocore.session  # noqa: E402
from botocore.awsrequest import AWSResponse  # noqa: E402
from botocore.config import Config  # noqa: E402

NOW = datetime.datetime(2024, 10, 15, 7, 20, 9)
AK = "AKIDEXAMPLE0000000001"
SK = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
TOKEN = "IQoJb3JpZ2luX2VjEXAMPLE+token/with=special//chars+=="

# Headers the signer adds itself.
SET_BY_SIGNER = {"authorization", "x-amz-date", "x-amz-security-token", "x-amz-content-sha256"}

KEYS = [
    "job.zip",
    "a b/c.zip",
    "日本/パッケージ.zip",
    "100%/x%2Fy.zip",
    "my dir/a+b=c&d;e,f:g@h$i!j*k'l(m)n~o.zip",
    "q?r#s[t]u{v}w|x^y`z\"<>.zip",
    "/lead.zip",
    "a//b/./c/../d.tar.gz",
    "emoji-\U0001F600/ünïcödé.whl",
]


class _Raw:
    def stream(self, *args, **kwargs):
        return iter([])

    def read(self, *args, **kwargs):
        return b""


class Recorder:
    def __init__(self):
        self.requests = []
        self.canonical = []
        self.sts = []
        self.signing_headers = []

    def send(self, request, **kwargs):
        self.requests.append(request)
        return AWSResponse(request.url, 200, {"Content-Length": "0"}, _Raw())


REC = Recorder()
_canonical_request = botocore.auth.SigV4Auth.canonical_request
_string_to_sign = botocore.auth.SigV4Auth.string_to_sign


def canonical_request(self, request):
    cr = _canonical_request(self, request)
    REC.canonical.append(cr)
    # What the signer saw, less what it added itself; a prepared request holds more
    # (Content-Length, botocore's own headers) that were added after signing.
    REC.signing_headers.append(
        [[k.lower(), shown(k, v)] for k, v in request.headers.items() if k.lower() not in SET_BY_SIGNER]
    )
    return cr


def shown(name, value):
    # The User-Agent names this machine's kernel and Python; it is never signed, so any
    # value tests the same thing.
    if name.lower() == "user-agent":
        return "Botocore/" + botocore.__version__
    return value.decode() if isinstance(value, bytes) else value


def string_to_sign(self, request, cr):
    sts = _string_to_sign(self, request, cr)
    REC.sts.append(sts)
    return sts


def client(region, endpoint_url, style, token, extra=None, presign=False):
    s3 = {"addressing_style": style} if style else {}
    s3.update(extra or {})
    # botocore presigns S3 URLs with SigV2 unless told otherwise.
    cfg = Config(s3=s3 or None, request_checksum_calculation="when_required", signature_version="s3v4" if presign else None)
    c = botocore.session.get_session().create_client(
        "s3",
        region_name=region,
        endpoint_url=endpoint_url,
        aws_access_key_id=AK,
        aws_secret_access_key=SK,
        aws_session_token=token,
        config=cfg,
    )
    c.meta.events.register("before-send.s3.*", REC.send)
    return c


# The upload id of the upload cases: it needs encoding in a query.
UPLOAD_ID = "2~Up/load+Id="

# Operations by name, and which of them send `body` as their streamed Body.
CALLS = {
    "GetObject": "get_object",
    "HeadObject": "head_object",
    "PutObject": "put_object",
    "UploadPart": "upload_part",
    "CreateMultipartUpload": "create_multipart_upload",
    "CompleteMultipartUpload": "complete_multipart_upload",
    "AbortMultipartUpload": "abort_multipart_upload",
}
STREAMED = {"PutObject", "UploadPart"}

# What botocore signed as the payload, by its hash.
PAYLOADS = {"UNSIGNED-PAYLOAD": "unsigned", hashlib.sha256(b"").hexdigest(): "empty"}


def body_bytes(body):
    """A request body as bytes, whether botocore holds bytes or a stream."""
    if body is None:
        return b""
    if isinstance(body, (bytes, bytearray)):
        return bytes(body)
    if isinstance(body, str):
        return body.encode()
    at = body.tell()
    body.seek(0)
    data = body.read()
    body.seek(at)
    return data


def content_md5(text):
    return base64.b64encode(hashlib.md5(text.encode()).digest()).decode()


def header_case(name, region, endpoint_url, style, token, bucket, key, op="GetObject", params=None, extra=None, body=None, add=None, content_length=False):
    c = client(region, endpoint_url, style, token, extra)
    if add or content_length:
        # Headers the plugin sends that botocore does not; signed like any other. The
        # plugin announces every body's length before it signs (botocore only after).
        def add_headers(request, **kwargs):
            for k, v in (add or {}).items():
                request.headers[k] = v
            if content_length:
                request.headers["Content-Length"] = str(len(body_bytes(request.body)))

        c.meta.events.register("before-sign.s3.*", add_headers)
    before = len(REC.requests)
    args = {"Bucket": bucket, "Key": key, **(params or {})}
    if op in STREAMED:
        args["Body"] = body.encode()
    getattr(c, CALLS[op])(**args)
    assert len(REC.requests) == before + 1 and len(REC.canonical) == len(REC.requests)
    r = REC.requests[-1]
    headers = {k.lower(): (v.decode() if isinstance(v, bytes) else v) for k, v in r.headers.items()}
    sent = body_bytes(r.body).decode() or None
    return {
        "name": name,
        "region": region,
        "endpoint_url": endpoint_url,
        "addressing_style": style,
        "bucket": bucket,
        "key": key,
        "access_key": AK,
        "secret_key": SK,
        "token": token,
        "amz_date": NOW.strftime("%Y%m%dT%H%M%SZ"),
        "method": r.method,
        "body": sent,
        # What botocore signed: the body's hash, the empty body's, or none.
        "payload": PAYLOADS.get(headers["x-amz-content-sha256"], "sha256"),
        "url": r.url,
        "headers_in": REC.signing_headers[-1],
        "x_amz_content_sha256": headers["x-amz-content-sha256"],
        "x_amz_security_token": headers.get("x-amz-security-token"),
        "canonical_request": REC.canonical[-1],
        "string_to_sign": REC.sts[-1],
        "authorization": headers["authorization"],
    }


def presign_case(name, region, endpoint_url, style, token, bucket, key, expires):
    c = client(region, endpoint_url, style, token, presign=True)
    before = len(REC.canonical)
    url = c.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires)
    assert len(REC.canonical) == before + 1
    return {
        "name": name,
        "region": region,
        "endpoint_url": endpoint_url,
        "addressing_style": style,
        "bucket": bucket,
        "key": key,
        "access_key": AK,
        "secret_key": SK,
        "token": token,
        "amz_date": NOW.strftime("%Y%m%dT%H%M%SZ"),
        "expires": expires,
        "url": url,
        "canonical_request": REC.canonical[-1],
        "string_to_sign": REC.sts[-1],
    }


def upload_cases():
    """The requests of an upload as the plugin sends them: a PUT with Content-MD5 (botocore
    leaves the streamed body of one unsigned over https only), the four multipart requests,
    and the HEAD of `stat`."""
    part = "part three of an upload\n"
    put = "PK\x05\x06 a small package"
    parts = {"Parts": [{"ETag": '"a0a1a2a3a4a5a6a7a8a9aaabacadaeaf"', "PartNumber": 1}, {"ETag": '"b0b1"', "PartNumber": 2}]}
    return [
        header_case(
            "upload-put-object-http", "us-east-1", "http://127.0.0.1:9000", None, TOKEN, "ray-jobs", "up/load.zip",
            op="PutObject", body=put, params={"ContentMD5": content_md5(put), "ContentType": "application/zip"}, content_length=True,
        ),
        header_case(
            "upload-put-object-https", "eu-west-1", None, None, None, "ray-jobs", "a b/ü.zip",
            op="PutObject", body=put, params={"ContentMD5": content_md5(put), "ContentType": "application/zip"}, content_length=True,
        ),
        header_case(
            "upload-part-https", "eu-west-1", None, None, TOKEN, "ray-jobs", "a b/c.zip",
            op="UploadPart", body=part, params={"PartNumber": 3, "UploadId": UPLOAD_ID, "ContentMD5": content_md5(part)}, content_length=True,
        ),
        header_case(
            "upload-part-http-path", "us-east-1", "http://minio.internal:9000", "path", None, "ray-jobs", "100%/x.zip",
            op="UploadPart", body=part, params={"PartNumber": 10000, "UploadId": UPLOAD_ID, "ContentMD5": content_md5(part)}, content_length=True,
        ),
        header_case(
            "upload-create-multipart", "eu-west-1", None, None, TOKEN, "ray-jobs", "a b/c.zip",
            op="CreateMultipartUpload", params={"ContentType": "application/zip"}, content_length=True,
        ),
        header_case(
            "upload-complete-multipart-https", "eu-west-1", None, None, TOKEN, "ray-jobs", "a b/c.zip",
            op="CompleteMultipartUpload", params={"UploadId": UPLOAD_ID, "MultipartUpload": parts},
            add={"Content-Type": "application/xml"}, content_length=True,
        ),
        header_case(
            "upload-complete-multipart-http", "us-east-1", "http://127.0.0.1:9000", None, None, "ray-jobs", "up/load.zip",
            op="CompleteMultipartUpload", params={"UploadId": UPLOAD_ID, "MultipartUpload": parts},
            add={"Content-Type": "application/xml"}, content_length=True,
        ),
        header_case("upload-abort-multipart", "eu-west-1", None, None, TOKEN, "ray-jobs", "a b/c.zip", op="AbortMultipartUpload", params={"UploadId": UPLOAD_ID}),
        header_case("upload-stat-head", "us-east-1", "http://127.0.0.1:9000", None, TOKEN, "ray-jobs", "up/load.zip", op="HeadObject"),
    ]


def main():
    requests = []
    presigned = []
    with mock.patch.object(botocore.auth, "SigV4Auth", botocore.auth.SigV4Auth), mock.patch.object(
        botocore.auth.SigV4Auth, "canonical_request", canonical_request
    ), mock.patch.object(botocore.auth.SigV4Auth, "string_to_sign", string_to_sign), mock.patch.object(
        botocore.auth, "get_current_datetime", return_value=NOW
    ):
        for i, key in enumerate(KEYS):
            token = TOKEN if i % 2 else None
            requests.append(header_case(f"virtual-eu-west-1-{i}", "eu-west-1", None, None, token, "ray-jobs", key))
            requests.append(header_case(f"path-us-west-2-{i}", "us-west-2", None, "path", token, "ray-jobs", key))
            requests.append(header_case(f"minio-http-{i}", "us-east-1", "http://127.0.0.1:9000", None, token, "ray-jobs", key))
        requests += [
            header_case("global-us-east-1", "us-east-1", None, None, None, "ray-jobs", "job.zip"),
            header_case("no-region", None, None, None, TOKEN, "ray-jobs", "job.zip"),
            header_case("dotted-bucket-https", "eu-central-1", None, None, None, "my.dotted.bucket", "job.zip"),
            header_case("china", "cn-north-1", None, None, TOKEN, "ray-jobs", "job.zip"),
            header_case("custom-virtual", "ap-southeast-1", "https://obs.ap-southeast-1.myhuaweicloud.com", "virtual", TOKEN, "ray-jobs", "a b/c.zip"),
            header_case("custom-port-virtual", "us-east-1", "http://minio.internal:9000", "virtual", None, "ray-jobs", "job.zip"),
            header_case(
                "range-if-match",
                "eu-west-1",
                None,
                None,
                TOKEN,
                "ray-jobs",
                "job.zip",
                params={"Range": "bytes=100-", "IfMatch": '"5d41402abc4b2a76b9719d911017c592"'},
                add={"Accept-Encoding": "identity", "X-Amz-Meta-Spaces": "  a   b  c  "},
            ),
            header_case(
                "suffix-range-path",
                "eu-west-1",
                None,
                "path",
                None,
                "ray-jobs",
                "pkgs/job.zip",
                params={"Range": "bytes=-4194304"},
                add={"Accept-Encoding": "identity"},
            ),
            header_case(
                "unsigned-payload",
                "eu-west-1",
                None,
                None,
                TOKEN,
                "ray-jobs",
                "a b/c.zip",
                extra={"payload_signing_enabled": False},
            ),
            header_case(
                "unsigned-payload-path",
                "us-east-1",
                "https://minio.example.com",
                "path",
                None,
                "ray-jobs",
                "100%/x.zip",
                extra={"payload_signing_enabled": False},
            ),
            header_case("put-hashed-payload", "us-east-1", "http://127.0.0.1:9000", None, TOKEN, "ray-jobs", "up/load.zip", op="PutObject", body="hello, world\n"),
            header_case(
                "put-hashed-payload-https",
                "eu-west-1",
                None,
                None,
                None,
                "ray-jobs",
                "up/ü.zip",
                op="PutObject",
                body="payload",
                extra={"payload_signing_enabled": True},
            ),
        ]
        requests += upload_cases()
        for i, key in enumerate(KEYS):
            token = TOKEN if i % 2 == 0 else None
            presigned.append(presign_case(f"presign-virtual-{i}", "eu-west-1", None, None, token, "ray-jobs", key, 900))
            presigned.append(presign_case(f"presign-path-{i}", "us-east-1", "http://127.0.0.1:9000", None, token, "ray-jobs", key, 3600))
        presigned.append(presign_case("presign-global", "us-east-1", None, None, None, "ray-jobs", "job.zip", 604800))
    json.dump(
        {
            "generator": "guest/s3/tests/vectors/gen_sigv4.py",
            "botocore": botocore.__version__,
            "requests": requests,
            "presigned": presigned,
        },
        sys.stdout,
        ensure_ascii=False,
        indent=1,
    )
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
