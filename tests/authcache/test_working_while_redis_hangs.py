"""A hanging Redis (a private redis-server, SIGSTOPped) costs each request at most a short
timeout: requests work from PostgreSQL. A password changed while Redis hangs never lets the
old one back in once Redis answers again: the invalidation PostgreSQL recorded is applied
before Redis is trusted (docs/contract.md)."""

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from tests.conftest import RunningApp
from tests.factories import DEFAULT_PASSWORD, Login, basic, login, make_user
from tests.faults import RedisServer
from tests.fixtures.fault_lab import RECOVERY_TIMEOUT_SECONDS, FaultLab, auth_source, eventually

REDIS_TIMEOUT_SECONDS = 0.2
# Loose: one Redis timeout, PostgreSQL and bcrypt at the test cost, on a busy machine.
REQUEST_BOUND_SECONDS = 1.5
NEW_PASSWORD = "a new and longer passphrase"


@pytest.fixture
async def redis_server(lab: FaultLab) -> RedisServer:
    return await lab.redis_server()


async def start_app(lab: FaultLab, redis_server: RedisServer) -> RunningApp:
    return await lab.app(redis_url=redis_server.url, redis_timeout_seconds=REDIS_TIMEOUT_SECONDS)


async def timed(call) -> tuple[httpx.Response, float]:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    response = await call
    return response, time.perf_counter() - started


def password_form(password: str) -> dict[str, str]:
    return {"grant_type": "password", "username": "alice", "password": password}


async def warm_up(client: httpx.AsyncClient) -> Login:
    """A login and Basic requests, until everything about alice is answered from Redis."""
    tokens = await login(client)
    for headers in (tokens.headers, basic("alice", DEFAULT_PASSWORD)):
        for _ in range(2):
            response = await client.get("/users/me", headers=headers)
            assert response.status_code == 200
        assert auth_source(response) == "cache"
    return tokens


@asynccontextmanager
async def alice_warmed_up(
    lab: FaultLab, redis_server: RedisServer
) -> AsyncIterator[tuple[httpx.AsyncClient, Login]]:
    """An app on the private Redis and a client on it, alice warmed up in Redis."""
    running = await start_app(lab, redis_server)
    await make_user(running.services)
    async with running.client() as client:
        yield client, await warm_up(client)


async def change_password_while_redis_hangs(
    client: httpx.AsyncClient, tokens: Login, redis_server: RedisServer
) -> None:
    redis_server.pause()
    changed = await client.post(
        "/users/me/password",
        json={"current_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD},
        headers=tokens.headers,
    )
    assert changed.status_code == 204, changed.text


async def redis_trusted_again(client: httpx.AsyncClient) -> None:
    async def ready_says_redis_ok() -> bool:
        return (await client.get("/ready")).json()["redis"] == "ok"

    await eventually(
        ready_says_redis_ok, timeout_seconds=RECOVERY_TIMEOUT_SECONDS, what="redis ok in /ready"
    )


async def test_each_request_finishes_quickly_and_works_from_postgresql(
    lab: FaultLab, redis_server: RedisServer
):
    async with alice_warmed_up(lab, redis_server) as (client, tokens):
        redis_server.pause()
        durations: list[tuple[str, float]] = []
        # Long enough to cross the breaker's window more than once (each probe may wait).
        deadline = time.monotonic() + 2.5
        while time.monotonic() < deadline:
            for name, call in (
                ("bearer", client.get("/users/me", headers=tokens.headers)),
                ("basic", client.get("/users/me", headers=basic("alice", DEFAULT_PASSWORD))),
                ("token", client.post("/token", data=password_form(DEFAULT_PASSWORD))),
                ("ready", client.get("/ready")),
            ):
                response, seconds = await timed(call)
                durations.append((name, seconds))
                assert response.status_code == 200, (name, response.text)
                if name in ("bearer", "basic", "token"):
                    assert auth_source(response) == "db", name
                if name == "ready":
                    assert response.json()["status"] == "degraded"

    slow = [(name, round(s, 3)) for name, s in durations if s >= REQUEST_BOUND_SECONDS]
    assert not slow


async def test_a_password_changed_while_redis_hangs_does_not_come_back_when_it_answers(
    lab: FaultLab, redis_server: RedisServer
):
    async with alice_warmed_up(lab, redis_server) as (client, tokens):
        other_session = await login(client)
        assert (await client.get("/users/me", headers=other_session.headers)).status_code == 200

        await change_password_while_redis_hangs(client, tokens, redis_server)
        assert (await client.get("/users/me", headers=basic("alice", DEFAULT_PASSWORD))).is_error
        redis_server.resume()
        await redis_trusted_again(client)

        assert (await client.get("/users/me", headers=basic("alice", DEFAULT_PASSWORD))).is_error
        token = await client.post("/token", data=password_form(DEFAULT_PASSWORD))
        assert token.status_code == 400
        assert token.json()["error"] == "invalid_grant"
        # The password change ended every other session; Redis had this one cached as live.
        assert (await client.get("/users/me", headers=other_session.headers)).status_code == 401
        assert (await client.get("/users/me", headers=tokens.headers)).status_code == 200
        # And Redis is in use again.
        new_credentials = basic("alice", NEW_PASSWORD)
        assert (await client.get("/users/me", headers=new_credentials)).status_code == 200
        response = await client.get("/users/me", headers=new_credentials)
        assert response.status_code == 200
        assert auth_source(response) == "cache"


async def test_a_password_changed_while_redis_hangs_is_refused_by_every_worker_afterwards(
    lab: FaultLab, redis_server: RedisServer
):
    first = await start_app(lab, redis_server)
    second = await start_app(lab, redis_server)
    await make_user(first.services)
    async with first.client() as client, second.client() as other:
        tokens = await warm_up(client)
        await warm_up(other)

        await change_password_while_redis_hangs(client, tokens, redis_server)
        redis_server.resume()
        await redis_trusted_again(other)
        await redis_trusted_again(client)

        assert (await other.get("/users/me", headers=basic("alice", DEFAULT_PASSWORD))).is_error
        token = await other.post("/token", data=password_form(DEFAULT_PASSWORD))
        assert token.json()["error"] == "invalid_grant"
        assert (await other.get("/users/me", headers=basic("alice", NEW_PASSWORD))).is_success
