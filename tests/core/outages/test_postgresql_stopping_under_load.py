"""PostgreSQL stopped (`pg_ctl stop -m fast`) and started again, or hung (SIGSTOP), while
clients read, refresh and register on `keygate serve --workers 2`: every answer is 2xx, 4xx
or a 503 with the contract's body, never another 5xx; a 503 comes within 2 s; and cached
requests keep their pace (docs/contract.md §6)."""

import asyncio
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Final

import httpx

from tests.core.outages.conftest import (
    UNAVAILABLE_WITHIN_SECONDS,
    Traffic,
    keep_calling,
    logged_in_clients,
)
from tests.core.outages.servers import PrivatePostgres
from tests.factories import DEFAULT_PASSWORD
from tests.fixtures.keys_and_servers import ServedKeygate

CLIENTS: Final = 16
OUTAGE_SECONDS: Final = 1.0
Call = Callable[[], Awaitable[httpx.Response]]


def _calls(client: httpx.AsyncClient, n: int, body: dict[str, str]) -> Call:
    """Client n reads products (PostgreSQL), rotates its refresh token, registers, or reads
    itself (cached: no PostgreSQL)."""
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    refresh = {"token": body["refresh_token"]}
    names = (f"new{n}x{i}" for i in itertools.count())

    async def read() -> httpx.Response:
        return await client.get("/products", headers=headers)

    async def cached() -> httpx.Response:
        return await client.get("/users/me", headers=headers)

    async def rotate() -> httpx.Response:
        response = await client.post(
            "/token", data={"grant_type": "refresh_token", "refresh_token": refresh["token"]}
        )
        if response.status_code == 200:
            refresh["token"] = response.json()["refresh_token"]
        return response

    async def sign_up() -> httpx.Response:
        return await client.post(
            "/users", json={"username": next(names), "password": DEFAULT_PASSWORD}
        )

    return (read, rotate, sign_up, cached)[n % 4]


@asynccontextmanager
async def _load(served: ServedKeygate) -> AsyncIterator[Traffic]:
    traffic, stop = Traffic(), asyncio.Event()
    async with AsyncExitStack() as stack:
        tasks = []
        for n, (client, body) in enumerate(await logged_in_clients(stack, served, CLIENTS)):
            call = _calls(client, n, body)
            tasks.append(asyncio.create_task(keep_calling(traffic, stop, call, call.__name__)))
        try:
            await asyncio.sleep(0.5)  # load first: the fault must land on connections in use
            yield traffic
        finally:
            stop.set()
            await asyncio.gather(*tasks)


async def test_a_fast_shutdown_and_restart_under_load_gives_no_500(
    postgres: PrivatePostgres, served: ServedKeygate
) -> None:
    async with _load(served) as traffic:
        for _ in range(2):
            await postgres.stop()
            await asyncio.sleep(OUTAGE_SECONDS)
            await postgres.start()
            await asyncio.sleep(OUTAGE_SECONDS)
    assert traffic.wrong == [], traffic.statuses
    assert traffic.statuses[503] > 0, traffic.statuses


async def test_a_hung_postgresql_under_load_gives_no_500_and_its_503s_come_within_2_s(
    postgres: PrivatePostgres, served: ServedKeygate
) -> None:
    async with _load(served) as traffic:
        postgres.pause()
        await asyncio.sleep(OUTAGE_SECONDS * 3)
        postgres.resume()
        await asyncio.sleep(OUTAGE_SECONDS)
    assert traffic.wrong == [], traffic.statuses
    assert traffic.statuses[503] > 0, traffic.statuses
    assert traffic.slowest_503_seconds <= UNAVAILABLE_WITHIN_SECONDS
    # Cached requests never queue behind the ones that wait for PostgreSQL.
    assert traffic.by_call["cached", 503] == 0
    assert traffic.slowest_seconds["cached"] <= UNAVAILABLE_WITHIN_SECONDS
