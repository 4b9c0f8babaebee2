"""The asyncpg pool, and the one place driver connection errors become DatabaseUnavailable."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Final, TypeAlias

import asyncpg

from app.core.errors import DatabaseUnavailable
from app.core.settings import Settings

if TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy

    Connection: TypeAlias = PoolConnectionProxy[asyncpg.Record]

CONNECT_TIMEOUT_SECONDS: Final = 2.0
# keygate's statements are small: one still running after this means PostgreSQL hangs.
COMMAND_TIMEOUT_SECONDS: Final = 3.0
# Waiting for a free pooled connection is normal under load; only a long wait is a fault.
ACQUIRE_TIMEOUT_SECONDS: Final = 10.0

# Errors that mean "PostgreSQL cannot be reached or the connection broke", not a bad query.
CONNECTION_ERRORS: Final = (
    OSError,
    TimeoutError,
    asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    # A multi-host DATABASE_URL where every host answered and none is writable (a failover
    # between the primary's end and a standby's promotion). Not a PostgresConnectionError.
    asyncpg.TargetServerAttributeNotMatched,
)


class Database:
    """Holds the pool; repositories borrow a connection for one operation at a time."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    @asynccontextmanager
    async def connection(self) -> AsyncIterator["Connection"]:
        try:
            async with self.pool.acquire(timeout=ACQUIRE_TIMEOUT_SECONDS) as conn:
                yield conn
        except CONNECTION_ERRORS as exc:
            raise DatabaseUnavailable from exc

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator["Connection"]:
        async with self.connection() as conn, conn.transaction():
            yield conn

    async def ping(self) -> bool:
        try:
            async with self.connection() as conn:
                await conn.fetchval("SELECT 1")
        except DatabaseUnavailable:
            return False
        return True


async def create_database(settings: Settings) -> Database:
    # min_size=0: the app starts, and serves cached users, while PostgreSQL is down.
    pool = await asyncpg.create_pool(
        settings.database_url,
        min_size=0,
        max_size=settings.database_pool_size,
        timeout=CONNECT_TIMEOUT_SECONDS,
        command_timeout=COMMAND_TIMEOUT_SECONDS,
        statement_cache_size=settings.database_statement_cache_size,
    )
    return Database(pool)
