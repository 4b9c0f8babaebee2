"""Signing in to /account with a password, staying signed in by refreshing, signing out."""

import re
import time

import httpx
import pyotp
import pytest
from playwright.async_api import Request, expect

from tests.factories import DEFAULT_PASSWORD
from tests.fixtures.browser import LOGIN_MAX_FAILURES, Visit, api_login, register, sign_in

TOTP_STEP_SECONDS = 30

pytestmark = pytest.mark.slow  # a real Chromium


async def test_signing_in_shows_the_account(visit: Visit, http: httpx.AsyncClient):
    await register(http, "ada", full_name="Ada Lovelace")
    page = await visit.open()

    await sign_in(page, "ada")

    await expect(page.get_by_role("heading", name="Your account")).to_be_focused()
    await expect(page.locator("#whoami-name")).to_have_text("Ada Lovelace (ada)")
    await expect(page.locator("#profile-username")).to_have_text("ada")


async def test_the_tokens_are_kept_in_memory_only(visit: Visit, http: httpx.AsyncClient):
    await register(http, "ada")
    page = await visit.open()
    await sign_in(page, "ada")
    await expect(page.get_by_role("heading", name="Your account")).to_be_visible()

    stored = await page.evaluate("localStorage.length + sessionStorage.length")
    assert stored == 0
    assert await page.context.cookies() == []


async def test_a_wrong_password_reads_as_a_sentence(visit: Visit, http: httpx.AsyncClient):
    await register(http, "ada")
    page = await visit.open()

    await sign_in(page, "ada", "not the right password")

    await expect(page.locator("#password-form [data-error]")).to_have_text(
        "The username or password is wrong."
    )


async def test_a_lockout_tells_how_many_seconds_to_wait(visit: Visit, http: httpx.AsyncClient):
    await register(http, "ada")
    page = await visit.open()
    error = page.locator("#password-form [data-error]")
    for _ in range(LOGIN_MAX_FAILURES):
        await error.evaluate("node => { node.textContent = '' }")
        await sign_in(page, "ada", "not the right password")
        await expect(error).to_have_text("The username or password is wrong.")

    async with page.expect_response(re.compile(r"/token$")) as refused:
        await sign_in(page, "ada")
    response = await refused.value

    assert response.status == 429
    seconds = int(response.headers["retry-after"])
    await expect(error).to_have_text(f"Too many failed attempts. Try again in {seconds} seconds.")


async def test_the_page_refreshes_its_tokens_and_uses_each_refresh_token_once(
    visit: Visit, http: httpx.AsyncClient
):
    await register(http, "ada")
    await visit.page.clock.install()
    page = await visit.open()
    await sign_in(page, "ada")
    await expect(page.locator("#sessions li")).to_have_count(1)

    sent_forms = []
    for _ in range(2):
        # The page's clock passes the access token's 15 minutes; the server's does not, so
        # only a page that refreshes on its own clock makes this request.
        await page.clock.fast_forward("15:00")
        async with (
            page.expect_request(is_refresh) as refresh,
            page.expect_response(re.compile(r"/users/me/sessions$")) as listed,
        ):
            await page.get_by_role("button", name="Reload the list").press("Enter")
        sent_forms.append((await refresh.value).post_data)
        assert (await listed.value).status == 200

    first, second = sent_forms
    assert first != second
    await expect(page.locator("#account")).to_be_visible()
    await expect(page.locator("#sessions li")).to_have_count(1)


def is_refresh(request: Request) -> bool:
    return request.url.endswith("/token") and "grant_type=refresh_token" in (
        request.post_data or ""
    )


async def test_signing_out_ends_the_session_at_the_server(visit: Visit, http: httpx.AsyncClient):
    await register(http, "ada")
    page = await visit.open()
    async with page.expect_response(re.compile(r"/token$")) as issued:
        await sign_in(page, "ada")
    access_token = (await (await issued.value).json())["access_token"]
    await expect(page.get_by_role("heading", name="Your account")).to_be_visible()

    await page.get_by_role("button", name="Sign out").press("Enter")

    await expect(page.locator("#notice")).to_have_text("You are signed out.")
    await expect(page.locator("#sign-in")).to_be_visible()
    refused = await http.get("/users/me", headers={"Authorization": f"Bearer {access_token}"})
    assert refused.status_code == 401
    assert DEFAULT_PASSWORD not in await page.content()


async def test_a_notice_goes_once_the_next_step_begins(visit: Visit, http: httpx.AsyncClient):
    await register(http, "ada")
    page = await visit.open()
    await sign_in(page, "ada")
    await page.get_by_role("button", name="Sign out").press("Enter")
    await expect(page.locator("#notice")).to_have_text("You are signed out.")

    await sign_in(page, "ada", "not the password at all")

    await expect(page.locator("#password-form [data-error]")).not_to_be_empty()
    await expect(page.locator("#notice")).to_be_empty()


async def test_the_code_step_does_not_keep_the_signed_out_notice(
    visit: Visit, http: httpx.AsyncClient
):
    await register(http, "ada")
    signed_in = await api_login(http, "ada")
    headers = {"Authorization": f"Bearer {signed_in.json()['access_token']}"}
    # The password is sent for a server that asks for it before enrolment; one that does
    # not ignores it.
    begun = await http.post("/users/me/totp", headers=headers, json={"password": DEFAULT_PASSWORD})
    assert begun.status_code == 201, begun.text
    totp = pyotp.TOTP(begun.json()["secret"])
    confirmed = await http.post(
        "/users/me/totp/confirm", headers=headers, json={"code": totp.now()}
    )
    assert confirmed.status_code == 200, confirmed.text
    page = await visit.open()
    await sign_in(page, "ada")
    code = page.locator("#otp-form").get_by_label("Code from your authenticator app")
    await code.fill(totp.at(time.time() + TOTP_STEP_SECONDS))  # the current one was used
    await code.press("Enter")
    await page.get_by_role("button", name="Sign out").press("Enter")
    await expect(page.locator("#notice")).to_have_text("You are signed out.")

    await sign_in(page, "ada")

    await expect(page.locator("#otp-form")).to_be_visible()
    await expect(page.locator("#notice")).to_be_empty()
