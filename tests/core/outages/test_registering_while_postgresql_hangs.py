"""A registration answered 503 while PostgreSQL hung is not written when it resumes; and
where a refusal cannot be guaranteed (the commit was already on its way), the client's
retry with the same username and password gets a 409 that says the account exists with that
password (docs/contract.md §6)."""

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.core.outages.conftest import UNAVAILABLE_WITHIN_SECONDS, WORKERS
from tests.core.outages.servers import PrivatePostgres
from tests.factories import DEFAULT_PASSWORD
from tests.faults import TcpProxy
from tests.fixtures.keys_and_servers import ServedKeygate, served_keygate

MARKER_EMAIL = "hang-here@example.com"


async def _ready(client: httpx.AsyncClient) -> None:
    deadline = time.monotonic() + 10
    while (await client.get("/ready")).status_code != 200:
        assert time.monotonic() < deadline, "PostgreSQL not used again within 10 s"
        await asyncio.sleep(0.05)


@pytest.fixture
async def proxy(postgres: PrivatePostgres) -> AsyncIterator[TcpProxy]:
    """Between the server and PostgreSQL, to hang PostgreSQL just as the INSERT reaches it."""
    proxy = TcpProxy("127.0.0.1", postgres.port)
    await proxy.start()
    yield proxy
    await proxy.stop()


@pytest.fixture
async def behind_proxy(
    proxy: TcpProxy, postgres: PrivatePostgres, tmp_path: Path, redis_url: str
) -> AsyncIterator[ServedKeygate]:
    async with served_keygate(
        tmp_path,
        workers=WORKERS,
        DATABASE_URL=postgres.url.replace(f":{postgres.port}/", f":{proxy.port}/"),
        REDIS_URL=redis_url,
    ) as server:
        yield server


async def test_a_registration_refused_while_postgresql_hangs_is_not_written_later(
    postgres: PrivatePostgres, proxy: TcpProxy, behind_proxy: ServedKeygate
) -> None:
    form = {"username": "alice", "password": DEFAULT_PASSWORD}
    async with httpx.AsyncClient(base_url=behind_proxy.url, timeout=30) as client:
        assert (await client.post("/users", json={**form, "username": "warm"})).status_code == 201
        # Only the INSERT carries the email: PostgreSQL hangs with it in its socket.
        proxy.before_forwarding(MARKER_EMAIL.encode(), postgres.pause)
        started = time.monotonic()
        refused = await client.post("/users", json={**form, "email": MARKER_EMAIL})
        took = time.monotonic() - started
        postgres.resume()
        assert refused.status_code == 503, refused.text
        assert took <= UNAVAILABLE_WITHIN_SECONDS
        await _ready(client)

        conn = await asyncpg.connect(postgres.url)
        try:
            written = await conn.fetchval("SELECT count(*) FROM users WHERE username = 'alice'")
        finally:
            await conn.close()
        assert written == 0

        retried = await client.post("/users", json={**form, "email": MARKER_EMAIL})
        assert retried.status_code == 201, retried.text


async def test_a_retried_registration_with_the_same_password_is_told_that_it_went_through(
    postgres: PrivatePostgres, served: ServedKeygate
) -> None:
    form = {"username": "alice", "password": DEFAULT_PASSWORD}
    async with httpx.AsyncClient(base_url=served.url, timeout=30) as client:
        first = await client.post("/users", json=form)
        again = await client.post("/users", json=form)
        other = await client.post("/users", json={**form, "password": DEFAULT_PASSWORD + "!"})
    assert first.status_code == 201, first.text
    assert again.status_code == 409, again.text
    assert "exists already" in again.json()["detail"]
    assert other.status_code == 409, other.text
    assert "exists already" not in other.json()["detail"]
