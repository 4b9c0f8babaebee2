"""Fixtures of the auth-cache tests: apps pointed at fault tools (a TCP proxy in front of
PostgreSQL, a private redis-server, a closed port), a PostgreSQL database of their own for
server-side statistics, and bounded polling."""

import asyncio
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest
from alembic.config import Config

from alembic import command
from app.core.redis import BREAKER_OPEN_SECONDS
from tests.cache.faults import RedisServer, TcpProxy
from tests.clock import MovableClock
from tests.conftest import ROOT, TEST_DATABASE_URL, RunningApp, make_settings, running_app

SERVER_TIMING: Final = re.compile(r'^auth;desc="(cache|db)"(;dur=\d+(\.\d+)?)?$')
CLOSED_REDIS_URL: Final = "redis://127.0.0.1:1/0"
# Long enough for the breaker to let a probe through and for the heartbeat to run it.
RECOVERY_TIMEOUT_SECONDS: Final = BREAKER_OPEN_SECONDS + 5.0


def auth_source(response: httpx.Response) -> str | None:
    """ "cache" or "db" from `Server-Timing: auth;desc=...`, None when the header is absent."""
    header = response.headers.get("server-timing")
    if header is None:
        return None
    match = SERVER_TIMING.match(header)
    assert match, f"malformed Server-Timing: {header!r}"
    return match.group(1)


def database_url_on_port(port: int, base_url: str = TEST_DATABASE_URL) -> str:
    parts = urlsplit(base_url)
    host = parts.hostname or "127.0.0.1"
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = f"{userinfo}@{host}:{port}" if userinfo else f"{host}:{port}"
    return urlunsplit(parts._replace(netloc=netloc))


async def eventually(
    check: Callable[[], Awaitable[bool]], *, timeout_seconds: float, what: str
) -> None:
    """Polls `check` until it holds; fails the test after `timeout_seconds`."""
    deadline = time.monotonic() + timeout_seconds
    while not await check():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {timeout_seconds:.1f} s: {what}")
        await asyncio.sleep(0.05)


class FaultLab:
    """Starts proxies, private redis-servers and apps for one test, and takes them all down
    afterwards in an order that cannot hang: faults lifted, apps stopped, then the tools."""

    def __init__(self, clock: MovableClock, stack: AsyncExitStack) -> None:
        self._clock = clock
        self._stack = stack
        self.proxies: list[TcpProxy] = []
        self.redis_servers: list[RedisServer] = []

    async def pg_proxy(self, target_url: str = TEST_DATABASE_URL) -> TcpProxy:
        parts = urlsplit(target_url)
        proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5432)
        self.proxies.append(proxy)
        await proxy.start()
        return proxy

    async def redis_server(self) -> RedisServer:
        server = RedisServer()
        self.redis_servers.append(server)
        await server.start()
        return server

    async def app(self, **overrides: Any) -> RunningApp:
        return await self._stack.enter_async_context(
            running_app(make_settings(**overrides), self._clock)
        )

    def app_lifetime(self, **overrides: Any) -> AbstractAsyncContextManager[RunningApp]:
        """An app the test starts and stops itself (`async with`)."""
        return running_app(make_settings(**overrides), self._clock)

    async def app_behind(self, proxy: TcpProxy, **overrides: Any) -> RunningApp:
        base = overrides.pop("database_url", TEST_DATABASE_URL)
        return await self.app(database_url=database_url_on_port(proxy.port, base), **overrides)

    def lift_faults(self) -> None:
        for proxy in self.proxies:
            proxy.resume()
        for server in self.redis_servers:
            server.resume()

    async def stop_tools(self) -> None:
        for proxy in self.proxies:
            await proxy.stop()
        for server in self.redis_servers:
            await server.kill()


@pytest.fixture
async def lab(database: asyncpg.Pool, clock: MovableClock) -> AsyncIterator[FaultLab]:
    stack = AsyncExitStack()
    lab = FaultLab(clock, stack)
    try:
        yield lab
    finally:
        lab.lift_faults()  # an app shutting down must not wait on a paused peer
        try:
            await stack.aclose()
        finally:
            await lab.stop_tools()


@pytest.fixture
async def second_app(database: asyncpg.Pool, clock: MovableClock) -> AsyncIterator[RunningApp]:
    """Another worker on the same PostgreSQL, Redis and clock as the `app` fixture."""
    async with running_app(make_settings(), clock) as started:
        yield started


def _migrate(url: str) -> None:
    config = Config(str(ROOT / "alembic.ini"))
    config.attributes["database_url"] = url
    config.attributes["configure_logger"] = False
    command.upgrade(config, "head")


@pytest.fixture(scope="session")
async def stats_database_url(database: asyncpg.Pool) -> AsyncIterator[str]:
    """A database of its own, migrated once, for reading PostgreSQL's per-table counters:
    only the apps a test starts on it touch it (the shared test database is also emptied
    before every test, which would add scans of its own)."""
    parts = urlsplit(TEST_DATABASE_URL)
    name = parts.path.lstrip("/") + "_stats"
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    url = urlunsplit(parts._replace(path="/" + name))
    await asyncio.to_thread(_migrate, url)
    yield url
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()
