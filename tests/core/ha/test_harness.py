"""The failover harness does what the HA tests rely on, checked with plain clients: a Sentinel
client follows a killed master, a cluster client spans slots, and a multi-host asyncpg pool
finds the promoted standby. (App-level tests may replace these.)"""

from collections.abc import AsyncIterator

import asyncpg
import pytest
from redis.asyncio import Redis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import NoBackoff

from tests.core.ha.processes import HarnessError, PostgresPair, RedisClusterSet, SentinelSet

pytestmark = [pytest.mark.slow, pytest.mark.timeout(60)]


@pytest.fixture
async def sentinel_master(sentinel_set: SentinelSet) -> AsyncIterator[Redis]:
    sentinel = Sentinel(sentinel_set.sentinel_addresses, socket_timeout=0.5)
    master = sentinel.master_for(
        sentinel_set.service_name, socket_timeout=0.5, retry=Retry(NoBackoff(), 0)
    )
    yield master
    await master.aclose()
    await sentinel.aclose()


async def test_a_sentinel_client_writes_to_the_promoted_replica_after_the_master_is_killed(
    sentinel_set: SentinelSet, sentinel_master: Redis
) -> None:
    async with sentinel_master.pipeline(transaction=False) as pipe:
        pipe.set("before", "kept").wait(1, 200)
        assert await pipe.execute() == [True, 1]

    old_port = await sentinel_set.kill_master()
    new_port = await sentinel_set.wait_for_failover(old_port)

    await sentinel_master.set("after", "written")
    assert await sentinel_master.get("before") == b"kept"
    assert await sentinel_set.master_address() == ("127.0.0.1", new_port)


async def test_wait_reports_no_replica_while_the_replica_is_paused(
    sentinel_set: SentinelSet, sentinel_master: Redis
) -> None:
    sentinel_set.pause(sentinel_set.replica_port)
    try:
        async with sentinel_master.pipeline(transaction=False) as pipe:
            pipe.set("unconfirmed", "1").wait(1, 100)
            assert await pipe.execute() == [True, 0]
    finally:
        sentinel_set.resume(sentinel_set.replica_port)


async def test_a_replica_whose_link_was_cut_acknowledges_writes_again(
    sentinel_set: SentinelSet, sentinel_master: Redis
) -> None:
    assert await sentinel_set.cut_replica_links() == 1

    async with sentinel_master.pipeline(transaction=False) as pipe:
        pipe.set("after-cut", "1").wait(1, 400)
        assert await pipe.execute() == [True, 1]


async def test_wait_for_failover_gives_up_when_the_master_is_alive(
    sentinel_set: SentinelSet,
) -> None:
    _, port = await sentinel_set.master_address()
    with pytest.raises(HarnessError, match="no failover"):
        await sentinel_set.wait_for_failover(port, timeout_seconds=0.2)


@pytest.fixture
async def cluster_client(redis_cluster: RedisClusterSet) -> AsyncIterator[RedisCluster]:
    nodes = [ClusterNode("127.0.0.1", port) for port in redis_cluster.ports]
    client = RedisCluster(startup_nodes=nodes, socket_timeout=0.5)
    await client.initialize()
    yield client
    await client.aclose()


async def test_a_cluster_client_reads_and_writes_keys_on_every_master(
    redis_cluster: RedisClusterSet, cluster_client: RedisCluster
) -> None:
    keys = [f"spread:{i}" for i in range(30)]
    assert {cluster_client.get_node_from_key(key).port for key in keys} == set(redis_cluster.ports)

    for key in keys:
        await cluster_client.set(key, key)

    assert [await cluster_client.get(key) for key in keys] == [key.encode() for key in keys]


async def test_keys_sharing_a_hash_tag_are_read_with_one_mget(
    cluster_client: RedisCluster,
) -> None:
    await cluster_client.set("{user:7}:record", "r")
    await cluster_client.set("{user:7}:sessions", "s")

    assert await cluster_client.mget("{user:7}:record", "{user:7}:sessions") == [b"r", b"s"]


async def test_a_multi_host_pool_writes_to_the_promoted_standby_after_the_primary_stops(
    postgres_pair: PostgresPair,
) -> None:
    pool = await asyncpg.create_pool(postgres_pair.url(), min_size=0, max_size=2)
    try:
        async with pool.acquire() as conn:
            await conn.execute("CREATE TABLE notes (body text)")
            await conn.execute("INSERT INTO notes VALUES ('before')")
            assert await conn.fetchval("SELECT inet_server_port()") == postgres_pair.primary_port
            lsn = await conn.fetchval("SELECT pg_current_wal_lsn()::text")
        await postgres_pair.wait_for_standby_replay(lsn)

        await postgres_pair.stop_primary()
        await postgres_pair.promote_standby()

        async with pool.acquire() as conn:
            await conn.execute("INSERT INTO notes VALUES ('after')")
            assert await conn.fetchval("SELECT inet_server_port()") == postgres_pair.standby_port
            rows = await conn.fetch("SELECT body FROM notes ORDER BY body")
        assert [row["body"] for row in rows] == ["after", "before"]
    finally:
        await pool.close()
