"""Turns at a fixed number of slots (bcrypt threads), shared fairly between queues (client
addresses): the queues that wait take turns, one call each, so a call that arrives in a queue
of its own waits behind at most one call of every other queue, however many those hold
(docs/contract.md, Hardening: a user cannot be crowded out).

Each queue holds at most `slots + per_queue` calls, running or waiting; past that its next
call is refused at once. The number of queues is not bounded here: each one waiting costs a
connection, and the server bounds those (HTTP_MAX_CONNECTIONS)."""

import asyncio
from collections import OrderedDict, deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class QueueFull(Exception):
    """This queue already holds its share."""


class FairQueue:
    def __init__(self, *, slots: int, per_queue: int) -> None:
        self._free = slots
        self._share = slots + per_queue
        self._held: dict[str, int] = {}
        # The queues that wait, in the order of their next turn; each a line of calls.
        self._waiting: OrderedDict[str, deque[asyncio.Future[None]]] = OrderedDict()

    def is_full(self, queue: str) -> bool:
        """Whether `queue`'s next call would be refused."""
        return self._held.get(queue, 0) >= self._share

    @asynccontextmanager
    async def turn(self, queue: str, *, may_refuse: bool = True) -> AsyncIterator[None]:
        """Holds a slot for the block, once it is `queue`'s turn. Raises QueueFull when the
        queue already holds its share (unless `may_refuse` is false)."""
        if may_refuse and self.is_full(queue):
            raise QueueFull
        self._held[queue] = self._held.get(queue, 0) + 1
        try:
            await self._wait_for_a_slot(queue)
            try:
                yield
            finally:
                self._pass_slot_on()
        finally:
            self._held[queue] -= 1
            if not self._held[queue]:
                del self._held[queue]

    async def _wait_for_a_slot(self, queue: str) -> None:
        if self._free > 0 and not self._waiting:
            self._free -= 1
            return
        handed = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(queue, deque()).append(handed)
        try:
            await handed
        except asyncio.CancelledError:
            if handed.done() and not handed.cancelled():
                self._pass_slot_on()  # the slot came with the cancellation: hand it on
            else:
                self._leave(queue, handed)
            raise

    def _pass_slot_on(self) -> None:
        while self._waiting:
            queue, line = next(iter(self._waiting.items()))
            handed = line.popleft()
            if line:
                self._waiting.move_to_end(queue)  # its next call waits for the next round
            else:
                del self._waiting[queue]
            if not handed.done():
                handed.set_result(None)
                return
        self._free += 1

    def _leave(self, queue: str, handed: asyncio.Future[None]) -> None:
        line = self._waiting.get(queue)
        if line is not None and handed in line:
            line.remove(handed)
            if not line:
                del self._waiting[queue]
