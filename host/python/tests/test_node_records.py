import asyncio
import pickle
import time

import pytest
from ray.core.generated import gcs_pb2

from ray_scheme_host import node_records


class _Id:
    def __init__(self, h):
        self._h = h

    def hex(self):
        return self._h


class FakeGcs:
    """The few GcsClient calls node_records makes, over an in-memory cluster."""

    def __init__(self, async_pair=True):
        self.nodes = {}
        self.kv = {}
        # Ray 2.55 and later answer async_get_all_node_info with (nodes, total); earlier
        # releases with the nodes alone.
        self.async_pair = async_pair

    def add_node(self, node_id, started_s_ago, alive=True):
        state = gcs_pb2.GcsNodeInfo.ALIVE if alive else gcs_pb2.GcsNodeInfo.DEAD
        info = gcs_pb2.GcsNodeInfo(node_manager_address=f"10.0.0.{len(self.nodes) + 1}", start_time_ms=int((time.time() - started_s_ago) * 1000), state=state)
        self.nodes[_Id(node_id)] = info

    def internal_kv_put(self, key, value, overwrite, namespace, timeout=None):
        self.kv[(namespace, key)] = value
        return 1

    def internal_kv_keys(self, prefix, namespace, timeout=None):
        return [k for (ns, k) in self.kv if ns == namespace and k.startswith(prefix)]

    def get_all_node_info(self, timeout=None):
        return dict(self.nodes)

    async def async_get_all_node_info(self, timeout=None):
        return (dict(self.nodes), len(self.nodes)) if self.async_pair else dict(self.nodes)

    async def async_internal_kv_keys(self, prefix, namespace, timeout=None):
        return self.internal_kv_keys(prefix, namespace)


@pytest.mark.parametrize("async_pair", [True, False], ids=["ray-2.55+", "ray-2.54-"])
def test_all_registered_nodes_pass_and_dead_nodes_do_not_count(async_pair):
    gcs = FakeGcs(async_pair)
    gcs.add_node("aa", 100)
    gcs.add_node("bb", 100)
    gcs.add_node("dead", 100, alive=False)
    node_records.register(gcs, "aa", node_records.PLUGIN)
    node_records.register(gcs, "bb", node_records.PLUGIN)
    node_records.check_now(gcs, node_records.PLUGIN)
    asyncio.run(node_records.check(gcs, node_records.PLUGIN))


@pytest.mark.parametrize("async_pair", [True, False], ids=["ray-2.55+", "ray-2.54-"])
def test_an_old_node_without_a_record_is_refused_with_instructions(async_pair):
    gcs = FakeGcs(async_pair)
    gcs.add_node("aa", 100)
    gcs.add_node("bb", 100)
    node_records.register(gcs, "aa", node_records.SHIM)
    node_records.register(gcs, "bb", node_records.PLUGIN)  # the other path does not count
    with pytest.raises(node_records.IntegrationMissing) as err:
        node_records.check_now(gcs, node_records.SHIM)
    message = str(err.value)
    assert "not active on 1 of 2 alive Ray node(s): bb (10.0.0.2)" in message
    assert "python -m ray_scheme_host enable" in message
    assert str(pickle.loads(pickle.dumps(err.value))) == message
    with pytest.raises(node_records.IntegrationMissing, match="RAY_RUNTIME_ENV_PLUGINS="):
        asyncio.run(node_records.check(gcs, node_records.PLUGIN))


def test_a_new_node_gets_the_grace_period(monkeypatch):
    monkeypatch.setenv(node_records.GRACE_ENV, "1.5")
    gcs = FakeGcs()
    gcs.add_node("new", 0)
    node_records.check_now(gcs, node_records.PLUGIN)  # too young to judge without waiting

    async def register_soon():
        await asyncio.sleep(0.6)
        node_records.register(gcs, "new", node_records.PLUGIN)

    async def both():
        await asyncio.gather(node_records.check(gcs, node_records.PLUGIN), register_soon())

    asyncio.run(both())

    late = FakeGcs()
    late.add_node("late", 0)
    started = time.monotonic()
    with pytest.raises(node_records.IntegrationMissing):
        asyncio.run(node_records.check(late, node_records.PLUGIN))
    assert 1.0 < time.monotonic() - started < 5
