"""Bearer requests that arrive together share one Redis round trip: their MGETs are joined
into one. Each request still reads Redis after it asked: nothing is cached in the process,
so no change can be missed; there are only fewer round trips.

One batch is in flight at a time: requests that ask while it is out wait for it to come
back and then go together in the next one. Under load the batches grow by themselves and
a worker's Redis traffic stays one round trip at a time; alone, a request goes at once.
(Each round trip costs a worker a send and a receive, the largest single costs of a warm
bearer request in a profile; see README, Performance.)"""

import asyncio

from app.core.redis import RedisGuard
from app.core.redis_reads import RawValue

Waiting = list[tuple[list[str], asyncio.Future[list[RawValue]]]]


class ReadBatcher:
    def __init__(self, guard: RedisGuard) -> None:
        self._guard = guard
        self._waiting: Waiting = []
        self._in_flight: set[asyncio.Task[None]] = set()  # tasks are only weakly referenced
        self._sending = False  # a batch is in flight, or about to be sent
        # The worker's loop, looked up once: on Python 3.11 every asyncio.get_running_loop()
        # is a getpid system call (to notice a fork), and mget runs for every authenticated
        # request.
        self._loop: asyncio.AbstractEventLoop | None = None

    async def mget(self, keys: list[str]) -> list[RawValue]:
        """Raises CacheUnavailable as the guard does."""
        loop = self._loop
        if loop is None or loop.is_closed():  # the first read, or a new loop (tests)
            loop = self._loop = asyncio.get_running_loop()
        future: asyncio.Future[list[RawValue]] = loop.create_future()
        self._waiting.append((keys, future))
        if not self._sending:
            # Sent on the loop's next turn: requests reaching here before then join it.
            self._sending = True
            loop.call_soon(self._send_waiting, loop)
        return await future

    def _send_waiting(self, loop: asyncio.AbstractEventLoop) -> None:
        batch, self._waiting = self._waiting, []
        task = loop.create_task(self._send(batch))
        self._in_flight.add(task)
        task.add_done_callback(self._sent)

    def _sent(self, task: "asyncio.Task[None]") -> None:
        self._in_flight.discard(task)
        if self._waiting:
            # Those that asked while the batch was out, all at once.
            self._send_waiting(task.get_loop())
        else:
            self._sending = False

    async def _send(self, batch: Waiting) -> None:
        # Each key once (requests with one token ask for the same two): a smaller command and
        # reply, and the same value for every request that asked for it.
        keys = list(dict.fromkeys(key for wanted, _ in batch for key in wanted))
        try:
            values = await self._guard.mget(keys)
        except asyncio.CancelledError:
            for _, future in batch:
                future.cancel()
            raise
        except Exception as exc:  # every waiting request gets what happened, whatever it was
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        value_of = dict(zip(keys, values, strict=True))
        for wanted, future in batch:
            if not future.done():
                future.set_result([value_of[key] for key in wanted])
