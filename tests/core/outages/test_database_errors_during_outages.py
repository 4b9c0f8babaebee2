"""Whatever asyncpg raises while PostgreSQL stops, restarts or hangs, the database layer turns
into DatabaseUnavailable (which answers 503): no driver error escapes it (docs/contract.md §6).
Many concurrent operations, so the faults land in every state a connection can be in."""

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator
from typing import Final

import pytest

from app.core.db import Database, create_database
from app.core.errors import DatabaseUnavailable
from tests.conftest import make_settings
from tests.core.outages.conftest import UNAVAILABLE_WITHIN_SECONDS
from tests.core.outages.servers import PrivatePostgres

TASKS: Final = 24


@pytest.fixture
async def db(postgres: PrivatePostgres) -> AsyncIterator[Database]:
    database = await create_database(make_settings(database_url=postgres.url))
    yield database
    postgres.resume()
    await database.pool.close()


async def _work(
    db: Database, stop: asyncio.Event, escaped: Counter[str], slowest: list[float]
) -> None:
    while not stop.is_set():
        started = time.monotonic()
        try:
            async with db.transaction() as conn:
                await conn.fetchval("SELECT count(*) FROM users")
                await conn.execute("SELECT pg_sleep(0.005)")
        except DatabaseUnavailable:
            slowest[0] = max(slowest[0], time.monotonic() - started)
            await asyncio.sleep(0.01)
        except Exception as exc:  # what the test looks for: any other class
            escaped[f"{type(exc).__module__}.{type(exc).__qualname__}: {exc}"[:160]] += 1


async def test_stopping_and_starting_postgresql_raises_only_database_unavailable(
    postgres: PrivatePostgres, db: Database
) -> None:
    stop, escaped, slowest = asyncio.Event(), Counter[str](), [0.0]
    tasks = [asyncio.create_task(_work(db, stop, escaped, slowest)) for _ in range(TASKS)]
    try:
        for _ in range(3):
            await asyncio.sleep(0.3)
            await postgres.stop()
            await asyncio.sleep(0.3)
            await postgres.start()
    finally:
        stop.set()
        await asyncio.gather(*tasks)
    assert not escaped, escaped


async def test_a_hung_postgresql_raises_database_unavailable_within_two_seconds(
    postgres: PrivatePostgres, db: Database
) -> None:
    stop, escaped, slowest = asyncio.Event(), Counter[str](), [0.0]
    tasks = [asyncio.create_task(_work(db, stop, escaped, slowest)) for _ in range(TASKS)]
    try:
        await asyncio.sleep(0.3)
        postgres.pause()
        await asyncio.sleep(4.0)
        postgres.resume()
        await asyncio.sleep(0.5)
    finally:
        stop.set()
        await asyncio.gather(*tasks)
    assert not escaped, escaped
    assert slowest[0] <= UNAVAILABLE_WITHIN_SECONDS
