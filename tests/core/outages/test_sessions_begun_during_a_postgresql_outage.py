"""Sessions begun while PostgreSQL was stopped (journalled in Redis) are sessions like any
other once it is back, on every worker: clients already refreshing as it starts all get
their new tokens, and no session ends (docs/contract.md §6)."""

import asyncio
import time
from typing import Final

import asyncpg
import httpx

from tests.core.outages.conftest import password_login, register
from tests.core.outages.servers import PrivatePostgres
from tests.fixtures.keys_and_servers import ServedKeygate

CLIENTS: Final = 24
REFRESH_DEADLINE_SECONDS: Final = 30.0


async def _refresh_until_answered(client: httpx.AsyncClient, refresh_token: str) -> httpx.Response:
    """What a client does: retries while told to (503), stops at any other answer."""
    deadline = time.monotonic() + REFRESH_DEADLINE_SECONDS
    while True:
        response = await client.post(
            "/token", data={"grant_type": "refresh_token", "refresh_token": refresh_token}
        )
        if response.status_code != 503 or time.monotonic() > deadline:
            return response
        await asyncio.sleep(0.02)  # a client's retry pace, not a synchronisation


async def test_refreshes_racing_postgresqls_return_all_succeed_and_no_session_ends(
    postgres: PrivatePostgres, served: ServedKeygate
) -> None:
    async with httpx.AsyncClient(base_url=served.url, timeout=30) as client:
        names = [f"user{n}" for n in range(CLIENTS)]
        for name in names:
            await register(client, name)
            assert (await password_login(client, name)).status_code == 200  # cached now

        await postgres.stop()
        logins = [await password_login(client, name) for name in names]
        assert [r.status_code for r in logins] == [200] * CLIENTS, [r.text for r in logins]
        tokens = [r.json()["refresh_token"] for r in logins]

        refreshing = [asyncio.create_task(_refresh_until_answered(client, t)) for t in tokens]
        await asyncio.sleep(0.2)  # the clients are retrying before PostgreSQL is back
        await postgres.start()
        refreshed = await asyncio.gather(*refreshing)

        assert [r.status_code for r in refreshed] == [200] * CLIENTS, [
            r.text for r in refreshed if r.status_code != 200
        ]
        again = await asyncio.gather(
            *(_refresh_until_answered(client, r.json()["refresh_token"]) for r in refreshed)
        )
        assert [r.status_code for r in again] == [200] * CLIENTS

    conn = await asyncpg.connect(postgres.url)
    try:
        ended = await conn.fetchval("SELECT count(*) FROM sessions WHERE revoked_at IS NOT NULL")
        live = await conn.fetchval("SELECT count(*) FROM sessions WHERE revoked_at IS NULL")
    finally:
        await conn.close()
    assert ended == 0
    assert live == 2 * CLIENTS
