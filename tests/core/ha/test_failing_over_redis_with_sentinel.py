"""keygate on Redis Sentinel (REDIS_URL=redis+sentinel://...): when the master dies, requests
and logins carry on against PostgreSQL (no 500), then use the promoted replica; and a change
acknowledged before the failover is never served stale after it, even when the promoted
replica never received it."""

from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from redis.asyncio import Redis

from app.core.redis import RedisGuard, UnreplicatedChange
from app.core.redis_connection import RedisClient, connect_redis
from tests.clock import MovableClock
from tests.conftest import RunningApp, make_settings, running_app
from tests.core.ha.observing import (
    Observation,
    auth_source,
    observe_until_healthy,
    record,
    session_id_of,
    unique_name,
)
from tests.core.ha.processes import SentinelSet, replicas_acknowledge_a_write
from tests.factories import DEFAULT_PASSWORD, Login, basic, login, make_user

pytestmark = [pytest.mark.slow, pytest.mark.timeout(60)]
NEW_PASSWORD = "a brand new passphrase, never used"
FAILOVER_TIMEOUT_SECONDS = 20.0


@pytest.fixture
async def sentinel_app(
    database: asyncpg.Pool, sentinel_set: SentinelSet, clock: MovableClock
) -> AsyncIterator[RunningApp]:
    async with running_app(make_settings(redis_url=sentinel_set.url), clock) as started:
        yield started


async def test_requests_and_logins_carry_on_through_a_failover_and_return_to_the_cache(
    sentinel_set: SentinelSet, sentinel_app: RunningApp
) -> None:
    name = unique_name("sentinel-")
    await make_user(sentinel_app.services, name)
    form = {"grant_type": "password", "username": name, "password": DEFAULT_PASSWORD}
    async with sentinel_app.client() as client:
        tokens = await login(client, name)
        assert auth_source(await client.get("/users/me", headers=tokens.headers)) == "cache"

        old_port = await sentinel_set.kill_master()

        async def step(seen: Observation) -> bool:
            me = record(seen, await client.get("/users/me", headers=tokens.headers))
            token = record(seen, await client.post("/token", data=form))
            ready = record(seen, await client.get("/ready"))
            _, master_port = await sentinel_set.master_address()
            return (
                master_port != old_port
                and me.status_code == token.status_code == 200
                and auth_source(me) == "cache"
                and ready.json()["redis"] == "ok"
            )

        seen = await observe_until_healthy(
            step, what="Sentinel failover (master killed)", timeout_seconds=FAILOVER_TIMEOUT_SECONDS
        )

    seen.assert_no_server_errors_but_503()
    assert seen.unhealthy_seconds > 0  # it did fail over: Redis was away for a while


async def end_session(client: httpx.AsyncClient, tokens: Login, ended: Login) -> None:
    sid = session_id_of(ended.access_token)
    response = await client.delete(f"/users/me/sessions/{sid}", headers=tokens.headers)
    assert response.status_code == 204, response.text


async def change_password(client: httpx.AsyncClient, tokens: Login) -> None:
    response = await client.post(
        "/users/me/password",
        json={"current_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD},
        headers=tokens.headers,
    )
    assert response.status_code == 204, response.text


async def test_changes_the_promoted_replica_never_received_are_not_served_stale(
    sentinel_set: SentinelSet, sentinel_app: RunningApp
) -> None:
    name = unique_name("stale-")
    await make_user(sentinel_app.services, name)
    async with sentinel_app.client() as client:
        ended, kept, pushed_out = [await login(client, name) for _ in range(3)]
        for tokens in (ended, kept, pushed_out):  # every session, the user and Basic cached
            assert auth_source(await client.get("/users/me", headers=tokens.headers)) == "cache"
        old_basic = basic(name, DEFAULT_PASSWORD)
        assert auth_source(await client.get("/users/me", headers=old_basic)) == "cache"
        assert replicas_acknowledge_a_write(sentinel_set.master_port, 1)  # the replica has it

        # The replica stops receiving anything: what follows reaches the master only.
        sentinel_set.pause(sentinel_set.replica_port)
        assert await sentinel_set.cut_replica_links() == 1
        await end_session(client, kept, ended)
        await change_password(client, kept)  # also ends `pushed_out`
        old_port = await sentinel_set.kill_master()
        sentinel_set.resume(sentinel_set.replica_port)
        await sentinel_set.wait_for_failover(old_port, timeout_seconds=FAILOVER_TIMEOUT_SECONDS)

        async def trusts_the_new_master(seen: Observation) -> bool:
            me = record(seen, await client.get("/users/me", headers=kept.headers))
            ready = record(seen, await client.get("/ready"))
            return auth_source(me) == "cache" and ready.json()["redis"] == "ok"

        seen = await observe_until_healthy(
            trusts_the_new_master,
            what="Sentinel failover to a replica that missed changes",
            timeout_seconds=FAILOVER_TIMEOUT_SECONDS,
        )

        for tokens in (ended, pushed_out):
            response = await client.get("/users/me", headers=tokens.headers)
            assert response.status_code == 401, (auth_source(response), response.text)
        assert (await client.get("/users/me", headers=old_basic)).status_code == 401
        old_login = {"grant_type": "password", "username": name, "password": DEFAULT_PASSWORD}
        assert (await client.post("/token", data=old_login)).status_code == 400
        assert (await login(client, name, NEW_PASSWORD)).access_token
        assert (await client.get("/users/me", headers=kept.headers)).status_code == 200
    seen.assert_no_server_errors_but_503()


@pytest.fixture
async def guarded(sentinel_set: SentinelSet) -> AsyncIterator[RedisGuard]:
    client: RedisClient = connect_redis(sentinel_set.url, timeout_seconds=0.5)
    guard = RedisGuard(client, replica_wait_ms=200)
    yield guard
    await guard.close()
    await client.aclose()


async def test_a_new_master_is_distrusted_until_recorded_changes_are_applied_to_it(
    sentinel_set: SentinelSet, guarded: RedisGuard
) -> None:
    applied_to: list[str] = []

    async def on_recovery(redis: RedisClient) -> None:
        assert isinstance(redis, Redis)
        applied_to.append(str((await redis.info("server"))["tcp_port"]))

    guarded.before_trusting_again(on_recovery)
    assert await guarded.heartbeat()
    old_port = sentinel_set.master_port

    # A master paused through the whole failover: no call of this guard ever failed.
    sentinel_set.pause(old_port)
    new_port = await sentinel_set.wait_for_failover(old_port)
    sentinel_set.resume(old_port)

    assert await guarded.heartbeat()
    assert applied_to == [str(new_port)]


async def test_a_change_no_replica_confirmed_is_reported_and_leaves_redis_trusted(
    sentinel_set: SentinelSet, guarded: RedisGuard
) -> None:
    await guarded.change(["confirmed"], lambda pipe: pipe.set("confirmed", "1"))

    sentinel_set.pause(sentinel_set.replica_port)
    try:
        with pytest.raises(UnreplicatedChange):
            await guarded.change(["unconfirmed"], lambda pipe: pipe.set("unconfirmed", "1"))
        assert await guarded.ping()  # Redis answered: the breaker did not trip
    finally:
        sentinel_set.resume(sentinel_set.replica_port)
