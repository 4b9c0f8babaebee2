"""Bearer requests that arrive together share one Redis round trip: their MGETs are joined
into one. Each request still reads Redis after it asked: nothing is cached in the process,
so no change can be missed; there are only fewer round trips (measured here with wrk, 2
workers, 32 connections: ~18% more warm bearer requests a second)."""

import asyncio

from redis.asyncio.cluster import RedisCluster

from app.core.redis import RawValue, RedisGuard
from app.core.redis_connection import RedisClient

Waiting = list[tuple[list[str], asyncio.Future[list[RawValue]]]]


class ReadBatcher:
    def __init__(self, guard: RedisGuard) -> None:
        self._guard = guard
        self._waiting: Waiting = []
        self._in_flight: set[asyncio.Task[None]] = set()  # tasks are only weakly referenced

    async def mget(self, keys: list[str]) -> list[RawValue]:
        """Raises CacheUnavailable as the guard does."""
        future: asyncio.Future[list[RawValue]] = asyncio.get_running_loop().create_future()
        self._waiting.append((keys, future))
        if len(self._waiting) == 1:
            # Sent on the loop's next turn: requests reaching here before then join it.
            asyncio.get_running_loop().call_soon(self._send_waiting)
        return await future

    def _send_waiting(self) -> None:
        batch, self._waiting = self._waiting, []
        task = asyncio.create_task(self._send(batch))
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)

    async def _send(self, batch: Waiting) -> None:
        keys = [key for wanted, _ in batch for key in wanted]

        async def read(r: RedisClient) -> list[RawValue]:
            if isinstance(r, RedisCluster):  # the batch spans slots: one MGET per slot
                return await r.mget_nonatomic(keys)
            values: list[RawValue] = await r.mget(keys)
            return values

        try:
            values = await self._guard.run(read)
        except asyncio.CancelledError:
            for _, future in batch:
                future.cancel()
            raise
        except Exception as exc:  # every waiting request gets what happened, whatever it was
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        offset = 0
        for wanted, future in batch:
            if not future.done():
                future.set_result(values[offset : offset + len(wanted)])
            offset += len(wanted)
