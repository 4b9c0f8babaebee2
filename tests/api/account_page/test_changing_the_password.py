"""Changing the password on /account."""

import httpx
import pytest
from playwright.async_api import expect

from tests.factories import DEFAULT_PASSWORD
from tests.fixtures.browser import Visit, api_login, register, sign_in

pytestmark = pytest.mark.slow  # a real Chromium

NEW_PASSWORD = "quiet-harbour-lamp-58"


async def test_the_new_password_signs_in_and_the_old_one_no_longer(
    visit: Visit, http: httpx.AsyncClient
):
    await register(http, "ada")
    page = await visit.open()
    await sign_in(page, "ada")
    await page.get_by_label("Current password").fill(DEFAULT_PASSWORD)
    await page.get_by_label("New password").fill(NEW_PASSWORD)

    await page.get_by_label("New password").press("Enter")

    await expect(page.locator("#change-password-form [data-ok]")).to_have_text(
        "Your password is changed. Your other sessions have ended."
    )
    await expect(page.get_by_label("New password")).to_have_value("")
    assert (await api_login(http, "ada", NEW_PASSWORD)).status_code == 200
    assert (await api_login(http, "ada", DEFAULT_PASSWORD)).status_code == 400


async def test_a_wrong_current_password_reads_as_a_sentence(visit: Visit, http: httpx.AsyncClient):
    await register(http, "ada")
    page = await visit.open()
    await sign_in(page, "ada")
    await page.get_by_label("Current password").fill("not the right password")
    await page.get_by_label("New password").fill(NEW_PASSWORD)

    await page.get_by_label("New password").press("Enter")

    await expect(page.locator("#change-password-form [data-error]")).to_have_text(
        "The current password is wrong."
    )


async def test_a_weak_new_password_reads_as_a_sentence(visit: Visit, http: httpx.AsyncClient):
    await register(http, "ada")
    page = await visit.open()
    await sign_in(page, "ada")
    await page.get_by_label("Current password").fill(DEFAULT_PASSWORD)
    await page.get_by_label("New password").fill("short")

    await page.get_by_label("New password").press("Enter")

    await expect(page.locator("#change-password-form [data-error]")).to_have_text(
        "New password must be at least 8 bytes in UTF-8."
    )
