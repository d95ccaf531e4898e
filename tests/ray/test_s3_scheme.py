"""A second real scheme through the RuntimeEnvPlugin fields: the same packages as `s3://` URIs,
fetched by the s3 plugin (SigV4, checked by the test server) on every node. Nothing in the
Ray integration names a scheme; the wheel ships the plugin."""

import hashlib
import uuid

from checks import assert_sees_everything, assert_store_error, entrypoint
from conftest import result_of

WD = "scheme_working_dir_files"


def s3(stack, key):
    return stack.uri(key).replace("obs://", "s3://", 1)


def test_job_runs_from_s3_working_dir_and_modules_on_both_nodes(stack):
    app = s3(stack, "jobs/app.zip")
    runtime_env = {
        "scheme_working_dir": app,
        "scheme_py_modules": [s3(stack, "libs/mods.zip"), s3(stack, "libs/wheelmod-1.0-py3-none-any.whl")],
    }
    sid = stack.client().submit_job(
        entrypoint=entrypoint("scheme_py_modules", [s3(stack, "libs/extra.zip")]),
        runtime_env=runtime_env,
        submission_id=f"s3-{uuid.uuid4().hex[:8]}",
    )
    info, logs = stack.wait(sid)
    assert info.status == "SUCCEEDED", f"{info.message}\n{logs[-4000:]}"
    assert_sees_everything(stack, result_of(logs), WD, f"s3_{hashlib.sha1(app.encode()).hexdigest()}")
    # Each node fetched it itself (by the calling process: nodes of Ray releases up to 2.54
    # share one temp dir).
    assert len(stack.host_calls(app, node=stack.head)) == 1
    assert len(stack.host_calls(app, node=stack.node2)) == 1


def test_missing_s3_object_fails_the_job_with_the_store_code(stack):
    missing = s3(stack, "jobs/app.zip").replace("/app.zip", f"/missing-{uuid.uuid4().hex[:6]}.zip")
    sid = stack.client().submit_job(
        entrypoint=entrypoint("scheme_py_modules", []),
        runtime_env={"scheme_working_dir": missing},
        submission_id=f"s3-missing-{uuid.uuid4().hex[:8]}",
    )
    info, logs = stack.wait(sid)
    assert_store_error(info, missing)
