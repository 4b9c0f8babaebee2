"""Enrolling TOTP on /account, signing in with a code, turning it off again."""

import asyncio
import time
from pathlib import Path

import httpx
import pyotp
import pytest
from playwright.async_api import Page, expect

from tests.factories import DEFAULT_PASSWORD
from tests.fixtures.browser import Visit, api_login, register, sign_in

pytestmark = pytest.mark.slow  # a real Chromium

TOTP_STEP_SECONDS = 30


async def enrol(page: Page) -> tuple[pyotp.TOTP, list[str]]:
    """Turns TOTP on from the page: the secret read from it, the code computed here."""
    await page.locator("#enrol-password").fill(DEFAULT_PASSWORD)
    await page.get_by_role("button", name="Set up an authenticator app").press("Enter")
    await expect(page.locator("#totp-secret")).not_to_be_empty()
    secret = await page.locator("#totp-secret").text_content()
    assert secret
    totp = pyotp.TOTP(secret)
    await page.get_by_label("Code shown by the app").fill(totp.now())
    await page.get_by_label("Code shown by the app").press("Enter")
    codes = page.locator("#recovery-codes li")
    await expect(codes).to_have_count(10)
    return totp, await codes.all_text_contents()


async def test_the_qr_code_is_shown_beside_the_secret(visit: Visit, http: httpx.AsyncClient):
    await register(http, "ada")
    page = await visit.open()
    await sign_in(page, "ada")

    await page.locator("#enrol-password").fill(DEFAULT_PASSWORD)
    await page.get_by_role("button", name="Set up an authenticator app").press("Enter")

    qr = page.get_by_role("img", name="QR code for your authenticator app")
    await expect(qr).to_be_visible()
    assert await qr.evaluate("img => img.complete && img.naturalWidth > 0")
    assert (await qr.get_attribute("src") or "").startswith("data:image/svg+xml")
    assert pyotp.TOTP(await page.locator("#totp-secret").text_content() or "").now().isdigit()
    await expect(page.get_by_label("Code shown by the app")).to_be_focused()


async def test_the_recovery_codes_download_as_text(visit: Visit, http: httpx.AsyncClient):
    await register(http, "ada")
    page = await visit.open()
    await sign_in(page, "ada")
    _, codes = await enrol(page)

    async with page.expect_download() as started:
        await page.get_by_role("button", name="Download as text").press("Enter")
    download = await started.value

    assert download.suggested_filename == "keygate-recovery-codes.txt"
    text = await asyncio.to_thread(Path(await download.path()).read_text)
    assert all(code in text.splitlines() for code in codes)


async def test_after_enrolment_signing_in_asks_for_a_code(visit: Visit, http: httpx.AsyncClient):
    await register(http, "ada")
    page = await visit.open()
    await sign_in(page, "ada")
    totp, _ = await enrol(page)
    await page.get_by_role("button", name="I have saved them").press("Enter")
    await expect(page.locator("#totp-state")).to_contain_text("Two-step sign-in is on")
    await page.get_by_role("button", name="Sign out").press("Enter")

    await sign_in(page, "ada")
    code = page.locator("#otp-form").get_by_label("Code from your authenticator app")
    await expect(code).to_be_focused()
    await code.fill("not-a-code")
    await code.press("Enter")
    await expect(page.locator("#otp-form [data-error]")).to_contain_text(
        "That code is wrong or was already used."
    )
    # The code of the next step: the one just used at enrolment is refused as a replay, and
    # the server accepts one step of drift.
    await code.fill(totp.at(time.time() + TOTP_STEP_SECONDS))
    await code.press("Enter")

    await expect(page.get_by_role("heading", name="Your account")).to_be_focused()
    await expect(page.locator("#totp-state")).to_contain_text("Two-step sign-in is on")


async def test_turning_it_off_takes_the_password_and_a_recovery_code(
    visit: Visit, http: httpx.AsyncClient
):
    await register(http, "ada")
    page = await visit.open()
    await sign_in(page, "ada")
    _, recovery_codes = await enrol(page)
    await page.get_by_role("button", name="I have saved them").press("Enter")
    disable = page.locator("#totp-disable-form")

    await disable.get_by_label("Password").fill(DEFAULT_PASSWORD)
    await disable.get_by_label("Code from your authenticator app").fill(recovery_codes[0])
    await disable.get_by_label("Password").press("Enter")

    await expect(page.locator("#notice")).to_have_text(
        "Two-step sign-in is off. Your other sessions have ended."
    )
    await expect(page.locator("#totp-state")).to_contain_text("Two-step sign-in is off")
    assert (await api_login(http, "ada")).status_code == 200
