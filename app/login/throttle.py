"""Failed-login counting and lockout (docs/contract.md, POST /token, 429).

Three sliding windows of LOGIN_LOCKOUT_SECONDS, each a Redis sorted set of failure times:
- one username from one address: LOGIN_MAX_FAILURES, the lockout users see;
- one username from every address: USERNAME_FACTOR times that, against distributed guessing
  (high enough that an attacker cannot cheaply lock a user out everywhere);
- one address across usernames: ADDRESS_FACTOR times that, against credential stuffing
  (ten failures over different usernames never trip it).
While Redis is unreachable the same windows are kept in PostgreSQL: throttling never fails open.
Times come from the app's clock, so tests move time instead of sleeping.
"""

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from redis.asyncio import Redis

from app.authcache.keys import (
    failures_from_address_key,
    failures_of_name_from_address_key,
    failures_of_name_key,
)
from app.core.clock import Clock
from app.core.db import Database
from app.core.errors import TooManyAttempts
from app.core.redis import CacheUnavailable, RedisGuard

USERNAME_FACTOR: Final = 20
ADDRESS_FACTOR: Final = 10
KEY_USERNAME_CHARS: Final = 64

# KEYS: the windows; ARGV: now, window seconds, then one limit per key.
# Returns the seconds until the latest-ending lockout lifts, or 0 when none holds.
_CHECK = """
local now, window = tonumber(ARGV[1]), tonumber(ARGV[2])
local wait = 0
for i, key in ipairs(KEYS) do
  local limit = tonumber(ARGV[i + 2])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  if redis.call('ZCARD', key) >= limit then
    local oldest = redis.call('ZRANGE', key, -limit, -limit, 'WITHSCORES')
    wait = math.max(wait, tonumber(oldest[2]) + window - now)
  end
end
return tostring(wait)
"""

# KEYS: the windows; ARGV: now, window seconds, a unique member.
_RECORD = """
local now, window = tonumber(ARGV[1]), tonumber(ARGV[2])
for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, ARGV[3])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  redis.call('EXPIRE', key, math.ceil(window) + 1)
end
return 0
"""


@dataclass(frozen=True, slots=True)
class Window:
    key: str
    limit: int


class LoginThrottle:
    def __init__(
        self,
        *,
        guard: RedisGuard,
        db: Database,
        clock: Clock,
        max_failures: int,
        window_seconds: int,
    ) -> None:
        self._guard = guard
        self._db = db
        self._clock = clock
        self._max_failures = max_failures
        self._window_seconds = window_seconds
        self._check_script = guard.redis.register_script(_CHECK)
        self._record_script = guard.redis.register_script(_RECORD)

    def _windows(self, username: str, ip: str | None) -> list[Window]:
        name = username.lower()[:KEY_USERNAME_CHARS]
        address = ip or "unknown"
        return [
            Window(failures_of_name_from_address_key(name, address), self._max_failures),
            Window(failures_of_name_key(name), self._max_failures * USERNAME_FACTOR),
            Window(failures_from_address_key(address), self._max_failures * ADDRESS_FACTOR),
        ]

    async def check(self, username: str, ip: str | None) -> None:
        """Raises TooManyAttempts while any window is full, whatever the next password."""
        windows = self._windows(username, ip)
        now = self._clock()
        try:

            async def run(_: Redis) -> bytes:
                args = [now, self._window_seconds, *(w.limit for w in windows)]
                result: bytes = await self._check_script(keys=[w.key for w in windows], args=args)
                return result

            wait = float(await self._guard.run(run))
        except CacheUnavailable:
            wait = await self._wait_from_database(windows, now)
        if wait > 0:
            raise TooManyAttempts(int(wait) + 1)

    async def record_failure(self, username: str, ip: str | None) -> None:
        windows = self._windows(username, ip)
        now = self._clock()
        try:

            async def run(_: Redis) -> None:
                member = f"{now}:{secrets.token_hex(4)}"
                keys = [w.key for w in windows]
                await self._record_script(keys=keys, args=[now, self._window_seconds, member])

            await self._guard.run(run)
        except CacheUnavailable:
            await self._record_in_database(windows, now)

    async def reset(self, username: str, ip: str | None) -> None:
        """A successful login clears that username's window for that address only."""
        key = self._windows(username, ip)[0].key
        try:
            await self._guard.run(lambda r: r.delete(key))
        except CacheUnavailable:
            async with self._db.connection() as conn:
                await conn.execute("DELETE FROM login_failures WHERE key = $1", key)

    async def unlock(self, username: str) -> None:
        """An operator's unlock: clears that username's windows, from every address, in Redis
        and in PostgreSQL. Raises CacheUnavailable when Redis cannot be reached."""
        name = username.lower()[:KEY_USERNAME_CHARS]
        per_address = f"kg:fail:ua:{name}:"
        everywhere = f"kg:fail:u:{name}"

        async def run(redis: Redis) -> None:
            # SCAN's pattern is a glob: escape the name so that it matches itself only.
            pattern = re.sub(r"([*?\[\]\\])", r"\\\1", per_address) + "*"
            keys = [key async for key in redis.scan_iter(match=pattern, count=500)]
            await redis.delete(everywhere, *keys)

        await self._guard.run(run)
        async with self._db.connection() as conn:
            await conn.execute(
                "DELETE FROM login_failures WHERE key = $1 OR starts_with(key, $2)",
                everywhere,
                per_address,
            )

    async def _wait_from_database(self, windows: list[Window], now: float) -> float:
        since = datetime.fromtimestamp(now - self._window_seconds, UTC)
        wait = 0.0
        async with self._db.connection() as conn:
            for window in windows:
                times = await conn.fetch(
                    "SELECT failed_at FROM login_failures WHERE key = $1 AND failed_at > $2"
                    " ORDER BY failed_at DESC LIMIT $3",
                    window.key,
                    since,
                    window.limit,
                )
                if len(times) >= window.limit:
                    oldest: datetime = times[-1]["failed_at"]
                    wait = max(wait, oldest.timestamp() + self._window_seconds - now)
        return wait

    async def _record_in_database(self, windows: list[Window], now: float) -> None:
        failed_at = datetime.fromtimestamp(now, UTC)
        async with self._db.transaction() as conn:
            await conn.executemany(
                "INSERT INTO login_failures (key, failed_at) VALUES ($1, $2)",
                [(w.key, failed_at) for w in windows],
            )
            await conn.execute(
                "DELETE FROM login_failures WHERE failed_at < $1",
                failed_at - timedelta(seconds=self._window_seconds),
            )
