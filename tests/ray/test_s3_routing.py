"""Ray's own `s3://` scheme, routed through scheme-host's s3 plugin only where the operator
opted in (`python -m ray_scheme_host enable --schemes obs,s3`), and on Ray's own path
(boto3 + smart_open) everywhere else, with the same package directory either way.

The session's nodes were started after a plain `enable`. This module opts in with the
documented command and starts one more node, `s3node`, which picks the setting up like any
node (re)started after `enable`; the same plain `s3://` job then runs once on `s3node` and
once on the head. Afterwards the node is stopped, with its jobs (Ray serves a job's logs from
the node its entrypoint ran on), and the plain `enable` restored."""

import os
import uuid

import pytest
from conftest import result_of

WD = "working_dir_files"


def s3_uri(stack):
    return stack.uri("jobs/s3-app.zip").replace("obs://", "s3://", 1)


# Jobs whose entrypoint ran on s3node: deleted before the node stops.
_S3NODE_JOBS = []


@pytest.fixture(scope="module")
def s3_node(stack):
    stack.enable("--schemes", "obs,s3")
    try:
        node = stack.add_node("s3node")
    except BaseException:
        stack.enable()
        raise
    yield node
    try:
        for sid in _S3NODE_JOBS:
            stack.client().delete_job(sid)
    finally:
        node.stop()
        stack.enable()


def run_pinned(stack, uri, resource):
    sid = f"s3-routing-{uuid.uuid4().hex[:8]}"
    if resource == "s3node":
        _S3NODE_JOBS.append(sid)
    out = stack.root / f"{sid}.result"
    stack.client().submit_job(
        entrypoint="python whereami.py",
        runtime_env={"working_dir": uri, "env_vars": {"WHEREAMI_OUT": str(out)}},
        entrypoint_resources={resource: 0.01},
        submission_id=sid,
    )
    info, logs = stack.wait(sid)
    assert info.status == "SUCCEEDED", f"{info.message}\n{logs[-4000:]}"
    assert info.runtime_env["working_dir"] == uri
    # The entrypoint ran on `resource`'s node; Ray's job logs come from the head's files.
    return result_of(out.read_text())


def assert_in_rays_directory(stack, result, node, uri):
    """The job ran in the directory this Ray release names for `uri` (Ray's own rule, so its
    cache and cleanup see one package whichever path fetched it), on `node`."""
    assert result["data"] == f"s3-data-{stack.token}"
    assert result["files"] == ["data.txt", "whereami.py"]  # the top-level s3app/ stripped
    cwd = os.path.realpath(result["cwd"])
    assert cwd.endswith(os.path.join("runtime_resources", WD, stack.rays_package_dir(uri))), cwd
    assert cwd.startswith(os.path.realpath(stack.cluster.temp_dir_of(node)) + os.sep), cwd


def test_status_says_builtin_s3_is_routed(stack, s3_node):
    report = stack.status()
    schemes = report["literal_uris"]["schemes"]
    assert schemes["chosen"] == ["obs", "s3"]
    assert schemes["builtin_routed"] == {"s3": True}


def test_opted_in_node_fetches_a_plain_s3_working_dir_with_scheme_host(stack, s3_node):
    uri = s3_uri(stack)
    result = run_pinned(stack, uri, "s3node")
    assert_in_rays_directory(stack, result, s3_node, uri)
    calls = stack.host_calls(uri, node=s3_node)
    assert [c[0] for c in calls] == ["download-and-unpack"], calls
    assert os.path.realpath(calls[0][2]) == os.path.realpath(result["cwd"])


def test_a_node_started_without_the_opt_in_keeps_rays_own_s3_path(stack, s3_node):
    uri = s3_uri(stack)
    result = run_pinned(stack, uri, "head")
    # Fetched by Ray's own code (boto3 + smart_open, from the same server and credentials),
    # into the same directory name.
    assert_in_rays_directory(stack, result, stack.head, uri)
    assert stack.host_calls(uri, node=stack.head) == []
