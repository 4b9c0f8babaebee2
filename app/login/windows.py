"""Sliding windows of attempts, each counted BEFORE it is checked: taking a place in every
window is one atomic step per window, so N concurrent attempts never get more checks than a
window allows; a success gives its place back.

A window is a Redis sorted set of attempt times, one key per call (so each call stays in one
hash slot of a Redis Cluster). While Redis is unreachable the same windows are kept in
PostgreSQL (table login_failures, serialised by advisory locks): limits never fail open.
Times come from the app's clock, so tests move time instead of sleeping."""

import contextlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from app.core.clock import Clock
from app.core.db import Database
from app.core.errors import DatabaseUnavailable, TooManyAttempts
from app.core.redis import CacheUnavailable, RedisGuard
from app.core.redis_connection import RedisClient

if TYPE_CHECKING:
    from app.core.db import Connection

# KEYS[1]: a window; ARGV: now, window seconds, limit, member. Takes a place if the window has
# room and returns "0"; otherwise returns the seconds until a place frees up.
_TAKE = """
local now, seconds, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - seconds)
if redis.call('ZCARD', KEYS[1]) >= limit then
  local oldest = redis.call('ZRANGE', KEYS[1], -limit, -limit, 'WITHSCORES')
  return tostring(tonumber(oldest[2]) + seconds - now)
end
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('EXPIRE', KEYS[1], math.ceil(seconds) + 1)
return '0'
"""


@dataclass(frozen=True, slots=True)
class Window:
    key: str
    limit: int
    seconds: int


@dataclass(frozen=True, slots=True)
class Ticket:
    """One attempt's places in its windows, to give back if the attempt succeeds."""

    windows: tuple[Window, ...]
    at: float
    member: str
    in_database: bool


class SlidingWindows:
    def __init__(self, *, guard: RedisGuard, db: Database, clock: Clock) -> None:
        self._guard = guard
        self._db = db
        self._clock = clock
        self._take_script = guard.redis.register_script(_TAKE)

    async def take(self, windows: Sequence[Window]) -> Ticket:
        """Counts one attempt in every window, or raises TooManyAttempts (counting nothing)
        while any of them is full."""
        now = self._clock()
        member = f"{now}:{secrets.token_hex(6)}"
        try:
            wait = await self._take_in_redis(windows, now, member)
            in_database = False
        except CacheUnavailable:
            wait = await self._take_in_database(windows, now)
            in_database = True
        if wait > 0:
            raise TooManyAttempts(int(wait) + 1)
        return Ticket(tuple(windows), now, member, in_database)

    async def give_back(self, ticket: Ticket) -> None:
        """A success frees its places. Where the store cannot be reached, the place stays
        taken: that errs towards throttling, never away from it."""
        if ticket.in_database:
            with contextlib.suppress(DatabaseUnavailable):
                async with self._db.transaction() as conn:
                    for window in ticket.windows:
                        await _delete_one(conn, window.key, ticket.at)
            return
        with contextlib.suppress(CacheUnavailable):
            await self._guard.run(lambda r: _zrem(r, ticket))

    async def forget(self, key: str) -> None:
        """Empties one window where attempts are being counted now: Redis, or PostgreSQL while
        Redis is unreachable."""
        try:
            await self._guard.run(lambda r: r.delete(key))
        except CacheUnavailable:
            async with self._db.connection() as conn:
                await conn.execute("DELETE FROM login_failures WHERE key = $1", key)

    async def clear(self, keys: Sequence[str], prefixes: Sequence[str] = ()) -> None:
        """Forgets every attempt in these windows (and in every window whose key starts with
        one of `prefixes`), in Redis and in PostgreSQL. Raises CacheUnavailable when Redis
        cannot be reached."""

        async def run(redis: RedisClient) -> None:
            found = [
                key
                for prefix in prefixes
                async for key in redis.scan_iter(match=_glob_escape(prefix) + "*", count=500)
            ]
            if keys or found:
                await redis.delete(*keys, *found)

        await self._guard.run(run)
        async with self._db.connection() as conn:
            await conn.execute(
                "DELETE FROM login_failures WHERE key = ANY($1::text[])"
                " OR EXISTS (SELECT FROM unnest($2::text[]) AS p WHERE starts_with(key, p))",
                list(keys),
                list(prefixes),
            )

    async def delete_expired(self, older_than_seconds: int) -> None:
        """Rows kept while Redis was away outlive their windows; the clean-up drops them."""
        cutoff = datetime.fromtimestamp(self._clock() - older_than_seconds, UTC)
        async with self._db.connection() as conn:
            await conn.execute("DELETE FROM login_failures WHERE failed_at < $1", cutoff)

    async def _take_in_redis(self, windows: Sequence[Window], now: float, member: str) -> float:
        async def run(redis: RedisClient) -> float:
            taken: list[Window] = []
            for window in windows:
                wait = float(
                    await self._take_script(
                        keys=[window.key], args=[now, window.seconds, window.limit, member]
                    )
                )
                if wait > 0:
                    for earlier in taken:
                        await redis.zrem(earlier.key, member)
                    return wait
                taken.append(window)
            return 0.0

        return await self._guard.run(run)

    async def _take_in_database(self, windows: Sequence[Window], now: float) -> float:
        at = datetime.fromtimestamp(now, UTC)
        async with self._db.transaction() as conn:
            # One attempt at a time per window, across every worker; locks in key order.
            for key in sorted({w.key for w in windows}):
                await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", key)
            wait = 0.0
            for window in windows:
                since = at - timedelta(seconds=window.seconds)
                times = await conn.fetch(
                    "SELECT failed_at FROM login_failures WHERE key = $1 AND failed_at > $2"
                    " ORDER BY failed_at DESC LIMIT $3",
                    window.key,
                    since,
                    window.limit,
                )
                if len(times) >= window.limit:
                    oldest: datetime = times[-1]["failed_at"]
                    wait = max(wait, oldest.timestamp() + window.seconds - now)
            if wait > 0:
                return wait
            await conn.executemany(
                "INSERT INTO login_failures (key, failed_at) VALUES ($1, $2)",
                [(w.key, at) for w in windows],
            )
        return 0.0


async def _zrem(redis: RedisClient, ticket: Ticket) -> None:
    async with redis.pipeline(transaction=False) as pipe:
        for window in ticket.windows:
            pipe.zrem(window.key, ticket.member)
        await pipe.execute()


async def _delete_one(conn: "Connection", key: str, at: float) -> None:
    await conn.execute(
        "DELETE FROM login_failures WHERE ctid = (SELECT ctid FROM login_failures"
        " WHERE key = $1 AND failed_at = $2 LIMIT 1)",
        key,
        datetime.fromtimestamp(at, UTC),
    )


def _glob_escape(text: str) -> str:
    """SCAN's pattern is a glob: a key part must match itself only."""
    return "".join(f"\\{c}" if c in "*?[]\\" else c for c in text)
