"""Fixtures of the account recovery tests: a real SMTP server (aiosmtpd) in the test process,
and keygate apps that send it mail.

The mail apps use a database of their own: every app runs a mail sender, and the session's
`app` (development, no SMTP_URL) would otherwise take these tests' mail and write it to its
log. Messages are read as a person would: the link is taken from the body."""

import asyncio
import email
import email.policy
import re
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.clock import MovableClock
from tests.conftest import (
    TABLES,
    TEST_DATABASE_URL,
    RunningApp,
    make_settings,
    running_app,
)
from tests.ports import free_port

PUBLIC_URL = "https://keygate.example"
parts = urlsplit(TEST_DATABASE_URL)
MAIL_DATABASE_URL = urlunsplit(parts._replace(path=parts.path + "_mail"))


class Mailbox:
    """The SMTP server's handler: what it received, and how it behaves. Its methods run on
    the server's own thread and event loop; received mail is handed to the test's loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.arrived: asyncio.Queue[EmailMessage] = asyncio.Queue()
        self.received: list[EmailMessage] = []
        # An SMTP reply to every RCPT instead of accepting it ("451 ...", "550 ...").
        self.refusal: str | None = None
        # Cleared: the server holds every message's DATA unanswered until it is set again.
        self.answering = threading.Event()
        self.answering.set()
        self.waiting_to_answer = threading.Event()

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.refusal is not None:
            return self.refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if not self.answering.is_set():
            self.waiting_to_answer.set()
            await asyncio.to_thread(self.answering.wait)
        content = envelope.content
        assert isinstance(content, bytes)
        message = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self._loop.call_soon_threadsafe(self._arrive, message)
        return "250 Message accepted for delivery"

    def _arrive(self, message: EmailMessage) -> None:
        self.received.append(message)
        self.arrived.put_nowait(message)


@dataclass
class MailServer:
    port: int
    mailbox: Mailbox
    controller: Controller | None = field(default=None)

    async def start(self) -> None:
        controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port)
        await asyncio.to_thread(controller.start)
        self.controller = controller

    async def stop(self) -> None:
        self.mailbox.answering.set()  # a held message must not hold the shutdown
        if self.controller is not None:
            await asyncio.to_thread(self.controller.stop)
            self.controller = None

    async def next_message(self, timeout_seconds: float = 15) -> EmailMessage:
        return await asyncio.wait_for(self.mailbox.arrived.get(), timeout_seconds)

    def nothing_more_arrived(self) -> bool:
        return self.mailbox.arrived.empty()


def body_of(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    text = part.get_content()
    assert isinstance(text, str)
    return text


def link_in(message: EmailMessage, path: str, public_url: str = PUBLIC_URL) -> str:
    """The one link to `path` in a message's text, as a reader would follow it."""
    pattern = re.escape(public_url + path) + r"#token=[A-Za-z0-9_-]+"
    found = re.findall(pattern, body_of(message))
    assert len(found) == 1, body_of(message)
    link: str = found[0]
    return link


def token_in(message: EmailMessage, path: str) -> str:
    return link_in(message, path).split("#token=", 1)[1]


async def eventually(check: Callable[[], Awaitable[bool]], what: str, seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {seconds:.0f} s: {what}")
        await asyncio.sleep(0.05)


@dataclass
class Outbox:
    """The outbox table, as an operator would look at it with SQL."""

    pool: asyncpg.Pool

    async def statuses(self) -> list[str]:
        rows = await self.pool.fetch("SELECT status FROM mail_outbox ORDER BY id")
        return [r["status"] for r in rows]

    async def settled(self) -> None:
        """Waits until every accepted request has been handled (sent, failed or resolved)."""

        async def nothing_waits() -> bool:
            return "waiting" not in await self.statuses()

        await eventually(nothing_waits, "the outbox has no waiting entry")

    async def last_errors(self) -> list[str | None]:
        rows = await self.pool.fetch("SELECT last_error FROM mail_outbox ORDER BY id")
        return [r["last_error"] for r in rows]


def migrate(url: str) -> None:
    from alembic.config import Config

    from alembic import command
    from tests.conftest import ROOT

    config = Config(str(ROOT / "alembic.ini"))
    config.attributes["database_url"] = url
    config.attributes["configure_logger"] = False
    command.upgrade(config, "head")


async def fresh_database(url: str) -> asyncpg.Pool:
    """Drops, creates and migrates the database at `url`; a pool on it."""
    name = urlsplit(url).path.lstrip("/")
    admin = await asyncpg.connect(urlunsplit(parts._replace(path="/postgres")))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    await asyncio.to_thread(migrate, url)
    return await asyncpg.create_pool(url, min_size=1, max_size=4)


@pytest.fixture(scope="session")
async def mail_database(database: asyncpg.Pool) -> AsyncIterator[asyncpg.Pool]:
    pool = await fresh_database(MAIL_DATABASE_URL)
    yield pool
    await pool.close()


@pytest.fixture(autouse=True)
async def clean_mail_database(mail_database: asyncpg.Pool, clean_state: None) -> None:
    async with mail_database.acquire() as conn, conn.transaction():
        for table in TABLES:
            await conn.execute(f"DELETE FROM {table}")  # noqa: S608 (constant names)


@pytest.fixture(scope="session")
def smtp_port() -> int:
    return free_port()


def mail_settings(smtp_port: int, **overrides: Any) -> Any:
    values: dict[str, Any] = {
        "database_url": MAIL_DATABASE_URL,
        "smtp_url": f"smtp://127.0.0.1:{smtp_port}",
        "public_url": PUBLIC_URL,
        "mail_from": "keygate <no-reply@keygate.example>",
    }
    values.update(overrides)
    return make_settings(**values)


@asynccontextmanager
async def mail_app_running(
    clock: MovableClock, smtp_port: int, **overrides: Any
) -> AsyncIterator[RunningApp]:
    async with running_app(mail_settings(smtp_port, **overrides), clock) as started:
        yield started


@pytest.fixture(scope="session")
async def mail_app(
    mail_database: asyncpg.Pool, clock: MovableClock, smtp_port: int
) -> AsyncIterator[RunningApp]:
    async with mail_app_running(clock, smtp_port) as started:
        yield started


@pytest.fixture(scope="session")
async def mail_client(mail_app: RunningApp) -> AsyncIterator[httpx.AsyncClient]:
    async with mail_app.client() as client:
        yield client


@pytest.fixture
async def mail_server(smtp_port: int) -> AsyncIterator[MailServer]:
    server = MailServer(smtp_port, Mailbox(asyncio.get_running_loop()))
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def outbox(mail_database: asyncpg.Pool) -> Outbox:
    return Outbox(mail_database)


@pytest.fixture
async def second_mail_app(
    mail_app: RunningApp, clock: MovableClock, smtp_port: int
) -> AsyncIterator[RunningApp]:
    """Another worker on the same PostgreSQL, Redis, mail server and clock."""
    async with mail_app_running(clock, smtp_port) as started:
        yield started
