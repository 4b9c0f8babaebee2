"""Fixtures of the account page tests: keygate served by a real uvicorn process (once for the
session), one headless Chromium (Debian's, never a downloaded one) for the session, and a
fresh browser context per test, recording every request, dialog and console error."""

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import asyncpg
import httpx
import pytest
from playwright.async_api import Browser, ConsoleMessage, Dialog, Page, Request, async_playwright

from tests.factories import DEFAULT_PASSWORD
from tests.federation.conftest import ServedKeygate, served_keygate

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Low, so that a lockout takes a few attempts; every test starts from empty throttling tables.
LOGIN_MAX_FAILURES = 3


@pytest.fixture(scope="session")
async def server(
    database: asyncpg.Pool, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[ServedKeygate]:
    cwd = tmp_path_factory.mktemp("keygate-serve")
    env = {"JWT_SECRET": "account-page-" + "s" * 40, "LOGIN_MAX_FAILURES": str(LOGIN_MAX_FAILURES)}
    async with served_keygate(cwd, **env) as served:
        yield served
        await served.stop()


@pytest.fixture
async def http(server: ServedKeygate) -> AsyncIterator[httpx.AsyncClient]:
    """A second client of the same server, as another device or program would be."""
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        yield client


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        await chromium.close()


@dataclass
class Visit:
    """A page in its own browser context, and what happened in it."""

    page: Page
    origin: str
    requests: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)

    def _on_request(self, request: Request) -> None:
        self.requests.append(request.url)

    async def _on_dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(dialog.message)
        await dialog.dismiss()

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.console_errors.append(message.text)

    async def open(self) -> Page:
        await self.page.goto(self.origin + "/account")
        return self.page


@pytest.fixture
async def visit(browser: Browser, server: ServedKeygate) -> AsyncIterator[Visit]:
    context = await browser.new_context(viewport={"width": 1000, "height": 900})
    context.set_default_timeout(5000)
    page = await context.new_page()
    visit = Visit(page, server.url)
    page.on("request", visit._on_request)
    page.on("dialog", visit._on_dialog)
    page.on("console", visit._on_console)
    yield visit
    await context.close()


async def register(
    http: httpx.AsyncClient, username: str, password: str = DEFAULT_PASSWORD, **fields: str
) -> None:
    response = await http.post(
        "/users", json={"username": username, "password": password, **fields}
    )
    assert response.status_code == 201, response.text


async def api_login(
    http: httpx.AsyncClient,
    username: str,
    password: str = DEFAULT_PASSWORD,
    *,
    headers: dict[str, str] | None = None,
    **extra: str,
) -> httpx.Response:
    form = {"grant_type": "password", "username": username, "password": password, **extra}
    return await http.post("/token", data=form, headers=headers)


async def sign_in(page: Page, username: str, password: str = DEFAULT_PASSWORD) -> None:
    """Fills the sign-in form by its labels and submits it with the keyboard."""
    form = page.locator("#password-form")
    await form.get_by_label("Username").fill(username)
    await form.get_by_label("Password").fill(password)
    await form.get_by_label("Password").press("Enter")
