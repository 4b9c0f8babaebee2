"""The asyncpg pool, and the one place driver connection errors become DatabaseUnavailable.

A PostgreSQL that hangs costs a request OPERATION_SECONDS at most (docs/contract.md §6): each
operation (acquiring a connection and every statement on it) has that long, then its
connection is cut. After a failure a circuit breaker answers DatabaseUnavailable at once, so
requests that need PostgreSQL do not queue for the pool while it is away; a probe (the
lifespan's, every HEARTBEAT, or one request a BREAKER_OPEN_SECONDS) closes it again."""

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, Final, TypeAlias
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from app.core.errors import DatabaseUnavailable
from app.core.settings import Settings

if TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy

    Connection: TypeAlias = PoolConnectionProxy[asyncpg.Record]

log = logging.getLogger(__name__)

# Per host of a multi-host URL: two hosts, the first hanging, still fit OPERATION_SECONDS.
CONNECT_TIMEOUT_SECONDS: Final = 0.7
# keygate's statements are small: one still running after this means PostgreSQL hangs.
COMMAND_TIMEOUT_SECONDS: Final = 1.5
# One operation, from asking for a connection to giving it back (its connection is cut
# then): the 2 s of the contract, less what the request does around it.
OPERATION_SECONDS: Final = 1.5
ACQUIRE_TIMEOUT_SECONDS: Final = OPERATION_SECONDS
BREAKER_OPEN_SECONDS: Final = 1.0

# Errors that mean "PostgreSQL cannot be reached or the connection broke", not a bad query.
CONNECTION_ERRORS: Final = (
    OSError,
    TimeoutError,
    asyncpg.InterfaceError,
    # Seen when `pg_ctl stop -m fast` cuts a connection in the middle of an operation:
    # "cannot switch to state 15; another operation (2) is in progress".
    asyncpg.InternalClientError,
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

    def __init__(
        self, pool: asyncpg.Pool, url: str = "", clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.pool = pool
        self._url = url
        self._clock = clock
        self._retry_at: float | None = None  # set while the breaker is open

    @property
    def is_known_down(self) -> bool:
        return self._retry_at is not None

    @asynccontextmanager
    async def connection(self) -> AsyncIterator["Connection"]:
        self._pass_breaker()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + OPERATION_SECONDS
        try:
            conn = await self.pool.acquire(timeout=ACQUIRE_TIMEOUT_SECONDS)
        except CONNECTION_ERRORS as exc:
            self._trip(exc)
            raise DatabaseUnavailable from exc
        # Cutting the connection fails whatever waits on it at once (a statement, a
        # rollback, the reset on release), where a cancellation would wait for each in turn.
        cut = loop.call_at(deadline, conn.terminate)
        try:
            yield conn
        except CONNECTION_ERRORS as exc:
            self._trip(exc)
            raise DatabaseUnavailable from exc
        else:
            self._close_breaker()
        finally:
            try:
                await self.pool.release(conn)
            except CONNECTION_ERRORS:
                pass  # cut or broken: the pool connects anew when next asked
            finally:
                cut.cancel()

    def _pass_breaker(self) -> None:
        if self._retry_at is None:
            return
        if self._clock() < self._retry_at:
            raise DatabaseUnavailable
        self._retry_at = self._clock() + BREAKER_OPEN_SECONDS  # this request probes, alone

    def _trip(self, exc: BaseException) -> None:
        if self._retry_at is None:
            log.warning("postgresql unavailable: %s", type(exc).__name__)
        self._retry_at = self._clock() + BREAKER_OPEN_SECONDS

    def _close_breaker(self) -> None:
        if self._retry_at is not None:
            log.info("postgresql is reachable again")
            self._retry_at = None

    async def probe(self) -> bool:
        """For the background: a connection of its own (the pool's may all hang), so a
        request never waits for it. Closes the breaker when PostgreSQL answers."""
        try:
            conn = await connect_each_host(self._url, timeout=CONNECT_TIMEOUT_SECONDS)
            try:
                await conn.fetchval("SELECT 1", timeout=COMMAND_TIMEOUT_SECONDS)
            finally:
                conn.terminate()
        except (*CONNECTION_ERRORS, asyncpg.PostgresError):
            return False
        self._close_breaker()
        return True

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
    temporary table, and LISTEN runs on its own connection (app/core/notifications.py).
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
    return Database(pool, settings.database_url)
