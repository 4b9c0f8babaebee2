"""Changing one's email and full name on /account; whatever is typed is shown as text."""

import httpx
import pytest
from playwright.async_api import expect

from tests.factories import DEFAULT_PASSWORD
from tests.fixtures.browser import Visit, api_login, register, sign_in

pytestmark = pytest.mark.slow  # a real Chromium

MARKUP = "<img src=x onerror=alert(document.domain)>"
SCRIPT = "<script>alert(1)</script>"


async def test_a_saved_profile_is_what_the_api_returns(visit: Visit, http: httpx.AsyncClient):
    await register(http, "ada")
    page = await visit.open()
    await sign_in(page, "ada")
    await page.get_by_label("Full name").fill("Augusta Ada King")
    await page.get_by_label("Email").fill("ada@example.org")
    await page.get_by_label("Password (needed to change the address)").fill(DEFAULT_PASSWORD)

    await page.get_by_label("Email").press("Enter")

    await expect(page.locator("#profile-form [data-ok]")).to_have_text("Your profile is saved.")
    await expect(page.locator("#whoami-name")).to_have_text("Augusta Ada King (ada)")
    token = (await api_login(http, "ada")).json()["access_token"]
    me = (await http.get("/users/me", headers={"Authorization": f"Bearer {token}"})).json()
    assert (me["full_name"], me["email"]) == ("Augusta Ada King", "ada@example.org")


async def test_a_new_address_without_the_password_is_not_saved(
    visit: Visit, http: httpx.AsyncClient
):
    await register(http, "ada", email="ada@example.org")
    page = await visit.open()
    await sign_in(page, "ada")
    await page.get_by_label("Email").fill("thief@example.org")

    await page.get_by_label("Email").press("Enter")

    error = page.locator("#profile-form [data-error]")
    await expect(error).to_have_text("Enter your password to change the email address.")
    token = (await api_login(http, "ada")).json()["access_token"]
    me = (await http.get("/users/me", headers={"Authorization": f"Bearer {token}"})).json()
    assert me["email"] == "ada@example.org"


async def test_an_invalid_email_reads_as_a_sentence(visit: Visit, http: httpx.AsyncClient):
    await register(http, "ada")
    page = await visit.open()
    await sign_in(page, "ada")
    await page.get_by_label("Email").fill("not an address")

    await page.get_by_label("Email").press("Enter")

    error = page.locator("#profile-form [data-error]")
    await expect(error).to_contain_text("Email: ")
    assert "{" not in await error.text_content()


async def test_markup_in_a_full_name_is_shown_as_text(visit: Visit, http: httpx.AsyncClient):
    await register(http, "ada")
    # Another session whose user agent is markup too: the sessions list shows it.
    other = await api_login(http, "ada", headers={"User-Agent": SCRIPT})
    assert other.status_code == 200, other.text
    page = await visit.open()
    await sign_in(page, "ada")

    await page.get_by_label("Full name").fill(MARKUP)
    await page.get_by_label("Full name").press("Enter")

    await expect(page.locator("#whoami-name")).to_have_text(f"{MARKUP} (ada)")
    await expect(page.locator("#sessions")).to_contain_text(SCRIPT)
    await page.reload()
    await sign_in(page, "ada")
    await expect(page.locator("#whoami-name")).to_have_text(f"{MARKUP} (ada)")
    assert await page.locator("img:not(#totp-qr)").count() == 0
    assert await page.locator("script:not([src])").count() == 0
    assert not [url for url in visit.requests if url.endswith("/x")]
    assert visit.dialogs == []
