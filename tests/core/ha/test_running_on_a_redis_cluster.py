"""keygate on a Redis Cluster (REDIS_URL=redis+cluster://...): everything that uses Redis works
there, from Redis (never a fallback to PostgreSQL): logins, bearer and Basic requests from the
cache, refresh, revocation, throttling and refusing a replayed TOTP code."""

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pyotp
import pytest
from prometheus_client.parser import text_string_to_metric_families
from redis.asyncio.cluster import RedisCluster

from app.authcache.keys import totp_step_key, user_key
from app.core.redis import RedisGuard, UnreplicatedChange
from app.core.redis_connection import connect_redis
from tests.clock import MovableClock
from tests.conftest import RunningApp, make_settings, running_app
from tests.core.ha.observing import (
    Observation,
    auth_source,
    observe_until_healthy,
    record,
    unique_name,
)
from tests.core.ha.processes import RedisClusterSet
from tests.factories import DEFAULT_PASSWORD, basic, login, make_user

pytestmark = [pytest.mark.slow, pytest.mark.timeout(60)]
STEP_SECONDS = 30


@pytest.fixture
async def cluster_app(
    database: asyncpg.Pool, redis_cluster: RedisClusterSet, clock: MovableClock
) -> AsyncIterator[RunningApp]:
    async with running_app(make_settings(redis_url=redis_cluster.url), clock) as started:
        yield started


@pytest.fixture
async def cluster(redis_cluster: RedisClusterSet) -> AsyncIterator[RedisCluster]:
    client = connect_redis(redis_cluster.url, timeout_seconds=0.5)
    assert isinstance(client, RedisCluster)
    yield client
    await client.aclose()


async def redis_fallbacks(client: httpx.AsyncClient) -> float:
    response = await client.get("/metrics")
    for family in text_string_to_metric_families(response.text):
        if family.name == "keygate_redis_fallbacks":
            return sum(sample.value for sample in family.samples if sample.name.endswith("_total"))
    raise AssertionError("keygate_redis_fallbacks_total is not exported")


async def test_logins_and_requests_are_served_from_the_cluster(
    cluster_app: RunningApp, cluster: RedisCluster
) -> None:
    name = unique_name("cluster-")
    user = await make_user(cluster_app.services, name)
    async with cluster_app.client() as client:
        tokens = await login(client, name)
        bearer = await client.get("/users/me", headers=tokens.headers)
        assert (bearer.status_code, auth_source(bearer)) == (200, "cache")
        for _ in range(2):  # the second is answered from the cache and the Basic memo
            response = await client.get("/users/me", headers=basic(name, DEFAULT_PASSWORD))
            assert (response.status_code, auth_source(response)) == (200, "cache")

        refreshed = await client.post(
            "/token", data={"grant_type": "refresh_token", "refresh_token": tokens.refresh_token}
        )
        assert refreshed.status_code == 200, refreshed.text
        new_access = refreshed.json()["access_token"]
        assert (await client.get("/users/me", headers=bearer_of(new_access))).status_code == 200

        revoked = await client.post(
            "/token/revoke", data={"token": refreshed.json()["refresh_token"]}
        )
        assert revoked.status_code == 200
        assert (await client.get("/users/me", headers=bearer_of(new_access))).status_code == 401

        assert await redis_fallbacks(client) == 0
    assert await cluster.exists(user_key(user.id)) == 1


def bearer_of(access_token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {access_token}"}


async def test_bearer_requests_of_many_users_at_once_are_served_from_the_cluster(
    cluster_app: RunningApp,
) -> None:
    names = [unique_name("many-") for _ in range(6)]
    for name in names:
        await make_user(cluster_app.services, name)
    async with cluster_app.client() as client:
        logins = [await login(client, name) for name in names]
        for tokens in logins:  # warm
            assert (await client.get("/users/me", headers=tokens.headers)).status_code == 200

        # Arriving together, their reads are joined into one batch spanning several slots.
        responses = await asyncio.gather(
            *(client.get("/users/me", headers=tokens.headers) for tokens in logins)
        )

        assert [(r.status_code, auth_source(r)) for r in responses] == [(200, "cache")] * 6
        assert await redis_fallbacks(client) == 0


async def test_failed_logins_are_throttled_in_the_cluster(
    cluster_app: RunningApp, cluster: RedisCluster
) -> None:
    name = unique_name("throttled-")
    user = await make_user(cluster_app.services, name)
    wrong = {"grant_type": "password", "username": name, "password": "not the password"}
    right = {**wrong, "password": DEFAULT_PASSWORD}
    async with cluster_app.client() as client:
        failures = cluster_app.services.settings.login_max_failures
        for _ in range(failures):
            assert (await client.post("/token", data=wrong)).status_code == 400

        locked = await client.post("/token", data=right)

        assert locked.status_code == 429, locked.text
        assert await redis_fallbacks(client) == 0
        assert [key async for key in cluster.scan_iter(match="kg:fail:u:*")]

        # `keygate users unlock`: its SCAN and DEL reach every master.
        await cluster_app.services.throttle.unlock(user.id)

        assert (await client.post("/token", data=right)).status_code == 200
        assert await redis_fallbacks(client) == 0


async def test_a_totp_code_is_refused_the_second_time(
    cluster_app: RunningApp, cluster: RedisCluster, clock: MovableClock
) -> None:
    name = unique_name("totp-")
    user = await make_user(cluster_app.services, name)
    async with cluster_app.client() as client:
        tokens = await login(client, name)
        clock.advance((STEP_SECONDS / 2 - clock() % STEP_SECONDS) % STEP_SECONDS)
        begun = await client.post(
            "/users/me/totp", headers=tokens.headers, json={"password": DEFAULT_PASSWORD}
        )
        secret = begun.json()["secret"]
        code = pyotp.TOTP(secret).at(clock())
        confirm = {"code": code}
        confirmed = await client.post(
            "/users/me/totp/confirm", json=confirm, headers=tokens.headers
        )
        assert confirmed.status_code == 200, confirmed.text
        clock.advance(3 * STEP_SECONDS)
        form = {
            "grant_type": "password",
            "username": name,
            "password": DEFAULT_PASSWORD,
            "otp": pyotp.TOTP(secret).at(clock()),
        }

        assert (await client.post("/token", data=form)).status_code == 200
        replayed = await client.post("/token", data=form)

        assert replayed.status_code == 400
        assert replayed.json()["error"] == "invalid_grant"
        assert await redis_fallbacks(client) == 0
    assert await cluster.exists(totp_step_key(user.id)) == 1


async def test_a_change_waits_for_the_replica_of_the_master_that_took_it(
    replicated_cluster: RedisClusterSet,
) -> None:
    client = connect_redis(replicated_cluster.url, timeout_seconds=0.5)
    assert isinstance(client, RedisCluster)
    guard = RedisGuard(client, replica_wait_ms=200)
    try:
        await client.initialize()
        key = user_key(1)
        master = client.get_node_from_key(key)
        other_key = next(
            k
            for k in (user_key(i) for i in range(2, 100))
            if client.get_node_from_key(k).port != master.port
        )
        await guard.change([key], lambda pipe: pipe.set(key, "confirmed"))
        (replica,) = await replicated_cluster.replica_ports_of(master.port)

        replicated_cluster.pause(replica)
        try:
            with pytest.raises(UnreplicatedChange):
                await guard.change([key], lambda pipe: pipe.set(key, "unconfirmed"))
            await guard.change([other_key], lambda pipe: pipe.set(other_key, "confirmed"))
        finally:
            replicated_cluster.resume(replica)
    finally:
        await client.aclose()


async def test_requests_carry_on_through_a_cluster_failover_and_return_to_the_cache(
    database: asyncpg.Pool, replicated_cluster: RedisClusterSet, clock: MovableClock
) -> None:
    name = unique_name("cluster-failover-")
    form = {"grant_type": "password", "username": name, "password": DEFAULT_PASSWORD}
    settings = make_settings(redis_url=replicated_cluster.url)
    async with running_app(settings, clock) as app, app.client() as client:
        user = await make_user(app.services, name)
        tokens = await login(client, name)
        assert auth_source(await client.get("/users/me", headers=tokens.headers)) == "cache"
        redis = app.services.redis
        assert isinstance(redis, RedisCluster)
        master = redis.get_node_from_key(user_key(user.id))
        replicas = await replicated_cluster.replica_ports_of(master.port)

        replicated_cluster.kill(master.port)

        async def step(seen: Observation) -> bool:
            me = record(seen, await client.get("/users/me", headers=tokens.headers))
            token = record(seen, await client.post("/token", data=form))
            ready = record(seen, await client.get("/ready"))
            return (
                me.status_code == token.status_code == 200
                and auth_source(me) == "cache"
                and ready.json()["redis"] == "ok"
            )

        seen = await observe_until_healthy(
            step, what="Redis Cluster failover (a master killed)", timeout_seconds=20
        )
        assert redis.get_node_from_key(user_key(user.id)).port in replicas
    seen.assert_no_server_errors_but_503()


async def test_a_cluster_that_cannot_be_reached_is_an_unavailable_redis(
    database: asyncpg.Pool, clock: MovableClock
) -> None:
    """With every node down redis-py raises RedisClusterException, which is no RedisError."""
    name = unique_name("no-cluster-")
    settings = make_settings(redis_url="redis+cluster://127.0.0.1:1,127.0.0.1:2")
    async with running_app(settings, clock) as app, app.client() as client:
        await make_user(app.services, name)
        tokens = await login(client, name)
        bearer = await client.get("/users/me", headers=tokens.headers)
        ready = await client.get("/ready")

        assert (bearer.status_code, auth_source(bearer)) == (200, "db")
        assert (ready.status_code, ready.json()["redis"]) == (200, "unavailable")
        assert await redis_fallbacks(client) > 0
