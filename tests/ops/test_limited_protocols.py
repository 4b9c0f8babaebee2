"""Both of uvicorn's HTTP parsers keep the limits (docs/contract.md §8): keygate serve picks
httptools when it is installed and h11 otherwise. Each is served here by a real uvicorn server
on a real socket, in a thread, in front of a small ASGI app that reads the whole body."""

import asyncio
import contextlib
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn

from app.ops.http_limits import (
    HttpLimits,
    LimitedConfig,
    LimitedH11Protocol,
    LimitedHttpToolsProtocol,
)

LIMITS = HttpLimits(
    max_header_bytes=4096, header_timeout_seconds=1, body_timeout_seconds=1, max_connections=5
)
GRACE_SECONDS = 10.0
PROTOCOLS = [LimitedHttpToolsProtocol, LimitedH11Protocol]


async def echo_length(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    length = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        length += len(message.get("body", b""))
        if not message.get("more_body"):
            break
    body = str(length).encode()
    headers = [(b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@contextlib.contextmanager
def serving(protocol: type[asyncio.Protocol], **config: Any) -> Iterator[tuple[str, int]]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = LimitedConfig(
        "tests.ops.test_limited_protocols:echo_length",
        limits=LIMITS,
        http=protocol,
        log_level="warning",
        lifespan="off",
        **config,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]})
    thread.start()
    try:
        for _ in range(200):  # bounded wait for the thread's server to start
            if server.started:
                break
            threading.Event().wait(0.05)
        yield sock.getsockname()
    finally:
        server.should_exit = True
        thread.join()
        sock.close()


async def read_all(reader: asyncio.StreamReader) -> bytes:
    """What the server sent until it closed (a reset after its answer keeps the answer)."""
    received = b""
    with contextlib.suppress(ConnectionError):
        while chunk := await reader.read(65536):
            received += chunk
    return received


async def exchange(address: tuple[str, int], *parts: bytes, pause: float = 0) -> bytes:
    """Sends the parts (pausing between them) while reading until the server closes."""
    reader, writer = await asyncio.open_connection(*address)
    answer = asyncio.create_task(read_all(reader))
    try:
        with contextlib.suppress(ConnectionError):
            for part in parts:
                if answer.done():
                    break
                writer.write(part)
                await writer.drain()
                await asyncio.sleep(pause)
        return await asyncio.wait_for(answer, GRACE_SECONDS)
    finally:
        writer.close()


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_heads_over_the_limit_are_431_and_heads_under_it_are_served(protocol):
    start = b"GET / HTTP/1.1\r\nHost: k\r\nConnection: close\r\nX-Filler: "
    fits = b"a" * (LIMITS.max_header_bytes - len(start) - 4)
    with serving(protocol) as address:
        served = await exchange(address, start + fits + b"\r\n\r\n")
        refused = await exchange(address, start + fits + b"a\r\n\r\n")
        huge = await exchange(address, start, *[b"a" * 65536] * 160)

    assert served.startswith(b"HTTP/1.1 200")
    assert refused.startswith(b"HTTP/1.1 431")
    assert huge.startswith(b"HTTP/1.1 431")


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_slow_head_is_closed_and_a_slow_body_is_408(protocol):
    with serving(protocol) as address:
        head_left_open = await exchange(address, b"GET / HTTP/1.1\r\n")
        slow_body = await exchange(
            address,
            b"POST / HTTP/1.1\r\nHost: k\r\nContent-Length: 100\r\n\r\n",
            *[b"x"] * 20,
            pause=0.2,
        )
        body_in_time = await exchange(
            address,
            b"POST / HTTP/1.1\r\nHost: k\r\nConnection: close\r\nContent-Length: 3\r\n\r\n",
            b"abc",
        )

    assert head_left_open == b""
    assert slow_body.startswith(b"HTTP/1.1 408")
    assert body_in_time.startswith(b"HTTP/1.1 200")
    assert body_in_time.endswith(b"\r\n\r\n3")


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_connections_past_the_limit_are_closed_at_once(protocol):
    with serving(protocol) as address:
        held = [await asyncio.open_connection(*address) for _ in range(LIMITS.max_connections)]
        try:
            for reader, writer in held:  # answered, so surely accepted
                writer.write(b"GET / HTTP/1.1\r\nHost: k\r\n\r\n")
                assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200")
            refused = await exchange(address, b"GET / HTTP/1.1\r\nHost: k\r\n\r\n")
        finally:
            for _, writer in held:
                writer.close()

    assert refused == b""


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_keep_alive_connection_is_measured_request_by_request(protocol):
    """Many heads on one connection add up past HTTP_MAX_HEADER_BYTES and its lifetime past
    HTTP_HEADER_TIMEOUT_SECONDS, and each request is still served: each head is measured and
    timed on its own."""
    head = b"GET / HTTP/1.1\r\nHost: k\r\nX-Filler: " + b"a" * 1000 + b"\r\n\r\n"
    requests = 3 * LIMITS.max_header_bytes // len(head)
    with serving(protocol) as address:
        reader, writer = await asyncio.open_connection(*address)
        statuses = []
        try:
            for _ in range(requests):
                writer.write(head)
                answer = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), GRACE_SECONDS)
                statuses.append(int(answer.split()[1]))
                await reader.readexactly(1)  # the body: "0"
                await asyncio.sleep(2 * LIMITS.header_timeout_seconds / requests)
        finally:
            writer.close()

    assert statuses == [200] * requests


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_connection_idle_after_its_answers_is_closed_when_the_next_head_is_late(protocol):
    """After each answer the next head has HTTP_HEADER_TIMEOUT_SECONDS to arrive, however
    long the connection has lived. uvicorn's own keep-alive timeout is set far beyond the
    wait here, so only the head's clock can close the connection."""
    head = b"GET / HTTP/1.1\r\nHost: k\r\n\r\n"
    requests = 4
    with serving(protocol, timeout_keep_alive=10 * GRACE_SECONDS) as address:
        reader, writer = await asyncio.open_connection(*address)
        try:
            for _ in range(requests):  # together longer than the head's clock
                writer.write(head)
                await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), GRACE_SECONDS)
                await reader.readexactly(1)
                await asyncio.sleep(LIMITS.header_timeout_seconds / 2)
            after_the_last_answer = await asyncio.wait_for(read_all(reader), GRACE_SECONDS)
        finally:
            writer.close()

    assert after_the_last_answer == b""
