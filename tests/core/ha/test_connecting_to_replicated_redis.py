"""keygate reaches Redis through Sentinels or a Redis Cluster from REDIS_URL alone: the
Sentinel client follows a failover by itself, fails fast while it runs, and the master's
identity tells that it happened."""

from collections.abc import AsyncIterator, Iterator

import pytest
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import ConnectionError as RedisConnectionError

from app.core.redis_connection import connect_redis, master_identity
from tests.core.ha.processes import RedisClusterSet, SentinelSet

pytestmark = [pytest.mark.slow, pytest.mark.timeout(60)]
PASSWORD = "ha-test-password"


@pytest.fixture
def protected_sentinel_set() -> Iterator[SentinelSet]:
    started = SentinelSet(password=PASSWORD).start()
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture
async def sentinel_client(protected_sentinel_set: SentinelSet) -> AsyncIterator[Redis]:
    url = protected_sentinel_set.url.replace("://", f"://:{PASSWORD}@") + "/3"
    client = connect_redis(url, timeout_seconds=0.5)
    assert isinstance(client, Redis)
    yield client
    await client.aclose()


async def test_a_sentinel_url_reaches_the_master_with_its_password_and_database(
    protected_sentinel_set: SentinelSet, sentinel_client: Redis
) -> None:
    await sentinel_client.set("greeting", "hello")

    port = protected_sentinel_set.master_port
    async with Redis(port=port, password=PASSWORD, db=3, socket_timeout=0.5) as master:
        assert await master.get("greeting") == b"hello"


async def test_a_sentinel_client_refuses_writes_during_a_failover_and_then_writes_to_the_new_master(
    protected_sentinel_set: SentinelSet, sentinel_client: Redis
) -> None:
    before = await master_identity(sentinel_client)

    old_port = await protected_sentinel_set.kill_master()
    with pytest.raises(RedisConnectionError):
        await sentinel_client.set("during", "failover")
    await protected_sentinel_set.wait_for_failover(old_port)

    await sentinel_client.set("after", "failover")
    assert await master_identity(sentinel_client) != before


async def test_a_cluster_url_reaches_every_master(redis_cluster: RedisClusterSet) -> None:
    client = connect_redis(redis_cluster.url, timeout_seconds=0.5)
    try:
        assert isinstance(client, RedisCluster)
        keys = [f"reach:{i}" for i in range(30)]
        for key in keys:
            await client.set(key, key)

        assert await client.mget_nonatomic(keys) == [key.encode() for key in keys]
        assert len((await master_identity(client)).split(",")) == len(redis_cluster.ports)
    finally:
        await client.aclose()


async def test_a_cluster_client_writes_to_the_promoted_replica_and_reports_a_new_identity(
    replicated_cluster: RedisClusterSet,
) -> None:
    client = connect_redis(replicated_cluster.url, timeout_seconds=0.5)
    assert isinstance(client, RedisCluster)
    try:
        await client.initialize()  # learns the slot map, which get_node_from_key reads
        old_master = client.get_node_from_key("{user:9}:record")
        async with client.pipeline(transaction=False) as pipe:
            pipe.set("{user:9}:record", "kept")
            pipe.execute_command("WAIT", 1, 200, target_nodes=old_master)
            assert await pipe.execute() == [True, 1]
        before = await master_identity(client)
        replicas = await replicated_cluster.replica_ports_of(old_master.port)

        replicated_cluster.kill(old_master.port)
        with pytest.raises(RedisConnectionError):
            await client.get("{user:9}:record")
        await replicated_cluster.wait_for_failover(replicas)

        await client.set("{user:9}:sessions", "written")
        assert await client.get("{user:9}:record") == b"kept"
        assert await master_identity(client) != before
    finally:
        await client.aclose()


async def test_an_old_master_that_comes_back_is_not_taken_for_the_master(
    protected_sentinel_set: SentinelSet, sentinel_client: Redis
) -> None:
    await sentinel_client.set("opened", "a pooled connection to the first master")
    before = await master_identity(sentinel_client)
    old_port = protected_sentinel_set.master_port

    protected_sentinel_set.pause(old_port)
    new_port = await protected_sentinel_set.wait_for_failover(old_port)
    protected_sentinel_set.resume(old_port)

    assert await master_identity(sentinel_client) != before
    await sentinel_client.set("after", "failover")
    async with Redis(port=new_port, password=PASSWORD, db=3, socket_timeout=0.5) as master:
        assert await master.get("after") == b"failover"
