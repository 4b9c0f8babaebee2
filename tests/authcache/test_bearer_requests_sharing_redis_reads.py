"""Warm bearer and Basic requests read the auth cache through one Redis read a worker at a
time: the requests that ask together share it, and those that ask while it is out go together
in the next one. Each request still reads Redis after it asked, so a change written before a
request asks is what that request reads, even while an older read is out."""

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import pytest
from redis.asyncio import Redis

from app.authcache.read_batcher import ReadBatcher
from app.core.redis import RedisGuard
from tests.conftest import redis_url_through
from tests.faults import TcpProxy

KEY = "kg:test:batched"


@pytest.fixture
async def batcher(redis_proxy: TcpProxy) -> AsyncIterator[ReadBatcher]:
    client = Redis.from_url(redis_url_through(redis_proxy))
    guard = RedisGuard(client)
    batcher = ReadBatcher(guard)
    await batcher.mget([KEY])  # its connection made before the test holds anything
    yield batcher
    await guard.close()
    await client.aclose()


async def until(condition: Callable[[], object], what: str) -> None:
    """Lets the event loop turn until `condition` holds; fails the test after 5 s."""
    deadline = time.monotonic() + 5
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"not within 5 s: {what}")
        await asyncio.sleep(0)


async def test_requests_that_ask_together_share_one_read_and_each_gets_its_keys(
    redis, redis_proxy, batcher
):
    await redis.mset({"kg:test:a": "1", "kg:test:b": "2"})
    mark = redis_proxy.mark()

    asked = [["kg:test:a", "kg:test:b"]] * 10 + [["kg:test:b"], ["kg:test:missing"]]
    values = await asyncio.gather(*(batcher.mget(keys) for keys in asked))

    assert values == [[b"1", b"2"]] * 10 + [[b"2"], [None]]
    sent = redis_proxy.sent_since(mark)
    assert sent.upper().count(b"MGET") == 1
    assert sent.count(b"kg:test:a") == 1  # a key many asked for is read once


async def test_a_change_written_while_a_read_is_out_is_seen_by_the_next_request(
    redis, redis_proxy, batcher
):
    await redis.set(KEY, "old")
    mark, replies_before = redis_proxy.mark(), redis_proxy.bytes_to_client

    first = asyncio.create_task(batcher.mget([KEY]))
    await until(lambda: redis_proxy.sent_since(mark), "the first read reaching Redis")
    redis_proxy.pause()  # its answer is held on the way back
    await until(lambda: redis_proxy.bytes_to_client > replies_before, "Redis answering it")
    await redis.set(KEY, "new")  # acknowledged after Redis answered the first read

    second = asyncio.create_task(batcher.mget([KEY]))
    await asyncio.sleep(0)  # it has asked: the first read is still out
    redis_proxy.resume()

    assert await first == [b"old"]
    assert await second == [b"new"]
    assert redis_proxy.sent_since(mark).upper().count(b"MGET") == 2


async def test_requests_that_ask_while_a_read_is_out_go_together_in_the_next(
    redis, redis_proxy, batcher
):
    await redis.set(KEY, "v")
    mark = redis_proxy.mark()

    first = asyncio.create_task(batcher.mget([KEY]))
    await until(lambda: redis_proxy.sent_since(mark), "the first read reaching Redis")
    redis_proxy.pause()
    waiting = []
    for _ in range(3):  # asking at different turns of the event loop
        waiting += [asyncio.create_task(batcher.mget([KEY])) for _ in range(4)]
        for _ in range(5):
            await asyncio.sleep(0)
    redis_proxy.resume()

    assert await asyncio.gather(first, *waiting) == [[b"v"]] * 13
    assert redis_proxy.sent_since(mark).upper().count(b"MGET") == 2
