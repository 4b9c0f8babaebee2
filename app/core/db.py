"""The asyncpg pool, and the one place driver connection errors become DatabaseUnavailable."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, Final, TypeAlias
from urllib.parse import urlsplit, urlunsplit

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
    # A server shutting down or starting up (57P01-57P03), and a write that reached a server
    # no longer (or not yet) the primary (25006): the database is unavailable for this call.
    asyncpg.OperatorInterventionError,
    asyncpg.ReadOnlySQLTransactionError,
)


# A host of a multi-host URL that fails this way is skipped for the next one, as libpq does.
NEXT_HOST_ERRORS: Final = (
    OSError,
    TimeoutError,
    asyncpg.CannotConnectNowError,
    asyncpg.TargetServerAttributeNotMatched,
    # A server shutting down or starting up (57P01-57P03), and a write that reached a server
    # no longer (or not yet) the primary (25006): the database is unavailable for this call.
    asyncpg.OperatorInterventionError,
    asyncpg.ReadOnlySQLTransactionError,
)


def single_host_urls(url: str) -> list[str]:
    """The libpq multi-host URL `postgresql://user@h1:5432,h2:5433/db?...` as one URL a host,
    each with the same credentials, database and query (target_session_attrs included)."""
    parts = urlsplit(url)
    userinfo, at, hosts = parts.netloc.rpartition("@")
    return [urlunsplit(parts._replace(netloc=f"{userinfo}{at}{host}")) for host in hosts.split(",")]


async def connect_each_host(
    dsn: str | None = None,
    *,
    timeout: float = CONNECT_TIMEOUT_SECONDS,  # noqa: ASYNC109 (the name asyncpg's pool passes)
    **options: Any,
) -> "asyncpg.Connection[asyncpg.Record]":
    """asyncpg.connect, but each host of a multi-host URL gets the whole `timeout` (libpq's
    connect_timeout is per host too): asyncpg's one timeout for all hosts lets a host that
    hangs (a primary gone silent) use it up, and the promoted standby is never tried."""
    hosts = single_host_urls(dsn) if dsn else []
    if len(hosts) <= 1:
        connection: asyncpg.Connection[asyncpg.Record] = await asyncpg.connect(
            dsn, timeout=timeout, **options
        )
        return connection
    failures: list[Exception] = []
    for host in hosts:
        try:
            connection = await asyncpg.connect(host, timeout=timeout, **options)
        except NEXT_HOST_ERRORS as exc:
            failures.append(exc)
        else:
            return connection
    # As asyncpg does: a host that could not be reached says more than a read-only one.
    unreachable = [
        f for f in failures if not isinstance(f, asyncpg.TargetServerAttributeNotMatched)
    ]
    raise (unreachable or failures)[-1]


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


async def _no_session_state_to_reset(_: "asyncpg.Connection[asyncpg.Record]") -> None:
    """The pool's reset when it takes a connection back: none. asyncpg's default sends
    `SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL;`, a round trip after
    every borrowing. keygate never leaves session state on a pooled connection to undo: no
    SET, no session-level advisory lock (the throttle's are transaction-scoped), no cursor or
    temporary table, and LISTEN runs on its own connection (app/authcache/listener.py).
    asyncpg still rolls back a transaction left open before calling this, so a failed
    operation's transaction cannot leak into the next borrower's."""


async def create_database(settings: Settings) -> Database:
    # min_size=0: the app starts, and serves cached users, while PostgreSQL is down.
    pool = await asyncpg.create_pool(
        settings.database_url,
        connect=connect_each_host,
        min_size=0,
        max_size=settings.database_pool_size,
        timeout=CONNECT_TIMEOUT_SECONDS,
        command_timeout=COMMAND_TIMEOUT_SECONDS,
        statement_cache_size=settings.database_statement_cache_size,
        reset=_no_session_state_to_reset,
    )
    return Database(pool)
