"""PostgreSQL unreachable (the app reaches it through a TCP proxy that is stopped, or paused
like a hung network): cached users still log in and make requests, an uncached user gets 503
temporarily_unavailable, /ready is 503, nothing is a 500; and a session started during the
outage reaches PostgreSQL once it is back (docs/contract.md)."""

import base64
import json
import time
import uuid

import asyncpg
import httpx
import pytest

from tests.conftest import RunningApp
from tests.factories import DEFAULT_PASSWORD, Login, basic, login, make_user, rotate
from tests.faults import TcpProxy
from tests.fixtures.fault_lab import FaultLab, auth_source, eventually

# Loose: requests that need nothing from PostgreSQL must not wait on it.
CACHED_REQUEST_BOUND_SECONDS = 1.5
# The heartbeat flushes the journal every 0.5 s; PostgreSQL reconnects take a moment.
FLUSH_TIMEOUT_SECONDS = 10.0


def password_form(username: str) -> dict[str, str]:
    return {"grant_type": "password", "username": username, "password": DEFAULT_PASSWORD}


def session_id_of(access_token: str) -> uuid.UUID:
    payload = access_token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return uuid.UUID(claims["sid"])


class Outage:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.responses: list[tuple[str, int]] = []

    async def get(self, path: str, headers: dict[str, str]) -> httpx.Response:
        return self._seen(await self.client.get(path, headers=headers))

    async def token(self, form: dict[str, str]) -> httpx.Response:
        return self._seen(await self.client.post("/token", data=form))

    def _seen(self, response: httpx.Response) -> httpx.Response:
        self.responses.append(
            (f"{response.request.method} {response.request.url.path}", response.status_code)
        )
        return response

    def server_errors(self) -> list[tuple[str, int]]:
        return [
            (what, status) for what, status in self.responses if status >= 500 and status != 503
        ]


async def wait_until_in_postgresql(database: asyncpg.Pool, session_id: uuid.UUID) -> None:
    async def session_in_postgresql() -> bool:
        count = await database.fetchval("SELECT count(*) FROM sessions WHERE id = $1", session_id)
        return count == 1

    await eventually(
        session_in_postgresql,
        timeout_seconds=FLUSH_TIMEOUT_SECONDS,
        what="the session started during the outage written to PostgreSQL",
    )


async def wait_until_ready(client: httpx.AsyncClient) -> None:
    """Another app on the same Redis may have moved the session into PostgreSQL while this
    one still holds PostgreSQL for away (its breaker answers 503 until its probe succeeds)."""

    async def ready() -> bool:
        return (await client.get("/ready")).status_code == 200

    await eventually(ready, timeout_seconds=FLUSH_TIMEOUT_SECONDS, what="/ready says ok")


@pytest.fixture
async def proxy(lab: FaultLab) -> TcpProxy:
    return await lab.pg_proxy()


@pytest.fixture
async def behind_proxy(lab: FaultLab, proxy: TcpProxy) -> RunningApp:
    running = await lab.app_behind(proxy)
    await make_user(running.services)
    await make_user(running.services, "bob")  # never logs in: never cached
    return running


async def warm_up(client: httpx.AsyncClient) -> Login:
    tokens = await login(client)
    assert auth_source(await client.get("/users/me", headers=tokens.headers)) == "cache"
    return tokens


async def check_cached_user_works(outage: Outage, tokens: Login) -> Login:
    """Logs in again, then bearer (old and new token) and Basic requests: all from Redis.
    Only the login has something to write to PostgreSQL (its session), so only the login
    may wait for PostgreSQL's timeouts; the requests must not."""
    token = await outage.token(password_form("alice"))
    assert token.status_code == 200, token.text
    assert auth_source(token) == "cache"
    body = token.json()
    during = Login(body["access_token"], body["refresh_token"], body["scope"])
    for headers in (tokens.headers, during.headers, basic("alice", DEFAULT_PASSWORD)):
        for _ in range(2):
            request_started = time.perf_counter()
            response = await outage.get("/users/me", headers=headers)
            assert time.perf_counter() - request_started < CACHED_REQUEST_BOUND_SECONDS
            assert response.status_code == 200, response.text
            assert auth_source(response) == "cache"
        refused = await outage.get("/users", headers=headers)  # admin only: fails after auth
        assert refused.status_code == 403
    return during


async def check_uncached_user_is_told_to_retry(outage: Outage) -> None:
    token = await outage.token(password_form("bob"))
    assert token.status_code == 503, token.text
    assert token.json()["error"] == "temporarily_unavailable"
    assert token.headers["cache-control"] == "no-store"
    basic_response = await outage.get("/users/me", headers=basic("bob", DEFAULT_PASSWORD))
    assert basic_response.status_code == 503


async def check_session_begun_during_the_outage_goes_on(
    client: httpx.AsyncClient, database: asyncpg.Pool, during: Login
) -> None:
    """Once PostgreSQL is back the session reaches it and refreshes, keeping its id."""
    session_id = session_id_of(during.access_token)
    await wait_until_in_postgresql(database, session_id)
    await wait_until_ready(client)
    refreshed = await rotate(client, during)
    assert session_id_of(refreshed.access_token) == session_id


async def test_cached_users_work_and_others_are_told_to_retry_while_postgresql_is_stopped(
    behind_proxy: RunningApp, proxy: TcpProxy, database: asyncpg.Pool
):
    async with behind_proxy.client() as client:
        tokens = await warm_up(client)
        outage = Outage(client)

        await proxy.stop()
        during = await check_cached_user_works(outage, tokens)
        await check_uncached_user_is_told_to_retry(outage)
        ready = await outage.get("/ready", headers={})
        assert ready.status_code == 503
        assert ready.json()["postgres"] != "ok"
        products = await outage.get("/products", headers=tokens.headers)  # needs PostgreSQL
        assert products.status_code == 503
        assert not outage.server_errors()

        await proxy.start()
        await check_session_begun_during_the_outage_goes_on(client, database, during)
        assert (await client.get("/ready")).status_code == 200


async def test_cached_users_work_and_others_are_told_to_retry_while_postgresql_hangs(
    behind_proxy: RunningApp, proxy: TcpProxy, database: asyncpg.Pool
):
    async with behind_proxy.client() as client:
        tokens = await warm_up(client)
        outage = Outage(client)

        proxy.pause()
        # The login's session insert waits for the database layer's deadline (or its breaker)
        # before it is journalled in Redis.
        during = await check_cached_user_works(outage, tokens)
        await check_uncached_user_is_told_to_retry(outage)
        assert (await outage.get("/ready", headers={})).status_code == 503
        assert not outage.server_errors()

        proxy.resume()
        await check_session_begun_during_the_outage_goes_on(client, database, during)


async def test_dropped_postgresql_connections_are_replaced_at_once(
    behind_proxy: RunningApp, proxy: TcpProxy
):
    async with behind_proxy.client() as client:
        await warm_up(client)
        sent_before = proxy.bytes_to_target

        await proxy.close_connections()

        token = await client.post("/token", data=password_form("bob"))  # uncached: needs a query
        assert token.status_code == 200, token.text
        assert auth_source(token) == "db"
        assert proxy.bytes_to_target > sent_before
        assert (await client.get("/ready")).status_code == 200
