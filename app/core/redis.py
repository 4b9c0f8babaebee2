"""The Redis client, with short timeouts and a circuit breaker: a dead or hanging Redis
costs one short timeout, then nothing, until it answers again. Redis is one server, a master
found through Sentinels, or a Redis Cluster (app/core/redis_connection.py); a failover is
treated as an outage: Redis is distrusted until the changes it may have missed are applied."""

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Final, TypeVar

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.asyncio.cluster import ClusterPipeline, RedisCluster
from redis.asyncio.sentinel import SentinelConnectionPool
from redis.exceptions import RedisClusterException, RedisError, ResponseError

from app.core.errors import DatabaseUnavailable
from app.core.redis_connection import (
    RedisClient,
    connect_redis,
    drop_idle_connections,
    master_identity,
)
from app.core.redis_reads import RawValue, ReadConnection
from app.core.settings import Settings

T = TypeVar("T")
AnyPipeline = Pipeline | ClusterPipeline
log = logging.getLogger(__name__)

# Redis is probed again this long after a failure: with the heartbeat's 0.5 s, a Redis back
# on its address is used again within 1 s (docs/contract.md §6).
BREAKER_OPEN_SECONDS: Final = 0.5
# Every error that means "Redis cannot be used now". RedisClusterException (a cluster with
# no reachable node, a slot nobody serves) is not a RedisError.
REDIS_ERRORS: Final = (RedisError, RedisClusterException, OSError, TimeoutError)


class CacheUnavailable(Exception):
    """Redis did not answer (or the breaker is open); callers fall back to PostgreSQL."""


class UnreplicatedChange(CacheUnavailable):
    """Redis took a change but no replica confirmed it in time: a failover now could bring the
    old value back, so the caller records the change as if Redis had been unreachable. Redis
    answered, so the breaker stays closed."""


def create_redis(settings: Settings) -> RedisClient:
    return connect_redis(settings.redis_url, settings.redis_timeout_seconds)


class RedisGuard:
    """Runs Redis calls through a circuit breaker. While the breaker is open calls fail at
    once; the first call after BREAKER_OPEN_SECONDS probes Redis on new connections, and before
    Redis is trusted again the listeners given to `before_trusting_again` run (the auth cache
    applies the invalidations that could not reach Redis); if one fails, Redis stays
    distrusted.
    A new master (a failover, a restart) is distrusted the same way: it may lack the newest
    writes, and it may hold entries that invalidations applied to the old master deleted."""

    def __init__(
        self,
        redis: RedisClient,
        clock: Callable[[], float] = time.monotonic,
        replica_wait_ms: int = 100,
    ) -> None:
        """`replica_wait_ms`: how long a change waits for a replica to confirm it (WAIT);
        it must stay below the socket timeout, or the client gives up first."""
        self.redis = redis
        self._clock = clock
        self._replica_wait_ms = max(1, replica_wait_ms)
        self._retry_at: float | None = None
        self._master: str | None = None  # master_identity when Redis was last trusted
        self._recovery_listeners: list[Callable[[RedisClient], Awaitable[None]]] = []
        self._reads = ReadConnection()
        # Called for every call that could not use Redis (failed, or skipped by the breaker).
        self.on_unavailable: Callable[[], None] | None = None

    def before_trusting_again(self, listener: Callable[[RedisClient], Awaitable[None]]) -> None:
        """`listener` runs (with the client) before a recovered or new master is used."""
        self._recovery_listeners.append(listener)

    async def run(self, operation: Callable[[RedisClient], Awaitable[T]]) -> T:
        if self._retry_at is not None:
            if self._clock() < self._retry_at:
                raise self._unavailable()
            self._retry_at = self._clock() + BREAKER_OPEN_SECONDS  # one probe at a time
            try:
                await drop_idle_connections(self.redis)
                await self._reads.close()
                master = await self._master_identity(self.redis)
                for listener in self._recovery_listeners:
                    await listener(self.redis)
            except (*REDIS_ERRORS, DatabaseUnavailable) as exc:
                self._trip(exc)
                raise self._unavailable() from exc
            log.info("redis is reachable again")
            self._master = master
            self._retry_at = None
        try:
            return await operation(self.redis)
        except REDIS_ERRORS as exc:
            self._trip(exc)
            raise self._unavailable() from exc

    async def mget(self, keys: Sequence[str]) -> list[RawValue]:
        """The values of `keys`, as `run` reads them: on the worker's read connection
        (app/core/redis_reads.py), or, from a cluster, one MGET per slot."""

        async def read(r: RedisClient) -> list[RawValue]:
            if isinstance(r, RedisCluster):
                values: list[RawValue] = await r.mget_nonatomic(keys)
                return values
            return await self._reads.mget(r, keys)

        return await self.run(read)

    async def close(self) -> None:
        """Closes the read connection (the client's pool is closed with the client)."""
        await self._reads.close()

    async def change(self, keys: Sequence[str], queue: Callable[[AnyPipeline], object]) -> None:
        """Writes a change to the cache (the commands `queue` adds, touching `keys`) that a
        failover must not undo. Where a replica could be promoted (Sentinel; a Cluster slot
        with replicas), the same connection then WAITs for one replica to confirm, and a
        change no replica confirmed in time raises UnreplicatedChange (outside the breaker).
        WAIT counts only what the connection that sends it wrote, so both go in one
        non-transactional pipeline."""

        async def write(r: RedisClient) -> list[Any]:
            async with r.pipeline(transaction=False) as pipe:
                queue(pipe)
                waits = await self._queue_replica_waits(r, pipe, keys)
                results: list[Any] = await pipe.execute()
            return results[len(results) - waits :] if waits else []

        confirmations = await self.run(write)
        if any(int(replicas) < 1 for replicas in confirmations):
            log.warning("a cache change was not confirmed by a replica; recorded instead")
            raise UnreplicatedChange()

    async def _queue_replica_waits(
        self, r: RedisClient, pipe: AnyPipeline, keys: Sequence[str]
    ) -> int:
        if isinstance(r, RedisCluster) and isinstance(pipe, ClusterPipeline):
            await r.initialize()  # the slot map; a no-op once known
            nodes = {}
            for key in keys:
                # The slot's master first, then its replicas: WAIT only where one could be
                # promoted.
                master, *replicas = r.nodes_manager.slots_cache.get(r.keyslot(key), [None])
                if master is not None and replicas:
                    nodes[master.name] = master
            for node in nodes.values():
                pipe.execute_command("WAIT", 1, self._replica_wait_ms, target_nodes=node)
            return len(nodes)
        if (
            isinstance(r, Redis)
            and isinstance(pipe, Pipeline)
            and isinstance(r.connection_pool, SentinelConnectionPool)
        ):
            pipe.execute_command("WAIT", 1, self._replica_wait_ms)
            return 1
        return 0

    async def heartbeat(self) -> bool:
        """Whether Redis can be used now. Also notices a new master (a failover, or a restart
        that no request saw): Redis is then distrusted, and probed (its listeners first) at
        once."""
        try:
            master = await self.run(self._master_identity)
        except CacheUnavailable:
            return False
        if self._master is None:
            self._master = master
        elif master != self._master:
            log.warning("redis master changed; distrusted until recorded changes are applied")
            self._retry_at = self._clock()
            try:
                await self.run(self._master_identity)
            except CacheUnavailable:
                return False
        return True

    @staticmethod
    async def _master_identity(redis: RedisClient) -> str:
        """master_identity, or "" (unknown, never a change) where keygate's Redis user may
        not run INFO: Redis answered, so it is reachable."""
        try:
            return await master_identity(redis)
        except ResponseError:
            await redis.ping()
            return ""

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
