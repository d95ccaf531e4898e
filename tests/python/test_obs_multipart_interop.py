"""Multipart upload with Huawei's official OBS SDK (esdk-obs-python) against the test server,
signed both ways the SDK signs (OBS and AWS V2): uploadFile in parts, read back, abort.

Needs OBS_SERVER_BIN (the built obs-server) and esdk-obs-python (requirements.txt)."""

import json
import os
import secrets
import urllib.request

import obs
import pytest


def admin_json(server, path):
    with urllib.request.urlopen(f"{server.endpoint}/__admin{path}") as resp:
        return json.load(resp)


@pytest.mark.parametrize("signature,expected_auth", [("obs", "header-obs"), ("v2", "header-aws")])
def test_sdk_multipart_upload(obs_server, tmp_path, signature, expected_auth):
    ak = "AKMPINTEROP" + secrets.token_hex(4).upper()
    sk = secrets.token_hex(20)
    server = obs_server(f"{ak}:{sk}", args=["--bucket", "mp-interop"])
    client = obs.ObsClient(
        access_key_id=ak, secret_access_key=sk, server="127.0.0.1", port=server.port,
        is_secure=False, path_style=True, signature=signature,
        is_signature_negotiation=False, client_mode="local",
    )
    data = os.urandom(12 * 1024 * 1024)
    local = tmp_path / "big.zip"
    local.write_bytes(data)
    key = "dir/big file+1.zip"
    # 5 MiB parts (the server's default minimum): three parts, two uploaded concurrently.
    up = client.uploadFile("mp-interop", key, str(local), partSize=5 * 1024 * 1024, taskNum=2,
                           enableCheckpoint=False)
    assert up.status == 200, (up.errorCode, up.errorMessage)
    got = client.getObject("mp-interop", key, loadStreamInMemory=True)
    assert got.status == 200, got.errorCode
    assert got.body.buffer == data
    assert got.body.etag.strip('"').endswith("-3")

    init = client.initiateMultipartUpload("mp-interop", "aborted.zip")
    assert init.status == 200, init.errorCode
    part = client.uploadPart("mp-interop", "aborted.zip", 1, init.body.uploadId, object=b"x" * 1024)
    assert part.status == 200, part.errorCode
    assert [u["parts"] for u in admin_json(server, "/uploads")["uploads"]] == [[1]]
    aborted = client.abortMultipartUpload("mp-interop", "aborted.zip", init.body.uploadId)
    assert aborted.status == 204, aborted.errorCode
    assert admin_json(server, "/uploads")["uploads"] == []
    late = client.uploadPart("mp-interop", "aborted.zip", 2, init.body.uploadId, object=b"y")
    assert (late.status, late.errorCode) == (404, "NoSuchUpload")

    records = admin_json(server, "/requests")["requests"]
    assert {r["auth"] for r in records} == {expected_auth}
    assert {r["protocol"] for r in records} == {"obs"}
