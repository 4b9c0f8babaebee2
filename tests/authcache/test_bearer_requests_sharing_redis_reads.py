"""Warm bearer and Basic requests read the auth cache through one Redis read a worker at a
time: the requests that ask together share it, and those that ask while it is out go together
in the next one. Each request still reads Redis after it asked, so a change written before a
request asks is what that request reads, even while an older read is out."""

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from urllib.parse import urlsplit, urlunsplit

import pytest
from redis.asyncio import Redis

from app.authcache.read_batcher import ReadBatcher
from app.core.redis import RedisGuard
from tests.conftest import TEST_REDIS_URL
from tests.faults import TcpProxy

KEY = "kg:test:batched"


@pytest.fixture
async def proxy() -> AsyncIterator[TcpProxy]:
    """A TCP proxy in front of the test Redis: it counts what is sent, and can hold it."""
    parts = urlsplit(TEST_REDIS_URL)
    started = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 6379)
    await started.start()
    yield started
    await started.stop()


@pytest.fixture
async def batcher(proxy: TcpProxy) -> AsyncIterator[ReadBatcher]:
    netloc = f"127.0.0.1:{proxy.port}"
    client = Redis.from_url(urlunsplit(urlsplit(TEST_REDIS_URL)._replace(netloc=netloc)))
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
    redis, proxy, batcher
):
    await redis.mset({"kg:test:a": "1", "kg:test:b": "2"})
    mark = proxy.mark()

    asked = [["kg:test:a", "kg:test:b"]] * 10 + [["kg:test:b"], ["kg:test:missing"]]
    values = await asyncio.gather(*(batcher.mget(keys) for keys in asked))

    assert values == [[b"1", b"2"]] * 10 + [[b"2"], [None]]
    sent = proxy.sent_since(mark)
    assert sent.upper().count(b"MGET") == 1
    assert sent.count(b"kg:test:a") == 1  # a key many asked for is read once


async def test_a_change_written_while_a_read_is_out_is_seen_by_the_next_request(
    redis, proxy, batcher
):
    await redis.set(KEY, "old")
    mark, replies_before = proxy.mark(), proxy.bytes_to_client

    first = asyncio.create_task(batcher.mget([KEY]))
    await until(lambda: proxy.sent_since(mark), "the first read reaching Redis")
    proxy.pause()  # its answer is held on the way back
    await until(lambda: proxy.bytes_to_client > replies_before, "Redis answering it")
    await redis.set(KEY, "new")  # acknowledged after Redis answered the first read

    second = asyncio.create_task(batcher.mget([KEY]))
    await asyncio.sleep(0)  # it has asked: the first read is still out
    proxy.resume()

    assert await first == [b"old"]
    assert await second == [b"new"]
    assert proxy.sent_since(mark).upper().count(b"MGET") == 2


async def test_requests_that_ask_while_a_read_is_out_go_together_in_the_next(redis, proxy, batcher):
    await redis.set(KEY, "v")
    mark = proxy.mark()

    first = asyncio.create_task(batcher.mget([KEY]))
    await until(lambda: proxy.sent_since(mark), "the first read reaching Redis")
    proxy.pause()
    waiting = []
    for _ in range(3):  # asking at different turns of the event loop
        waiting += [asyncio.create_task(batcher.mget([KEY])) for _ in range(4)]
        for _ in range(5):
            await asyncio.sleep(0)
    proxy.resume()

    assert await asyncio.gather(first, *waiting) == [[b"v"]] * 13
    assert proxy.sent_since(mark).upper().count(b"MGET") == 2
