"""The publish side read back by independent clients: what `scheme-host upload` and
`pack-and-upload` put into the OBS-compatible server through the OBS plugin is read by
Huawei's official SDK, and what they put through the s3 plugin is read by boto3, byte for
byte, with hard keys, one PUT and multipart. The packed zip holds one top-level directory
and exactly the files Ray would pack."""

import hashlib
import io
import json
import os
import secrets
import subprocess
import zipfile

import boto3
import obs
from botocore.config import Config
from conftest import HARD_KEYS

# Under the single-PUT limit, and a multipart upload of several 5 MiB parts.
SIZES = (70_001, 20 * 1024 * 1024 + 3)


def data_for(key, size):
    seed = hashlib.sha256(key.encode()).digest()
    return (seed * (size // len(seed) + 1))[:size]


def host_env(tmp_path, plugin_dir, **extra):
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path / "home"),
        "SCHEME_HOST_PLUGIN_DIR": plugin_dir,
        "SCHEME_HOST_CACHE_DIR": str(tmp_path / "cache"),
    }
    env.update(extra)
    return env


def run_host(scheme_host, env, *args):
    run = subprocess.run([scheme_host, *args, "--json"], env=env, capture_output=True, text=True)
    assert run.returncode == 0, f"{args}: {run.stdout} {run.stderr}"
    out = json.loads(run.stdout)
    assert out["ok"] is True
    return out, run.stdout + run.stderr


def job_dir(root):
    files = {
        ".gitignore": "*.log\n",
        "main.py": "import pkg\n",
        "pkg/__init__.py": "VALUE = 1\n",
        "data/ü file+1.txt": "x" * 1000,
    }
    for name, body in {**files, "run.log": "ignored\n"}.items():
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(body, encoding="utf-8")
    return files


def check_package(data, files):
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        names = [n for n in z.namelist() if not n.endswith("/")]
        tops = {n.split("/", 1)[0] for n in z.namelist()}
        assert len(tops) == 1, tops
        top = tops.pop()
        assert sorted(n[len(top) + 1:] for n in names) == sorted(files)
        for name, body in files.items():
            assert z.read(f"{top}/{name}").decode("utf-8") == body


def test_the_obs_sdk_reads_what_scheme_host_uploaded(tmp_path, obs_server, scheme_host, plugin_dir):
    ak = "AKPYUPLOAD" + secrets.token_hex(4).upper()
    sk = secrets.token_hex(20)
    server = obs_server(f"{ak}:{sk}")
    host, port = server.endpoint.split("//")[1].split(":")
    sdk = obs.ObsClient(access_key_id=ak, secret_access_key=sk, server=host, port=int(port), is_secure=False,
                        path_style=True, signature="obs", is_signature_negotiation=False)
    assert sdk.createBucket("uploads").status < 300
    env = host_env(tmp_path, plugin_dir, OBS_ENDPOINT=server.endpoint, OBS_ACCESS_KEY_ID=ak,
                   OBS_SECRET_ACCESS_KEY=sk, OBS_METADATA_DISABLED="true")

    for size in SIZES:
        for i, key in enumerate(HARD_KEYS):
            full = f"size-{size}/{key}"
            path = tmp_path / f"f{size}-{i}"
            path.write_bytes(data_for(full, size))
            out, text = run_host(scheme_host, env, "upload", str(path), f"obs://uploads/{full}")
            # One PUT up to 8 MiB, else parts of 5 MiB (the kit's plan).
            assert out["parts"] == (1 if size <= 8 << 20 else -(-size // (5 << 20))), out
            assert sk not in text
            got = sdk.getObject("uploads", full, loadStreamInMemory=True)
            assert got.status == 200, (full, got.errorCode)
            assert got.body.buffer == data_for(full, size), full

    files = job_dir(tmp_path / "proj")
    out, _ = run_host(scheme_host, env, "pack-and-upload", str(tmp_path / "proj"), "obs://uploads/pkgs/")
    key = out["uri"].removeprefix("obs://uploads/")
    got = sdk.getObject("uploads", key, loadStreamInMemory=True)
    assert got.status == 200 and len(got.body.buffer) == out["bytes"]
    check_package(got.body.buffer, files)


def test_boto3_reads_what_scheme_host_uploaded_through_the_s3_plugin(tmp_path, obs_server, scheme_host, plugin_dir):
    ak = "AKS3UPLOAD" + secrets.token_hex(4).upper()
    sk = secrets.token_hex(20)
    server = obs_server(f"{ak}:{sk}")
    s3 = boto3.client("s3", endpoint_url=server.endpoint, aws_access_key_id=ak, aws_secret_access_key=sk,
                      region_name="us-east-1", config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
    s3.create_bucket(Bucket="uploads")
    env = host_env(tmp_path, plugin_dir, AWS_ENDPOINT_URL_S3=server.endpoint, AWS_ACCESS_KEY_ID=ak,
                   AWS_SECRET_ACCESS_KEY=sk, AWS_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true")

    for size in SIZES:
        for i, key in enumerate(HARD_KEYS):
            full = f"size-{size}/{key}"
            path = tmp_path / f"f{size}-{i}"
            path.write_bytes(data_for(full, size))
            out, text = run_host(scheme_host, env, "upload", str(path), f"s3://uploads/{full}")
            assert sk not in text
            got = s3.get_object(Bucket="uploads", Key=full)
            assert got["Body"].read() == data_for(full, size), full
            if out["parts"] > 1:
                assert got["ETag"].endswith(f'-{out["parts"]}"'), got["ETag"]

    files = job_dir(tmp_path / "proj")
    out, _ = run_host(scheme_host, env, "pack-and-upload", str(tmp_path / "proj"), "s3://uploads/pkgs")
    body = s3.get_object(Bucket="uploads", Key=out["uri"].removeprefix("s3://uploads/"))["Body"].read()
    check_package(body, files)
    again, _ = run_host(scheme_host, env, "pack-and-upload", str(tmp_path / "proj"), "s3://uploads/pkgs")
    assert (again["uri"], again["uploaded"]) == (out["uri"], False)
