"""In Chromium: "Forgot your password?" on the sign-in form, the mailed link, a new password,
and a sign-in with it; and a verify button next to an unverified address. keygate runs as a
real `keygate serve` process with its own database, mailing the test's SMTP server."""

from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from tests.conftest import TEST_DATABASE_URL
from tests.fixtures.browser import CHROMIUM, CHROMIUM_ARGS, register, sign_in
from tests.fixtures.keys_and_servers import ServedKeygate, served_keygate
from tests.ports import free_port

from .conftest import MailServer, fresh_database, link_in

NEW_PASSWORD = "a brand new tulip meadow"
parts = urlsplit(TEST_DATABASE_URL)
BROWSER_DATABASE_URL = urlunsplit(parts._replace(path=parts.path + "_browser_mail"))


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        await chromium.close()


@pytest.fixture
async def served(
    database, tmp_path: Path, smtp_port: int, mail_server: MailServer
) -> AsyncIterator[ServedKeygate]:
    pool = await fresh_database(BROWSER_DATABASE_URL)
    await pool.close()
    port = free_port()
    async with served_keygate(
        tmp_path,
        port=port,
        DATABASE_URL=BROWSER_DATABASE_URL,
        JWT_SECRET="recovery-page-" + "s" * 40,
        SMTP_URL=f"smtp://127.0.0.1:{smtp_port}",
        PUBLIC_URL=f"http://127.0.0.1:{port}",
    ) as server:
        yield server
        await server.stop()


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    context = await browser.new_context()
    context.set_default_timeout(10_000)
    page = await context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    yield page
    await context.close()
    # The browser's own line for a 4xx answer is expected; a script error is not.
    assert [e for e in errors if not e.startswith("Failed to load resource")] == []


async def test_forgot_password_to_mailed_link_to_new_password_to_sign_in(
    served: ServedKeygate, mail_server: MailServer, page: Page
):
    async with httpx.AsyncClient(base_url=served.url) as http:
        await register(http, "ada", email="ada@example.org")
    await page.goto(served.url + "/account")

    await page.get_by_role("button", name="Forgot your password?").press("Enter")
    await page.get_by_label("Username or address").fill("ada")
    await page.get_by_label("Username or address").press("Enter")
    await expect(page.locator("#forgot-form [data-ok]")).to_contain_text("on its way")
    link = link_in(await mail_server.next_message(), "/account/reset", served.url)

    response = await page.goto(link)
    assert response is not None
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert "#token=" not in page.url  # taken off the address bar and out of the history
    await expect(page).to_have_title("Choose a new password - keygate")
    await expect(page.get_by_role("button", name="Verify my address")).to_be_hidden()
    await page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    await page.get_by_label("New password", exact=True).press("Enter")
    await expect(page.locator("#reset-form [data-ok]")).to_contain_text("Your password is set")
    await page.get_by_role("link", name="Sign in with your new password").click()

    await sign_in(page, "ada", NEW_PASSWORD)
    await expect(page.get_by_role("heading", name="Your account")).to_be_visible()


async def test_the_verify_button_mails_a_link_that_verifies_the_address(
    served: ServedKeygate, mail_server: MailServer, page: Page
):
    async with httpx.AsyncClient(base_url=served.url) as http:
        await register(http, "ada", email="ada@example.org")
    await page.goto(served.url + "/account")
    await sign_in(page, "ada")
    await expect(page.locator("#email-state")).to_have_text("Not verified yet.")

    await page.get_by_role("button", name="Verify this address").press("Enter")
    link = link_in(await mail_server.next_message(), "/account/verify", served.url)
    await page.goto(link)
    await expect(page).to_have_title("Verify your email address - keygate")
    await expect(page.get_by_label("New password", exact=True)).to_be_hidden()
    await page.get_by_role("button", name="Verify my address").press("Enter")
    await expect(page.locator("#verify-form [data-ok]")).to_have_text(
        "Your email address is verified."
    )

    await page.goto(served.url + "/account")
    await sign_in(page, "ada")
    await expect(page.locator("#email-state")).to_have_text("Verified.")
    await expect(page.get_by_role("button", name="Verify this address")).to_be_hidden()


async def test_a_used_link_reads_as_a_sentence(
    served: ServedKeygate, mail_server: MailServer, page: Page
):
    await page.goto(served.url + "/account/reset#token=not-a-real-token")
    await page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    await page.get_by_label("New password", exact=True).press("Enter")

    await expect(page.locator("#reset-form [data-error]")).to_contain_text("Ask for a new one.")
