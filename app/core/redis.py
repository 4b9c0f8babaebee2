"""The Redis client, with short timeouts and a circuit breaker: a dead or hanging Redis
costs one short timeout, then nothing, until it answers again."""

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Final, TypeVar

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from app.core.errors import DatabaseUnavailable
from app.core.settings import Settings

T = TypeVar("T")
RawValue = bytes | str | None  # what a Redis read returns for one key
log = logging.getLogger(__name__)

BREAKER_OPEN_SECONDS: Final = 1.0


class CacheUnavailable(Exception):
    """Redis did not answer (or the breaker is open); callers fall back to PostgreSQL."""


def create_redis(settings: Settings) -> "Redis":
    return Redis.from_url(
        settings.redis_url,
        socket_timeout=settings.redis_timeout_seconds,
        socket_connect_timeout=settings.redis_timeout_seconds,
        retry=Retry(NoBackoff(), 0),
        health_check_interval=0,
    )


class RedisGuard:
    """Runs Redis calls through a circuit breaker. While the breaker is open calls fail at
    once; the first call after BREAKER_OPEN_SECONDS probes Redis, and before Redis is trusted
    again `on_recovery` runs (it applies the cache invalidations that could not reach Redis)."""

    def __init__(self, redis: "Redis", clock: Callable[[], float] = time.monotonic) -> None:
        self.redis = redis
        self._clock = clock
        self._retry_at: float | None = None
        self.on_recovery: Callable[[Redis], Awaitable[None]] | None = None
        # Called for every call that could not use Redis (failed, or skipped by the breaker).
        self.on_unavailable: Callable[[], None] | None = None

    async def run(self, operation: Callable[["Redis"], Awaitable[T]]) -> T:
        if self._retry_at is not None:
            if self._clock() < self._retry_at:
                raise self._unavailable()
            self._retry_at = self._clock() + BREAKER_OPEN_SECONDS  # one probe at a time
            try:
                await self.redis.ping()
                if self.on_recovery is not None:
                    await self.on_recovery(self.redis)
            except (RedisError, OSError, TimeoutError, DatabaseUnavailable) as exc:
                self._trip(exc)
                raise self._unavailable() from exc
            log.info("redis is reachable again")
            self._retry_at = None
        try:
            return await operation(self.redis)
        except (RedisError, OSError, TimeoutError) as exc:
            self._trip(exc)
            raise self._unavailable() from exc

    def _trip(self, exc: BaseException) -> None:
        if self._retry_at is None:
            log.warning("redis unavailable, falling back to PostgreSQL: %s", type(exc).__name__)
        self._retry_at = self._clock() + BREAKER_OPEN_SECONDS

    def _unavailable(self) -> CacheUnavailable:
        if self.on_unavailable is not None:
            self.on_unavailable()
        return CacheUnavailable()

    async def ping(self) -> bool:
        try:
            await self.run(lambda r: r.ping())
        except CacheUnavailable:
            return False
        return True
