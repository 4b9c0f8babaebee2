"""The benchmark's own PostgreSQL database: reset, bulk seeding and the transaction counter."""

import asyncio
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Final
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import bcrypt

# Overridable so that two checkouts on one machine can each run a quick benchmark apart.
DATABASE_URL: Final = os.environ.get(
    "KEYGATE_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/keygate_bench"
)
# A backend that goes idle less than a second after its last report keeps its counts for up to
# 10 s (PostgreSQL's PGSTAT_IDLE_INTERVAL) before pg_stat_database shows them.
STATS_FLUSH_SECONDS: Final = 11

SCALE_ROWS: Final = 100_000
SCALE_USERS_SQL: Final = """
INSERT INTO users (username, password_hash)
SELECT 'scale_' || n, $1 FROM generate_series(1, $2::int) AS n
"""
# One live session for each of those users.
SCALE_SESSIONS_SQL: Final = """
INSERT INTO sessions (user_id, scope, expires_at)
SELECT id, 'me products:read', now() + interval '14 days'
FROM users WHERE username LIKE 'scale\\_%'
"""


def host_and_port(url: str = DATABASE_URL) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 5432


def url_on(port: int, url: str = DATABASE_URL) -> str:
    """The same database, reached on 127.0.0.1:`port` (the outage figure's proxy)."""
    parts = urlsplit(url)
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = f"{userinfo}@127.0.0.1:{port}" if userinfo else f"127.0.0.1:{port}"
    return urlunsplit(parts._replace(netloc=netloc))


def database_name(url: str = DATABASE_URL) -> str:
    return urlsplit(url).path.lstrip("/")


def maintenance_url(url: str = DATABASE_URL) -> str:
    """The same server's `postgres` database: reading statistics from there adds no
    transaction to the benchmark's database."""
    return urlunsplit(urlsplit(url)._replace(path="/postgres"))


@asynccontextmanager
async def connected(url: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(url, timeout=5)
    try:
        yield conn
    finally:
        await conn.close()


def drop_database() -> None:
    """Starts every run from an empty database (`keygate migrate` creates it again)."""

    async def drop() -> None:
        name = database_name().replace('"', '""')
        async with connected(maintenance_url()) as conn:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    asyncio.run(drop())


def seed_scale(rounds: int) -> None:
    """SCALE_ROWS users (all with one precomputed hash) and a live session for each."""
    password_hash = bcrypt.hashpw(b"scale-password", bcrypt.gensalt(rounds, prefix=b"2a"))

    async def seed() -> None:
        async with connected(DATABASE_URL) as conn:
            await conn.execute(SCALE_USERS_SQL, password_hash.decode(), SCALE_ROWS)
            await conn.execute(SCALE_SESSIONS_SQL)
            # Done now rather than by autovacuum in the middle of a figure.
            await conn.execute("VACUUM (ANALYZE) users, sessions")

    asyncio.run(seed())


async def _transactions() -> int:
    async with connected(maintenance_url()) as conn:
        count: int = await conn.fetchval(
            "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = $1",
            database_name(),
        )
    return count


def settled_transactions() -> int:
    """Transactions committed or rolled back in the benchmark's database so far, read once the
    server's backends have reported everything they did. Every statement keygate sends outside
    an explicit transaction is one; so is the reset a pool runs when a connection goes back."""
    time.sleep(STATS_FLUSH_SECONDS)
    return asyncio.run(_transactions())
