"""The RuntimeEnvPlugin path: `scheme_working_dir` / `scheme_py_modules`, nothing on the client."""

import uuid

from checks import assert_sees_everything, assert_store_error, entrypoint, package_dir
from conftest import result_of

WD = "scheme_working_dir_files"


def plugin_env(stack, app_key="jobs/app.zip"):
    return {
        "scheme_working_dir": stack.uri(app_key),
        "scheme_py_modules": [stack.uri("libs/mods.zip"), stack.uri("libs/wheelmod-1.0-py3-none-any.whl")],
    }


def submit(stack, runtime_env, extra):
    # Submitted from this process, which has no shim loaded: the plugin path needs nothing here.
    return stack.client().submit_job(
        entrypoint=entrypoint("scheme_py_modules", extra),
        runtime_env=runtime_env,
        submission_id=f"plugin-{uuid.uuid4().hex[:8]}",
    )


def test_job_runs_in_obs_working_dir_with_obs_modules_on_both_nodes(stack):
    sid = submit(stack, plugin_env(stack), [stack.uri("libs/extra.zip")])
    info, logs = stack.wait(sid)
    assert info.status == "SUCCEEDED", f"{info.message}\n{logs[-4000:]}"
    assert_sees_everything(stack, result_of(logs), WD, package_dir(stack.uri("jobs/app.zip")))
    # Each node fetched the package itself, through scheme-host.
    app = stack.uri("jobs/app.zip")
    assert len(stack.host_calls(app, node=stack.head)) == 1
    assert len(stack.host_calls(app, node=stack.node2)) == 1
    # A wheel is downloaded once per resources directory, by one node's agent at most once:
    # the nodes of a Ray up to 2.54 on one machine share the head's directory, and the
    # second agent may find the wheel installed already or install it concurrently.
    wheel = stack.uri("libs/wheelmod-1.0-py3-none-any.whl")
    downloads = stack.host_calls(wheel)
    assert {c[0] for c in downloads} == {"download"}
    directories = {stack.cluster.temp_dir_of(n) for n in (stack.head, stack.node2)}
    assert len(directories) <= len(downloads) <= 2, downloads
    assert all(len(stack.host_calls(wheel, node=n)) <= 1 for n in (stack.head, stack.node2))


def test_second_job_reuses_the_cached_packages(stack):
    watched = [stack.uri("jobs/app.zip"), stack.uri("libs/mods.zip"), stack.uri("libs/wheelmod-1.0-py3-none-any.whl")]
    before = {uri: len(stack.host_calls(uri, under=WD)) + len(stack.host_calls(uri, under="scheme_py_modules_files")) for uri in watched}
    assert all(before.values()), before
    sid = submit(stack, plugin_env(stack), [stack.uri("libs/extra.zip")])
    info, logs = stack.wait(sid)
    assert info.status == "SUCCEEDED", f"{info.message}\n{logs[-4000:]}"
    assert_sees_everything(stack, result_of(logs), WD, package_dir(stack.uri("jobs/app.zip")))
    after = {uri: len(stack.host_calls(uri, under=WD)) + len(stack.host_calls(uri, under="scheme_py_modules_files")) for uri in watched}
    assert after == before


def test_missing_object_fails_the_job_with_the_store_code(stack):
    missing = stack.uri("jobs/app.zip").replace("/app.zip", f"/missing-{uuid.uuid4().hex[:6]}.zip")
    sid = submit(stack, {"scheme_working_dir": missing}, [])
    info, logs = stack.wait(sid)
    assert_store_error(info, missing)
