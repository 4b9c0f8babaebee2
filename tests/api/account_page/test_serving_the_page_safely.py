"""/account is served with headers that keep it from being framed, sniffed or scripted from
elsewhere; it asks nothing of any other origin; it can be switched off."""

import httpx
import pytest
from playwright.async_api import Browser, expect

from tests.conftest import make_settings, running_app
from tests.factories import DEFAULT_PASSWORD
from tests.fixtures.browser import Visit, register, sign_in
from tests.fixtures.keys_and_servers import ServedKeygate

PAGE_FILES = {
    "/account": "text/html",
    "/account/account.js": "text/javascript",
    "/account/account.css": "text/css",
}


def directives(policy: str) -> dict[str, list[str]]:
    parsed = {}
    for directive in policy.split(";"):
        name, *sources = directive.split()
        parsed[name] = sources
    return parsed


@pytest.mark.parametrize("path", PAGE_FILES)
async def test_every_file_of_the_page_carries_the_security_headers(
    client: httpx.AsyncClient, path: str
):
    response = await client.get(path)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith(PAGE_FILES[path])
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-content-type-options"] == "nosniff"
    policy = response.headers["content-security-policy"]
    assert "unsafe-inline" not in policy
    assert "unsafe-eval" not in policy
    csp = directives(policy)
    assert csp["default-src"] == ["'none'"]
    assert csp["script-src"] == ["'self'"]
    assert csp["style-src"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'none'"]


async def test_only_the_page_s_own_files_are_served(client: httpx.AsyncClient):
    for path in ("/account/index.html", "/account/nothing.js", "/account/%2e%2e%2fsettings.py"):
        assert (await client.get(path)).status_code == 404


async def test_the_page_is_404_when_switched_off(database):
    async with (
        running_app(make_settings(account_page_enabled=False)) as app,
        app.client() as client,
    ):
        for path in PAGE_FILES:
            assert (await client.get(path)).status_code == 404


@pytest.mark.slow  # a real Chromium
async def test_the_page_asks_nothing_of_any_other_origin(visit: Visit, http: httpx.AsyncClient):
    await register(http, "ada")
    page = await visit.open()
    await sign_in(page, "ada")
    await page.locator("#enrol-password").fill(DEFAULT_PASSWORD)
    await page.get_by_role("button", name="Set up an authenticator app").press("Enter")
    await expect(page.get_by_role("img", name="QR code for your authenticator app")).to_be_visible()
    await page.get_by_role("button", name="Sign out").press("Enter")
    await expect(page.locator("#notice")).to_have_text("You are signed out.")

    fetched = [url for url in visit.requests if not url.startswith("data:")]
    assert {url.removeprefix(visit.origin) for url in fetched} >= {
        "/account",
        "/account/account.js",
        "/account/account.css",
        "/token",
        "/users/me/totp",
        "/logout",
    }
    assert all(url.startswith(visit.origin + "/") for url in fetched)
    # The page runs under its own policy: a refused inline script or style would be logged.
    assert visit.console_errors == []


@pytest.mark.slow  # a real Chromium
async def test_the_page_is_usable_360_pixels_wide(
    browser: Browser, server: ServedKeygate, http: httpx.AsyncClient
):
    await register(http, "ada", full_name="Ada " + "Lovelace" * 8)
    context = await browser.new_context(viewport={"width": 360, "height": 740})
    try:
        page = await context.new_page()
        await page.goto(server.url + "/account")
        await sign_in(page, "ada")
        await expect(page.get_by_role("heading", name="Your account")).to_be_visible()

        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= 360
        for name in ("Save profile", "Change password", "Set up an authenticator app"):
            box = await page.get_by_role("button", name=name).bounding_box()
            assert box is not None
            assert box["x"] >= 0
            assert box["x"] + box["width"] <= 360
    finally:
        await context.close()
