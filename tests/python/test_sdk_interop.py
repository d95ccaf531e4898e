"""Interop with Huawei's official Python SDK (esdk-obs-python): objects the SDK uploads
with hard keys, through both of its signing modes, are fetched by scheme-host's OBS plugin
and unpacked into exactly the trees that were zipped; our server refuses the SDK when it
signs with a wrong secret, so its verification is real."""

import io
import json
import os
import secrets
import subprocess
import sys
import zipfile

from conftest import HARD_KEYS

HERE = os.path.dirname(os.path.abspath(__file__))


def package_for(key):
    """A zip with one top-level directory whose files depend on the key."""
    files = {
        "main.py": f"print({key!r})\n",
        "pkg/__init__.py": "",
        "pkg/data.txt": (key + "\n") * 50,
        f"dir with space/ü-{len(key)}.txt": "x" * len(key),
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, body in files.items():
            z.writestr(f"top/{name}", body)
    return buf.getvalue(), files


def tree(root):
    out = {}
    for dirpath, _, names in os.walk(root):
        for n in names:
            p = os.path.join(dirpath, n)
            with open(p, encoding="utf-8") as f:
                out[os.path.relpath(p, root)] = f.read()
    return out


def test_sdk_uploads_are_unpacked_by_the_plugin(tmp_path, obs_server, scheme_host, plugin_dir):
    ak = "AKPYINTEROP" + secrets.token_hex(4).upper()
    sk = secrets.token_hex(20)
    server = obs_server(f"{ak}:{sk}")
    objects, expected = [], {}
    for signer in ("obs", "v2"):
        for i, key in enumerate(HARD_KEYS):
            full_key = f"{signer}-signed/{key}"
            data, files = package_for(full_key)
            path = tmp_path / f"{signer}-{i}.zip"
            path.write_bytes(data)
            objects.append({"key": full_key, "file": str(path), "signers": [signer]})
            expected[full_key] = files
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"bucket": "interop", "objects": objects}))
    env = dict(os.environ, OBS_ACCESS_KEY_ID=ak, OBS_SECRET_ACCESS_KEY=sk)
    sdk = subprocess.run(
        [sys.executable, os.path.join(HERE, "sdk_interop.py"), "--endpoint", server.endpoint, "--manifest", str(manifest)],
        env=env, capture_output=True, text=True,
    )
    assert sdk.returncode == 0, f"SDK interop failed:\n{sdk.stdout}\n{sdk.stderr}"
    result = json.loads(sdk.stdout)
    assert not result.get("failures"), result.get("failures")
    assert sk not in sdk.stdout and sk not in sdk.stderr

    host_env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path / "home"),
        "SCHEME_HOST_PLUGIN_DIR": plugin_dir,
        "SCHEME_HOST_CACHE_DIR": str(tmp_path / "cache"),
        "OBS_ENDPOINT": server.endpoint,
        "OBS_ACCESS_KEY_ID": ak,
        "OBS_SECRET_ACCESS_KEY": sk,
        "OBS_METADATA_DISABLED": "true",
    }
    for n, (key, files) in enumerate(expected.items()):
        dest = tmp_path / "out" / f"pkg{n}"
        run = subprocess.run(
            [scheme_host, "download-and-unpack", f"obs://interop/{key}", str(dest), "--json"],
            env=host_env, capture_output=True, text=True,
        )
        assert run.returncode == 0, f"{key}: {run.stdout} {run.stderr}"
        out = json.loads(run.stdout)
        assert out["ok"] is True
        assert tree(dest) == files, key
        assert sk not in run.stdout + run.stderr


def test_server_refuses_the_sdk_with_a_wrong_secret(tmp_path, obs_server):
    ak, sk = "AKPYWRONG0000000001", secrets.token_hex(20)
    server = obs_server(f"{ak}:{sk}")
    # sdk_interop.py's own checks include a client signing with a wrong secret key and an
    # unknown access key, both of which must get 403 with the right OBS code.
    env = dict(os.environ, OBS_ACCESS_KEY_ID=ak, OBS_SECRET_ACCESS_KEY=sk)
    run = subprocess.run(
        [sys.executable, os.path.join(HERE, "sdk_interop.py"), "--endpoint", server.endpoint, "--builtin", "--bucket", "refuse"],
        env=env, capture_output=True, text=True,
    )
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    names = json.dumps(result)
    assert "SignatureDoesNotMatch" in names and "InvalidAccessKeyId" in names, names[:2000]
