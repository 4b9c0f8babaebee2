"""The login queue's turns (app/users/fair_queue.py): a call from a queue of its own waits
behind at most one call of each other queue. Each call here holds its slot until the test lets
it go, so the order in which calls get their slots is seen exactly."""

import asyncio

import pytest

from app.users.fair_queue import FairQueue, QueueFull


class Calls:
    def __init__(self, queue: FairQueue) -> None:
        self.queue = queue
        self.started: list[str] = []
        self.release: dict[str, asyncio.Event] = {}
        self.tasks: list[asyncio.Task[None]] = []

    def submit(self, queue_name: str, call: str) -> None:
        self.release[call] = asyncio.Event()

        async def run() -> None:
            async with self.queue.turn(queue_name):
                self.started.append(call)
                await self.release[call].wait()

        self.tasks.append(asyncio.create_task(run()))

    async def settle(self) -> None:
        for _ in range(5):  # let every task reach its wait
            await asyncio.sleep(0)

    async def finish(self, call: str) -> None:
        self.release[call].set()
        await self.settle()


async def test_a_new_queue_waits_behind_one_call_of_each_other_queue():
    calls = Calls(FairQueue(slots=1, per_queue=10))
    for n in range(4):
        calls.submit("crowd-a", f"a{n}")
        calls.submit("crowd-b", f"b{n}")
    await calls.settle()
    calls.submit("user", "user")
    await calls.settle()
    for call in ("a0", "b0", "a1"):
        await calls.finish(call)
    # a0 was running when the user came; then one turn of each queue that waited before it
    assert calls.started == ["a0", "b0", "a1", "user"]
    for call in calls.release:
        calls.release[call].set()
    await asyncio.gather(*calls.tasks)


async def test_a_queue_past_its_share_is_refused_while_others_are_not():
    queue = FairQueue(slots=1, per_queue=1)
    calls = Calls(queue)
    calls.submit("crowd", "c0")
    calls.submit("crowd", "c1")
    await calls.settle()
    with pytest.raises(QueueFull):
        async with queue.turn("crowd"):
            pass
    calls.submit("user", "user")
    await calls.settle()
    for call in ("c0", "c1", "user"):
        calls.release[call].set()
    await asyncio.gather(*calls.tasks)
    assert sorted(calls.started) == ["c0", "c1", "user"]
