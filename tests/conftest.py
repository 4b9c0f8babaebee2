"""One database created and migrated per session, one app and client; every test starts
from empty tables and an empty Redis database."""

import asyncio
import os
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from http.cookiejar import CookieJar, DefaultCookiePolicy
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest
from alembic.config import Config
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from redis.asyncio import Redis
from starlette.types import ASGIApp

from alembic import command
from app.container import Container
from app.core.settings import Settings
from app.main import create_app
from tests.clock import MovableClock
from tests.faults import TcpProxy

# The fixtures that tests in several directories share, one module per kind (tests/fixtures/).
# A module comes before those that import it: pytest rewrites the asserts of a plugin only if
# it registers the plugin before anything imports it.
pytest_plugins = [
    "tests.fixtures.keys_and_servers",
    "tests.fixtures.attacks",
    "tests.fixtures.browser",
    "tests.fixtures.fault_lab",
    "tests.fixtures.recorded_responses",
    "tests.fixtures.second_app",
    "tests.fixtures.signed_in_users",
    "tests.fixtures.totp",
]

ROOT = Path(__file__).resolve().parent.parent
TEST_DATABASE_URL = os.environ.get(
    "KEYGATE_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/keygate_test"
)
TEST_REDIS_URL = os.environ.get("KEYGATE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
TABLES = (
    "mail_outbox",
    "recovery_tokens",
    "device_tokens",
    "login_failures",
    "mfa_challenges",
    "totp_recovery_codes",
    "cache_invalidations",
    "refresh_tokens",
    "sessions",
    "products",
    "users",
)


def make_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": TEST_DATABASE_URL,
        "redis_url": TEST_REDIS_URL,
        "jwt_secret": "test-secret-" + "x" * 40,
        "bcrypt_rounds": 4,
        "redis_timeout_seconds": 0.2,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


async def recreate_test_database() -> None:
    parts = urlsplit(TEST_DATABASE_URL)
    name = parts.path.lstrip("/")
    conn = await asyncpg.connect(urlunsplit(parts._replace(path="/postgres")))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


def migrate_test_database() -> None:
    config = Config(str(ROOT / "alembic.ini"))
    config.attributes["database_url"] = TEST_DATABASE_URL
    config.attributes["configure_logger"] = False
    command.upgrade(config, "head")


@pytest.fixture(scope="session")
async def database() -> AsyncIterator[asyncpg.Pool]:
    await recreate_test_database()
    # env.py runs its own event loop, so the migration runs in a thread (this also tests it).
    await asyncio.to_thread(migrate_test_database)
    pool = await asyncpg.create_pool(TEST_DATABASE_URL, min_size=1, max_size=4)
    yield pool
    await pool.close()


@pytest.fixture(scope="session")
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(TEST_REDIS_URL)
    yield client
    await client.aclose()


@pytest.fixture
async def redis_proxy() -> AsyncIterator[TcpProxy]:
    """A TCP proxy in front of the test Redis: it counts what is sent and the connections it
    takes, and can hold or drop them (tests/faults.py). Reach Redis through it at
    `redis_url_through(redis_proxy)`."""
    parts = urlsplit(TEST_REDIS_URL)
    proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 6379)
    await proxy.start()
    yield proxy
    await proxy.stop()


def redis_url_through(proxy: TcpProxy, query: str = "") -> str:
    """The test Redis's URL, reaching it through `proxy`, with `query` as its query string."""
    parts = urlsplit(TEST_REDIS_URL)._replace(netloc=f"127.0.0.1:{proxy.port}")
    return urlunsplit(parts._replace(query=query) if query else parts)


@pytest.fixture(scope="session")
def clock() -> MovableClock:
    return MovableClock()


@dataclass(frozen=True)
class RunningApp:
    app: FastAPI
    asgi: ASGIApp  # the app as LifespanManager serves it (with its lifespan state)

    @property
    def services(self) -> Container:
        services: Container = self.app.state.services
        return services

    def client(self, ip: str = "203.0.113.7") -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=self.asgi, client=(ip, 40000))
        return httpx.AsyncClient(
            transport=transport, base_url="http://keygate.test", cookies=no_cookies()
        )


def no_cookies() -> CookieJar:
    """A jar that keeps nothing: the test clients are API clients that send what each test
    says, and the session's one client must not carry a device cookie from test to test."""
    return CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))


@asynccontextmanager
async def running_app(
    settings: Settings, clock: Callable[[], float] = time.time
) -> AsyncIterator[RunningApp]:
    app = create_app(settings, clock=clock)
    async with LifespanManager(app) as manager:
        yield RunningApp(app, manager.app)


@pytest.fixture(scope="session")
async def app(database: asyncpg.Pool, clock: MovableClock) -> AsyncIterator[RunningApp]:
    async with running_app(make_settings(), clock) as started:
        yield started


@pytest.fixture(scope="session")
async def client(app: RunningApp) -> AsyncIterator[httpx.AsyncClient]:
    async with app.client() as c:
        yield c


@pytest.fixture
def services(app: RunningApp) -> Container:
    return app.services


@pytest.fixture(autouse=True)
async def clean_state(database: asyncpg.Pool, redis: Redis, clock: MovableClock) -> None:
    """Empties every table in one transaction (~2 ms) and the test Redis database."""
    async with database.acquire() as conn, conn.transaction():
        for table in TABLES:
            await conn.execute(f"DELETE FROM {table}")  # noqa: S608 (constant names)
    await redis.flushdb()
    clock.offset_seconds = 0.0
