"""What one client can hold of a real `keygate serve` (docs/contract.md §8, HTTP_* settings):
a huge request head is answered 431 without stalling the worker, a head or a body sent too
slowly is cut off, connections past HTTP_MAX_CONNECTIONS are closed at once, and the server
raises its own open-files limit so that they never run out of descriptors."""

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from tests.fixtures.keys_and_servers import ServedKeygate, served_keygate

JWT_SECRET = "client-limits-test-secret-" + "c" * 24
HUGE_HEADER_BYTES = 100 * 1024 * 1024
MAX_HEADER_BYTES = 16384
# The contract's bounds are HTTP_*_TIMEOUT_SECONDS; a busy test machine gets this on top.
GRACE_SECONDS = 10.0
# Sending 100 MB over loopback; a server that parses all of it takes far longer.
SIEGE_SECONDS = 60.0


def address(served: ServedKeygate) -> tuple[str, int]:
    parts = urlsplit(served.url)
    assert parts.hostname is not None
    assert parts.port is not None
    return parts.hostname, parts.port


@contextlib.asynccontextmanager
async def connection(
    served: ServedKeygate,
) -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    reader, writer = await asyncio.open_connection(*address(served))
    try:
        yield reader, writer
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def read_status(reader: asyncio.StreamReader) -> int:
    """The status code of the next response, or 0 when the server closed without one."""
    try:
        line = await reader.readline()
    except ConnectionResetError:
        return 0
    return int(line.split()[1]) if line else 0


async def read_whole_response(reader: asyncio.StreamReader) -> int:
    """The status of the next response, read to its end (a Content-Length body)."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)
    return int(head.split()[1])


async def held_open(served: ServedKeygate) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A connection the server has surely accepted (it answered on it), left idle in the middle
    of its next request head."""
    reader, writer = await asyncio.open_connection(*address(served))
    writer.write(b"GET /health HTTP/1.1\r\nHost: k\r\n\r\n")
    assert await asyncio.wait_for(read_whole_response(reader), GRACE_SECONDS) == 200
    writer.write(b"GET /health HTTP/1.1\r\n")
    await writer.drain()
    return reader, writer


async def send_huge_header(served: ServedKeygate) -> int:
    """Sends a 100 MB header as fast as the server takes it; the status it answered."""
    async with connection(served) as (reader, writer):
        answer = asyncio.create_task(read_status(reader))
        writer.write(b"GET /health HTTP/1.1\r\nHost: k\r\nX-Filler: ")
        chunk = b"a" * (1024 * 1024)
        with contextlib.suppress(ConnectionError):
            for _ in range(HUGE_HEADER_BYTES // len(chunk)):
                if answer.done():
                    break
                writer.write(chunk)
                await writer.drain()
        return await answer


async def health_is_served(served: ServedKeygate) -> bool:
    async with httpx.AsyncClient(base_url=served.url, timeout=GRACE_SECONDS) as client:
        return (await client.get("/health")).status_code == 200


async def test_a_100_mb_header_is_answered_431_while_health_is_served(tmp_path):
    async with served_keygate(tmp_path, JWT_SECRET=JWT_SECRET) as served:
        siege = asyncio.create_task(send_huge_header(served))
        served_meanwhile = await health_is_served(served)

        assert await asyncio.wait_for(siege, SIEGE_SECONDS) == 431
        assert served_meanwhile
        assert await health_is_served(served)


async def test_a_header_just_under_the_limit_is_served(tmp_path):
    async with served_keygate(tmp_path, JWT_SECRET=JWT_SECRET) as served:
        head_start = b"GET /health HTTP/1.1\r\nHost: k\r\nX-Filler: "
        filler = b"a" * (MAX_HEADER_BYTES - len(head_start) - len(b"\r\n\r\n"))
        async with connection(served) as (reader, writer):
            writer.write(head_start + filler + b"\r\n\r\n")
            assert await read_status(reader) == 200
        async with connection(served) as (reader, writer):
            writer.write(head_start + filler + b"a\r\n\r\n")
            assert await read_status(reader) == 431


async def test_a_head_never_finished_is_closed_after_the_header_timeout(tmp_path):
    async with (
        served_keygate(tmp_path, JWT_SECRET=JWT_SECRET, HTTP_HEADER_TIMEOUT_SECONDS="1") as served,
        connection(served) as (reader, writer),
    ):
        writer.write(b"GET /health HTTP/1.1\r\nHost: k\r\n")
        await writer.drain()

        closed = await asyncio.wait_for(reader.read(), 1 + GRACE_SECONDS)

        assert closed == b""


async def test_an_idle_connection_after_a_response_is_closed_after_the_header_timeout(tmp_path):
    async with served_keygate(
        tmp_path, JWT_SECRET=JWT_SECRET, HTTP_HEADER_TIMEOUT_SECONDS="1"
    ) as served:
        reader, writer = await held_open(served)
        try:
            # One byte at a time would keep uvicorn's keep-alive timer from ever closing it.
            async def trickle() -> None:
                with contextlib.suppress(ConnectionError):
                    while True:
                        writer.write(b"X")
                        await writer.drain()
                        await asyncio.sleep(0.2)

            trickling = asyncio.create_task(trickle())
            closed = await asyncio.wait_for(reader.read(), 1 + GRACE_SECONDS)
            trickling.cancel()
        finally:
            writer.close()

        assert closed == b""


async def test_a_body_sent_slowly_is_answered_408(tmp_path):
    async with (
        served_keygate(tmp_path, JWT_SECRET=JWT_SECRET, HTTP_BODY_TIMEOUT_SECONDS="1") as served,
        connection(served) as (reader, writer),
    ):
        writer.write(
            b"POST /users HTTP/1.1\r\nHost: k\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000\r\n\r\n{"
        )
        answer = asyncio.create_task(read_status(reader))

        async def one_byte_every_half_second() -> None:
            with contextlib.suppress(ConnectionError):
                while True:
                    await asyncio.sleep(0.5)
                    writer.write(b" ")
                    await writer.drain()

        sending = asyncio.create_task(one_byte_every_half_second())
        status = await asyncio.wait_for(answer, 1 + GRACE_SECONDS)
        sending.cancel()

        assert status == 408


async def test_connections_past_the_limit_are_closed_at_once(tmp_path):
    async with served_keygate(tmp_path, JWT_SECRET=JWT_SECRET, HTTP_MAX_CONNECTIONS="20") as served:
        idle = [await held_open(served) for _ in range(20)]

        async with connection(served) as (reader, writer):
            writer.write(b"GET /health HTTP/1.1\r\nHost: k\r\n\r\n")
            # Closed at once: well before the 10 s a head may take.
            refused = await asyncio.wait_for(read_status(reader), 5)

        for _, idle_writer in idle:
            idle_writer.close()
        deadline = time.monotonic() + GRACE_SECONDS
        while True:  # bounded polling: the server learns of the closes on its own time
            with contextlib.suppress(httpx.TransportError):
                if await health_is_served(served):
                    break
            assert time.monotonic() < deadline, "/health refused after the idle ones left"
            await asyncio.sleep(0.1)

        assert refused == 0


def soft_open_files_limit(pid: int) -> int:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            return int(line.split()[3])
    raise AssertionError("no open-files limit")


async def test_serve_raises_a_low_open_files_limit_to_hold_its_connections(tmp_path):
    async with served_keygate(
        tmp_path, open_files=128, JWT_SECRET=JWT_SECRET, HTTP_MAX_CONNECTIONS="300"
    ) as served:
        idle = [await held_open(served) for _ in range(200)]
        try:
            assert await health_is_served(served)
            assert soft_open_files_limit(served.process.pid) >= 300
        finally:
            for _, writer in idle:
                writer.close()
