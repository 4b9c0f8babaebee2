"""The throttle's windows in Redis: one sorted set of attempt times per window, one key per
call (so each call stays in one hash slot of a Redis Cluster).

A member is `p:<id>` while its attempt is being checked (a held place) and `f:<id>` once it
failed; a success removes it. A held place older than HELD_PLACE_STALE_SECONDS counts as a
failure: a worker that died mid-check must not leave a place that never settles, and an
unsettled place errs towards throttling."""

from collections.abc import Sequence
from typing import Final

from app.core.redis import RedisGuard
from app.core.redis_connection import RedisClient
from app.login.window import Places, Window

HELD_PLACE_STALE_SECONDS: Final = 60
TAKEN: Final = 0.0
HELD_BY_OTHERS: Final = -1.0

# KEYS[1]: a window; ARGV: now, window seconds, limit, member (with its p: or f: mark), stale
# seconds. Returns "0" when the place is taken; "-1" when the window is full but some of its
# places are held by attempts still being checked; else the seconds until a failure expires.
_TAKE = """
local now, seconds, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - seconds)
if redis.call('ZCARD', KEYS[1]) < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[4])
  redis.call('EXPIRE', KEYS[1], math.ceil(seconds) + 1)
  return '0'
end
-- Read only when full: a window never holds more than its limit then.
local held = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
local failed = {}
for i = 1, #held, 2 do
  local at = tonumber(held[i + 1])
  if string.sub(held[i], 1, 2) ~= 'p:' or at <= now - tonumber(ARGV[5]) then
    failed[#failed + 1] = at
  end
end
if #failed >= limit then
  return tostring(failed[#failed - limit + 1] + seconds - now)
end
return '-1'
"""

# KEYS[1]: a window; ARGV: the attempt's id. Its held place becomes a failure, same time.
_SETTLE = """
local at = redis.call('ZSCORE', KEYS[1], 'p:' .. ARGV[1])
if at then
  redis.call('ZREM', KEYS[1], 'p:' .. ARGV[1])
  redis.call('ZADD', KEYS[1], at, 'f:' .. ARGV[1])
end
return 0
"""


class RedisWindows:
    def __init__(self, guard: RedisGuard) -> None:
        self._guard = guard
        self._take_script = guard.redis.register_script(_TAKE)
        self._settle_script = guard.redis.register_script(_SETTLE)

    async def take(
        self, windows: Sequence[Window], now: float, member: str, *, held: bool
    ) -> float:
        """A place in every window (TAKEN), or none: HELD_BY_OTHERS, or the seconds until a
        failure leaves the fullest window. `held` places wait for their check to settle;
        others count as failures at once. Raises CacheUnavailable."""
        marked = ("p:" if held else "f:") + member

        async def run(redis: RedisClient) -> float:
            taken: list[Window] = []
            for window in windows:
                stale = HELD_PLACE_STALE_SECONDS
                args: list[str | float] = [now, window.seconds, window.limit, marked, stale]
                outcome = float(await self._take_script(keys=[window.key], args=args))
                if outcome != TAKEN:
                    for earlier in taken:
                        await redis.zrem(earlier.key, marked)
                    return outcome
                taken.append(window)
            return TAKEN

        return await self._guard.run(run)

    async def give_back(self, places: Places) -> None:
        async def run(redis: RedisClient) -> None:
            async with redis.pipeline(transaction=False) as pipe:
                for window in places.windows:
                    pipe.zrem(window.key, "p:" + places.member)
                await pipe.execute()

        await self._guard.run(run)

    async def settle_as_failed(self, places: Places) -> None:
        async def run(_: RedisClient) -> None:
            for window in places.windows:
                await self._settle_script(keys=[window.key], args=[places.member])

        await self._guard.run(run)

    async def forget(self, key: str) -> None:
        await self._guard.run(lambda r: r.delete(key))

    async def clear(self, keys: Sequence[str], prefixes: Sequence[str]) -> None:
        async def run(redis: RedisClient) -> None:
            found = [
                key
                for prefix in prefixes
                async for key in redis.scan_iter(match=_glob_escape(prefix) + "*", count=500)
            ]
            if keys or found:
                await redis.delete(*keys, *found)

        await self._guard.run(run)


def _glob_escape(text: str) -> str:
    """SCAN's pattern is a glob: a key part must match itself only."""
    return "".join(f"\\{c}" if c in "*?[]\\" else c for c in text)
