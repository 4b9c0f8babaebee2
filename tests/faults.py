"""Real faults for the cache tests: a pausable TCP proxy (PostgreSQL behind it can be made to
hang or vanish, and every byte the app sends is counted outside the app) and a private
redis-server that a test may SIGSTOP, SIGCONT, kill and restart. The shared PostgreSQL and
Redis are never touched."""

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from redis.asyncio import Redis
from redis.exceptions import RedisError

from tests.ports import free_port

CHUNK_BYTES: Final = 65536
START_TIMEOUT_SECONDS: Final = 10.0


class TcpProxy:
    """Listens on 127.0.0.1:<port> and forwards every connection to target_host:target_port.

    - `pause()`: nothing is forwarded any more (new connections are accepted and left
      hanging); what arrives is held, like a hung network. `resume()` lets it all through.
    - `close_connections()`: every open connection is dropped.
    - `stop()`: connections dropped and the port closed (connection refused); `start()`
      again listens on the same port.
    Bytes are counted (and the app's bytes kept) when the proxy receives them."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target_host = target_host
        self.target_port = target_port
        self.port = 0
        self.bytes_to_target = 0
        self.bytes_to_client = 0
        self.connections_accepted = 0
        self.sent_to_target = bytearray()
        self._server: asyncio.Server | None = None
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._before: tuple[bytes, Callable[[], None]] | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._accept, "127.0.0.1", self.port or free_port()
        )
        self.port = self._server.sockets[0].getsockname()[1]

    def pause(self) -> None:
        self._flowing.clear()

    def before_forwarding(self, marker: bytes, action: Callable[[], None]) -> None:
        """Runs `action` once, just before the first bytes from the app holding `marker` are
        forwarded (a test hangs PostgreSQL just as a statement with that value is sent)."""
        self._before = (marker, action)

    def resume(self) -> None:
        self._flowing.set()

    @property
    def is_paused(self) -> bool:
        return not self._flowing.is_set()

    def mark(self) -> int:
        """The position in `sent_to_target` now, for `sent_since(mark)`."""
        return len(self.sent_to_target)

    def sent_since(self, mark: int) -> bytes:
        return bytes(self.sent_to_target[mark:])

    async def close_connections(self) -> None:
        for writer in list(self._writers):
            writer.transport.abort()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._writers.clear()

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        await self.close_connections()
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def _accept(
        self, client_reader: asyncio.StreamReader, client: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(client)
        self.connections_accepted += 1
        target: asyncio.StreamWriter | None = None
        try:
            await self._flowing.wait()  # a hung network: connected, and nothing answers
            try:
                target_reader, target = await asyncio.open_connection(
                    self.target_host, self.target_port
                )
            except OSError:
                return
            self._writers.add(target)
            await asyncio.gather(
                self._pipe(client_reader, target, to_target=True),
                self._pipe(target_reader, client, to_target=False),
            )
        except asyncio.CancelledError:
            pass  # close_connections(): the finally below drops both sides
        finally:
            for writer in (client, target):
                if writer is not None:
                    writer.transport.abort()
                    self._writers.discard(writer)
            self._tasks.discard(task)

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, to_target: bool
    ) -> None:
        try:
            while data := await reader.read(CHUNK_BYTES):
                if to_target:
                    self.bytes_to_target += len(data)
                    self.sent_to_target += data
                    if self._before is not None and self._before[0] in data:
                        _, action = self._before
                        self._before = None
                        action()
                else:
                    self.bytes_to_client += len(data)
                await self._flowing.wait()
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.transport.abort()


@dataclass(frozen=True)
class RedisTls:
    """A server's certificate and key (the certificate is also the CA clients trust)."""

    certificate: Path
    key: Path


class RedisServer:
    """A private `redis-server` on a free port, as an asyncio subprocess the test owns; with
    `tls`, it speaks only TLS; with `password`, it asks for one."""

    def __init__(
        self, port: int | None = None, *, tls: RedisTls | None = None, password: str | None = None
    ) -> None:
        self.port = port or free_port()
        self.tls = tls
        self.password = password
        self.process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return self.url_of(0)

    def url_of(self, db: int) -> str:
        credentials = f":{self.password}@" if self.password else ""
        if self.tls is None:
            return f"redis://{credentials}127.0.0.1:{self.port}/{db}"
        return (
            f"rediss://{credentials}127.0.0.1:{self.port}/{db}?ssl_ca_certs={self.tls.certificate}"
        )

    def _listening(self) -> tuple[str, ...]:
        if self.tls is None:
            return ("--port", str(self.port))
        return (
            *("--port", "0", "--tls-port", str(self.port)),
            *("--tls-cert-file", str(self.tls.certificate), "--tls-key-file", str(self.tls.key)),
            *("--tls-ca-cert-file", str(self.tls.certificate), "--tls-auth-clients", "no"),
        )

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            "redis-server",
            *self._listening(),
            *(("--requirepass", self.password) if self.password else ()),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        await self._wait_until_it_answers()

    async def _wait_until_it_answers(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        client = Redis.from_url(self.url, socket_timeout=0.5)
        try:
            while True:
                assert self.process is not None
                if self.process.returncode is not None:
                    raise RuntimeError(f"redis-server exited with {self.process.returncode}")
                try:
                    if await client.ping():
                        return
                except (RedisError, OSError) as exc:
                    if time.monotonic() > deadline:
                        raise RuntimeError("redis-server did not start") from exc
                await asyncio.sleep(0.02)
        finally:
            await client.aclose()

    def pause(self) -> None:
        """SIGSTOP: the port stays open, connections are accepted by the kernel, nothing
        answers."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        if self.process is not None and self.process.returncode is None:
            os.kill(self.process.pid, signal.SIGCONT)

    async def kill(self) -> None:
        if self.process is None:
            return
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
            await self.process.wait()
        self.process = None

    async def restart(self) -> None:
        await self.kill()
        await self.start()
