"""The sessions list on /account: this one marked, any other ended from here."""

import httpx
import pytest
from playwright.async_api import expect

from tests.fixtures.browser import Visit, api_login, register, sign_in

pytestmark = pytest.mark.slow  # a real Chromium


async def test_ending_another_session_makes_its_token_refused(
    visit: Visit, http: httpx.AsyncClient
):
    await register(http, "ada")
    other = await api_login(http, "ada", headers={"User-Agent": "ada's other laptop"})
    other_headers = {"Authorization": f"Bearer {other.json()['access_token']}"}
    page = await visit.open()
    await sign_in(page, "ada")
    sessions = page.locator("#sessions li")
    await expect(sessions).to_have_count(2)
    await expect(sessions.filter(has_text="This session")).to_have_count(1)
    elsewhere = sessions.filter(has_text="ada's other laptop")
    await expect(elsewhere).not_to_contain_text("This session")

    await elsewhere.get_by_role("button").press("Enter")

    await expect(page.locator("#notice")).to_have_text("The session has ended.")
    await expect(sessions).to_have_count(1)
    await expect(sessions).to_contain_text("This session")
    assert (await http.get("/users/me", headers=other_headers)).status_code == 401


async def test_ending_this_session_signs_out(visit: Visit, http: httpx.AsyncClient):
    await register(http, "ada")
    page = await visit.open()
    await sign_in(page, "ada")

    await page.get_by_role("button", name="End the session").press("Enter")

    await expect(page.locator("#notice")).to_have_text(
        "You ended this session, so you are signed out."
    )
    await expect(page.locator("#sign-in")).to_be_visible()


async def test_a_session_ended_elsewhere_sends_the_page_back_to_sign_in(
    visit: Visit, http: httpx.AsyncClient
):
    await register(http, "ada")
    page = await visit.open()
    await sign_in(page, "ada")
    await expect(page.locator("#sessions li")).to_have_count(1)
    other = await api_login(http, "ada")
    headers = {"Authorization": f"Bearer {other.json()['access_token']}"}
    listed = (await http.get("/users/me/sessions", headers=headers)).json()
    (this_one,) = [session for session in listed if not session["current"]]
    ended = await http.delete(f"/users/me/sessions/{this_one['id']}", headers=headers)
    assert ended.status_code == 204

    await page.get_by_role("button", name="Reload the list").press("Enter")

    await expect(page.locator("#notice")).to_have_text(
        "Your session has ended. Please sign in again."
    )
    await expect(page.locator("#sign-in")).to_be_visible()


AGENTS = {
    "Safari on iOS": (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15"
        " (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
    ),
    "Firefox on Windows": (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"
    ),
    "Edge on Windows": (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
        " Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0"
    ),
    "Chrome on Android": (
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko)"
        " Chrome/120.0.0.0 Mobile Safari/537.36"
    ),
    "curl/8.5.0": "curl/8.5.0",  # not a browser: shown as it was sent
}


async def test_each_session_names_its_browser_and_system(visit: Visit, http: httpx.AsyncClient):
    await register(http, "ada")
    for agent in AGENTS.values():
        signed_in = await api_login(http, "ada", headers={"User-Agent": agent})
        assert signed_in.status_code == 200, signed_in.text
    page = await visit.open()
    await sign_in(page, "ada")
    sessions = page.locator("#sessions li")
    await expect(sessions).to_have_count(len(AGENTS) + 1)

    names = await page.locator("#sessions li strong").all_text_contents()

    # This page runs in headless Chromium on Linux.
    assert sorted(names) == sorted([*AGENTS, "Chrome on Linux"])
    await expect(sessions.filter(has_text="This session")).to_contain_text("Chrome on Linux")
    await expect(page.locator("#sessions")).not_to_contain_text("Mozilla/5.0")
