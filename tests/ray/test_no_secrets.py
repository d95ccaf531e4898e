"""Store credentials never show up in what Ray keeps or shows: job metadata and status, job
logs, the dashboard's REST answers, and every file under the nodes' temp dirs."""

import os
import urllib.request


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=30) as resp:
        return resp.read().decode("utf-8", "replace")


def test_secret_key_appears_nowhere(stack):
    secret = stack.secret_key
    assert stack.submitted, "run after the job tests"
    client = stack.client()
    for job in client.list_jobs():
        assert secret not in repr(job), job.submission_id
        if job.submission_id:
            assert secret not in client.get_job_logs(job.submission_id), job.submission_id
    base = stack.cluster.dashboard_url
    for path in ("/api/jobs/", "/api/v0/nodes?detail=1", "/api/v0/tasks?detail=1&limit=1000", "/api/v0/actors?detail=1", "/nodes?view=summary", "/api/cluster_status"):
        assert secret not in _get(base + path), path
    leaks = []
    scanned = 0
    for node in stack.cluster.nodes:
        for dirpath, _dirs, files in os.walk(node.temp_dir):
            for name in files:
                path = os.path.join(dirpath, name)
                if os.path.islink(path) or not os.path.isfile(path):
                    continue
                try:
                    with open(path, "rb") as f:
                        if secret.encode() in f.read():
                            leaks.append(path)
                except OSError:
                    continue
                scanned += 1
    assert scanned > 50, scanned
    assert not leaks, leaks
