"""Interop with boto3, an independent S3 client: the test server must accept its Signature V4
uploads and downloads with path-style and virtual-hosted addressing, serve ranges and the
upload's checksum, honour presigned URLs fetched by a plain HTTP client, take multipart
uploads, and refuse a wrong secret, an unknown key or a wrong session token in S3's own error
shape.

Needs OBS_SERVER_BIN (the built obs-server) and boto3 (tests/python/requirements.txt)."""

import base64
import hashlib
import json
import secrets
import socket
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
import zlib

import boto3
import pytest
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError
from conftest import HARD_KEYS

# Virtual-hosted requests go to <bucket>.s3.test; the test resolves that name itself.
DOMAIN = "s3.test"



@pytest.fixture(autouse=True)
def resolve_test_domain(monkeypatch):
    """Maps *.s3.test to loopback for this process, so virtual-hosted URLs reach the server."""
    real = socket.getaddrinfo

    def fake(host, *args, **kwargs):
        if isinstance(host, str) and (host == DOMAIN or host.endswith("." + DOMAIN)):
            host = "127.0.0.1"
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)


def credentials():
    return "AKS3INTEROP" + secrets.token_hex(4).upper(), secrets.token_hex(20)


def client(server, ak, sk, style, token=None):
    endpoint = server.endpoint if style == "path" else f"http://{DOMAIN}:{server.port}"
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=ak,
        aws_secret_access_key=sk,
        aws_session_token=token,
        region_name="us-east-1",
        config=Config(
            signature_version="s3v4",
            s3={"addressing_style": style},
            retries={"max_attempts": 1, "mode": "standard"},
        ),
    )


def body_for(key, size=50_000):
    seed = hashlib.sha256(key.encode()).digest()
    return (seed * (size // len(seed) + 1))[:size]


def crc32_b64(data):
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def error_of(excinfo):
    err = excinfo.value.response
    return err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"], err


@pytest.mark.parametrize("style", ["path", "virtual"])
def test_upload_and_read_back(obs_server, tmp_path, style):
    ak, sk = credentials()
    server = obs_server(f"{ak}:{sk}", args=["--domain", DOMAIN])
    s3 = client(server, ak, sk, style)
    bucket = f"interop-{style}"
    s3.create_bucket(Bucket=bucket)
    s3.head_bucket(Bucket=bucket)

    for key in HARD_KEYS:
        data = body_for(key)
        put = s3.put_object(Bucket=bucket, Key=key, Body=data, Metadata={"owner": "ray team"})
        assert put["ETag"] == f'"{hashlib.md5(data).hexdigest()}"', key
        # boto3 sends a CRC32 of the body; the server verified it and echoes it.
        assert put["ChecksumCRC32"] == crc32_b64(data), key

        got = s3.get_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
        assert got["Body"].read() == data, key
        assert got["ContentLength"] == len(data)
        assert got["ETag"] == put["ETag"]
        assert got["Metadata"] == {"owner": "ray team"}
        assert got["AcceptRanges"] == "bytes"
        assert got["ChecksumCRC32"] == crc32_b64(data)
        assert got["ResponseMetadata"]["HTTPHeaders"]["x-amz-request-id"]
        assert got["ResponseMetadata"]["HTTPHeaders"]["x-amz-id-2"]

        part = s3.get_object(Bucket=bucket, Key=key, Range="bytes=100-1099")
        assert part["ResponseMetadata"]["HTTPStatusCode"] == 206
        assert part["ContentRange"] == f"bytes 100-1099/{len(data)}"
        assert part["Body"].read() == data[100:1100]
        # A range is not the whole object: no whole-object checksum comes with it.
        assert "ChecksumCRC32" not in part

        head = s3.head_object(Bucket=bucket, Key=key)
        assert head["ContentLength"] == len(data)
        assert head["ETag"] == put["ETag"]
        assert head["LastModified"] is not None

    # s3transfer's upload path (a single PUT under the multipart threshold).
    local = tmp_path / "package.zip"
    local.write_bytes(body_for("upload_file", 300_000))
    s3.upload_file(str(local), bucket, "uploaded/package.zip")
    out = tmp_path / "downloaded.zip"
    s3.download_file(bucket, "uploaded/package.zip", str(out))
    assert out.read_bytes() == local.read_bytes()

    # Every request went the intended way and was verified as Signature V4.
    records = admin_json(server, "/requests")["requests"]
    assert records and all(r["protocol"] == "s3" for r in records)
    assert {r["addressing"] for r in records} == {"path-style" if style == "path" else "virtual-host"}
    assert {r["auth"] for r in records} == {"header-v4"}
    assert all(r["status"] in (200, 206) for r in records)


def admin_json(server, path):
    with urllib.request.urlopen(f"{server.endpoint}/__admin{path}") as resp:
        return json.load(resp)


def test_missing_objects_and_buckets_in_s3_shape(obs_server):
    ak, sk = credentials()
    server = obs_server(f"{ak}:{sk}", args=["--domain", DOMAIN])
    s3 = client(server, ak, sk, "path")
    s3.create_bucket(Bucket="interop-errors")
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="interop-errors", Key="missing.zip")
    code, status, err = error_of(e)
    assert (code, status) == ("NoSuchKey", 404)
    assert err["Error"]["Key"] == "missing.zip"
    assert err["ResponseMetadata"]["RequestId"]
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="no-such-bucket", Key="k")
    assert error_of(e)[:2] == ("NoSuchBucket", 404)
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket="interop-errors", Key="missing.zip")
    assert error_of(e)[1] == 404


@pytest.mark.parametrize("style", ["path", "virtual"])
def test_presigned_get_with_urllib(obs_server, style):
    ak, sk = credentials()
    server = obs_server(f"{ak}:{sk}", args=["--domain", DOMAIN])
    s3 = client(server, ak, sk, style)
    bucket = f"presign-{style}"
    s3.create_bucket(Bucket=bucket)
    key = "with space/作业+1.zip"
    data = body_for(key)
    s3.put_object(Bucket=bucket, Key=key, Body=data)
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=300)
    assert "X-Amz-Signature=" in url
    with urllib.request.urlopen(url) as resp:
        assert resp.status == 200
        assert resp.read() == data
    ranged = urllib.request.Request(url, headers={"Range": "bytes=0-9"})
    with urllib.request.urlopen(ranged) as resp:
        assert resp.status == 206
        assert resp.read() == data[:10]
    # Changing what was signed breaks the signature.
    tampered = url.replace("X-Amz-Expires=300", "X-Amz-Expires=301")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(tampered)
    assert e.value.code == 403
    doc = ET.fromstring(e.value.read())
    assert doc.findtext("Code") == "SignatureDoesNotMatch"
    assert doc.findtext("RequestId") == e.value.headers["x-amz-request-id"]
    assert doc.findtext("HostId") == e.value.headers["x-amz-id-2"]
    assert sk not in ET.tostring(doc, encoding="unicode")


def test_wrong_secret_and_unknown_key_are_refused(obs_server):
    ak, sk = credentials()
    server = obs_server(f"{ak}:{sk}", args=["--domain", DOMAIN])
    good = client(server, ak, sk, "path")
    good.create_bucket(Bucket="interop-auth")
    good.put_object(Bucket="interop-auth", Key="k.zip", Body=b"data")
    for style in ("path", "virtual"):
        wrong = client(server, ak, "0" * 40, style)
        with pytest.raises(ClientError) as e:
            wrong.get_object(Bucket="interop-auth", Key="k.zip")
        assert error_of(e)[:2] == ("SignatureDoesNotMatch", 403)
        with pytest.raises(ClientError) as e:
            wrong.put_object(Bucket="interop-auth", Key="k.zip", Body=b"overwritten")
        assert error_of(e)[:2] == ("SignatureDoesNotMatch", 403)
    assert good.get_object(Bucket="interop-auth", Key="k.zip")["Body"].read() == b"data"
    stranger = client(server, "AKUNKNOWN0000000", sk, "path")
    with pytest.raises(ClientError) as e:
        stranger.get_object(Bucket="interop-auth", Key="k.zip")
    assert error_of(e)[:2] == ("InvalidAccessKeyId", 403)


def test_session_token(obs_server):
    ak, sk = credentials()
    token = "tok+" + secrets.token_hex(12) + "/=="
    server = obs_server(f"{ak}:{sk}:{token}", args=["--domain", DOMAIN])
    s3 = client(server, ak, sk, "virtual", token=token)
    s3.create_bucket(Bucket="interop-token")
    s3.put_object(Bucket="interop-token", Key="k.zip", Body=b"temporary")
    assert s3.get_object(Bucket="interop-token", Key="k.zip")["Body"].read() == b"temporary"
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "interop-token", "Key": "k.zip"})
    assert "X-Amz-Security-Token=" in url
    with urllib.request.urlopen(url) as resp:
        assert resp.read() == b"temporary"
    other = client(server, ak, sk, "virtual", token="tok-other")
    with pytest.raises(ClientError) as e:
        other.get_object(Bucket="interop-token", Key="k.zip")
    assert error_of(e)[0] == "InvalidToken"
    without = client(server, ak, sk, "virtual")
    with pytest.raises(ClientError) as e:
        without.get_object(Bucket="interop-token", Key="k.zip")
    assert error_of(e)[:2] == ("InvalidAccessKeyId", 403)


@pytest.mark.parametrize("style", ["path", "virtual"])
def test_multipart_upload(obs_server, tmp_path, style):
    ak, sk = credentials()
    server = obs_server(f"{ak}:{sk}", args=["--domain", DOMAIN])
    s3 = client(server, ak, sk, style)
    bucket = f"multipart-{style}"
    s3.create_bucket(Bucket=bucket)
    # 11 MiB in 5 MiB parts (s3transfer's smallest): three parts, the last one short.
    local = tmp_path / "big.zip"
    local.write_bytes(body_for("multipart", 11 * 1024 * 1024))
    config = TransferConfig(multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024)
    s3.upload_file(str(local), bucket, "big/package.zip", Config=config)
    head = s3.head_object(Bucket=bucket, Key="big/package.zip")
    assert head["ETag"].endswith('-3"'), head["ETag"]
    assert head["ContentLength"] == local.stat().st_size
    out = tmp_path / "back.zip"
    s3.download_file(bucket, "big/package.zip", str(out), Config=config)
    assert out.read_bytes() == local.read_bytes()
    assert admin_json(server, "/uploads")["uploads"] == []

    # An aborted upload leaves nothing behind.
    upload = s3.create_multipart_upload(Bucket=bucket, Key="aborted.zip")
    s3.upload_part(Bucket=bucket, Key="aborted.zip", UploadId=upload["UploadId"], PartNumber=1, Body=b"x" * 1024)
    assert [u["parts"] for u in admin_json(server, "/uploads")["uploads"]] == [[1]]
    s3.abort_multipart_upload(Bucket=bucket, Key="aborted.zip", UploadId=upload["UploadId"])
    assert admin_json(server, "/uploads")["uploads"] == []
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="aborted.zip")
    assert error_of(e)[1] == 404
    with pytest.raises(ClientError) as e:
        s3.upload_part(Bucket=bucket, Key="aborted.zip", UploadId=upload["UploadId"], PartNumber=2, Body=b"y")
    assert error_of(e)[:2] == ("NoSuchUpload", 404)
