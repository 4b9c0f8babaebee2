"""Fixtures of the outage tests: a private PostgreSQL (per module) that tests stop, start and
hang, and `keygate serve --workers 2` on it, with clients that keep calling while it fails."""

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import asyncpg
import httpx
import pytest

from tests.conftest import TABLES
from tests.core.outages.servers import PrivatePostgres
from tests.factories import DEFAULT_PASSWORD
from tests.faults import RedisServer
from tests.fixtures.keys_and_servers import ServedKeygate, served_keygate

WORKERS: Final = 2
# §6 of docs/contract.md: a request that needs PostgreSQL has its 503 within 2 s.
UNAVAILABLE_WITHIN_SECONDS: Final = 2.0


@pytest.fixture(scope="module")
def private_postgres() -> Iterator[PrivatePostgres]:
    server = PrivatePostgres().create()
    try:
        yield server
    finally:
        server.destroy()


@pytest.fixture
async def postgres(private_postgres: PrivatePostgres) -> AsyncIterator[PrivatePostgres]:
    """The private PostgreSQL running and empty, and running again after the test."""
    private_postgres.resume()
    if not (private_postgres.data_dir / "postmaster.pid").exists():
        await private_postgres.start()
    conn = await asyncpg.connect(private_postgres.url)
    try:
        for table in TABLES:
            await conn.execute(f"DELETE FROM {table}")  # noqa: S608 (constant names)
    finally:
        await conn.close()
    yield private_postgres
    private_postgres.resume()
    if not (private_postgres.data_dir / "postmaster.pid").exists():
        await private_postgres.start()


@pytest.fixture
async def served(
    postgres: PrivatePostgres, tmp_path: Path, redis_url: str
) -> AsyncIterator[ServedKeygate]:
    async with served_keygate(
        tmp_path,
        workers=WORKERS,
        DATABASE_URL=postgres.url,
        REDIS_URL=redis_url,
        REGISTRATION_MAX_PER_ADDRESS="1000000",
    ) as server:
        yield server


@pytest.fixture
async def redis_server() -> AsyncIterator[RedisServer]:
    server = RedisServer()
    await server.start()
    yield server
    await server.kill()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """A Redis of the served keygate's own, as every deployment needs one per database
    (README, Deployment): on the shared test Redis, the test session's own app would move this
    keygate's journalled sessions into the session's database."""
    return redis_server.url


async def register(client: httpx.AsyncClient, username: str) -> None:
    response = await client.post(
        "/users", json={"username": username, "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 201, response.text


async def password_login(client: httpx.AsyncClient, username: str) -> httpx.Response:
    return await client.post(
        "/token",
        data={"grant_type": "password", "username": username, "password": DEFAULT_PASSWORD},
    )


async def logged_in_clients(
    stack: AsyncExitStack, served: ServedKeygate, count: int
) -> list[tuple[httpx.AsyncClient, dict[str, str]]]:
    """`count` clients of `served` (closed with `stack`), client n registered as user{n} and
    logged in: each with the body of its token response."""
    clients = []
    for n in range(count):
        client = await stack.enter_async_context(httpx.AsyncClient(base_url=served.url, timeout=30))
        await register(client, f"user{n}")
        clients.append((client, (await password_login(client, f"user{n}")).json()))
    return clients


def is_answer_of_the_contract(response: httpx.Response) -> bool:
    """2xx, 4xx, or a 503 with the contract's body: never another 5xx (docs/contract.md §6)."""
    if response.status_code < 500:
        return True
    if response.status_code != 503:
        return False
    body = response.json()
    return body.get("error") == "temporarily_unavailable" or isinstance(body.get("detail"), str)


@dataclass
class Traffic:
    """What clients calling in a loop got: status counts, and the answers outside the
    contract (status and body)."""

    statuses: Counter[int] = field(default_factory=Counter)
    by_call: Counter[tuple[str, int]] = field(default_factory=Counter)
    slowest_seconds: dict[str, float] = field(default_factory=dict)
    wrong: list[tuple[str, int, str]] = field(default_factory=list)
    slowest_503_seconds: float = 0.0

    def record(self, what: str, response: httpx.Response, seconds: float) -> None:
        self.statuses[response.status_code] += 1
        self.by_call[what, response.status_code] += 1
        self.slowest_seconds[what] = max(self.slowest_seconds.get(what, 0.0), seconds)
        if not is_answer_of_the_contract(response):
            self.wrong.append((what, response.status_code, response.text[:200]))
        if response.status_code == 503:
            self.slowest_503_seconds = max(self.slowest_503_seconds, seconds)


async def keep_calling(
    traffic: Traffic,
    stop: asyncio.Event,
    call: Callable[[], Awaitable[httpx.Response]],
    what: str,
) -> None:
    while not stop.is_set():
        started = time.monotonic()
        try:
            response = await call()
        except httpx.TransportError as exc:
            traffic.wrong.append((what, 0, repr(exc)))
            continue
        traffic.record(what, response, time.monotonic() - started)
