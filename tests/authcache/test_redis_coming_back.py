"""Redis stopped and started again on the same port, or emptied: the app keeps working from
PostgreSQL meanwhile and uses Redis again without a restart (docs/contract.md)."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from redis.asyncio import Redis

from tests.factories import DEFAULT_PASSWORD, Login, basic, login, make_user
from tests.faults import RedisServer
from tests.fixtures.fault_lab import RECOVERY_TIMEOUT_SECONDS, FaultLab, auth_source, eventually


@asynccontextmanager
async def alice_cached_in_a_private_redis(
    lab: FaultLab,
) -> AsyncIterator[tuple[RedisServer, httpx.AsyncClient, Login]]:
    """An app on a Redis the test may kill, and alice logged in with her session in it."""
    server = await lab.redis_server()
    running = await lab.app(redis_url=server.url)
    await make_user(running.services)
    async with running.client() as client:
        tokens = await login(client)
        assert auth_source(await client.get("/users/me", headers=tokens.headers)) == "cache"
        yield server, client, tokens


async def test_a_restarted_redis_is_used_again_without_restarting_the_app(lab: FaultLab):
    async with alice_cached_in_a_private_redis(lab) as (server, client, tokens):
        await server.kill()
        for headers in (tokens.headers, basic("alice", DEFAULT_PASSWORD)):
            response = await client.get("/users/me", headers=headers)
            assert response.status_code == 200, response.text
            assert auth_source(response) == "db"
        assert (await client.get("/ready")).json()["status"] == "degraded"
        during = await login(client)  # a session started while Redis is away

        await server.start()

        async def answered_from_cache(headers: dict[str, str]) -> bool:
            response = await client.get("/users/me", headers=headers)
            assert response.status_code == 200, response.text
            return auth_source(response) == "cache"

        for headers in (tokens.headers, during.headers, basic("alice", DEFAULT_PASSWORD)):
            await eventually(
                lambda h=headers: answered_from_cache(h),
                timeout_seconds=RECOVERY_TIMEOUT_SECONDS,
                what="requests answered from the restarted redis",
            )
        ready = await client.get("/ready")
        assert ready.json() == {"status": "ok", "postgres": "ok", "redis": "ok"}


async def test_a_logout_while_redis_is_stopped_holds_after_it_returns(lab: FaultLab):
    async with alice_cached_in_a_private_redis(lab) as (server, client, tokens):
        await server.kill()
        assert (await client.post("/logout", headers=tokens.headers)).status_code == 204
        await server.start()

        async def ready_says_redis_ok() -> bool:
            return (await client.get("/ready")).json()["redis"] == "ok"

        await eventually(
            ready_says_redis_ok, timeout_seconds=RECOVERY_TIMEOUT_SECONDS, what="redis ok"
        )
        for _ in range(2):
            refused = await client.get("/users/me", headers=tokens.headers)
            assert refused.status_code == 401


async def test_basic_requests_survive_redis_going_away_and_coming_back(lab: FaultLab):
    server = await lab.redis_server()
    running = await lab.app(redis_url=server.url)
    await make_user(running.services)
    credentials = basic("alice", DEFAULT_PASSWORD)
    statuses: list[int] = []
    async with running.client() as client:

        async def ask() -> httpx.Response:
            response = await client.get("/users/me", headers=credentials)
            statuses.append(response.status_code)
            return response

        await ask()
        await server.kill()
        await ask()
        await server.start()
        await ask()
        await server.kill()
        await ask()
        await server.start()
        await ask()

    assert statuses == [200] * 5


async def test_an_emptied_redis_is_rebuilt_from_postgresql(
    client: httpx.AsyncClient, services, redis: Redis
):
    await make_user(services)
    tokens = await login(client)
    credentials = basic("alice", DEFAULT_PASSWORD)
    assert auth_source(await client.get("/users/me", headers=credentials)) == "cache"

    await redis.flushdb()

    sources = []
    for headers in (tokens.headers, tokens.headers, credentials):
        response = await client.get("/users/me", headers=headers)
        assert response.status_code == 200, response.text
        sources.append(auth_source(response))
    assert sources == ["db", "cache", "cache"]
    refreshed = await client.post(
        "/token", data={"grant_type": "refresh_token", "refresh_token": tokens.refresh_token}
    )
    assert refreshed.status_code == 200
