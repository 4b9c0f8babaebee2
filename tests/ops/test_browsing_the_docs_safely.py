"""/docs (docs/contract.md §8): no site can frame it, it keeps no password or token at rest in
the browser, and its Authorize dialog asks for no client secret, since keygate has none."""

import httpx
import pytest
from playwright.async_api import expect

from tests.factories import DEFAULT_PASSWORD
from tests.fixtures.browser import Visit, register

# Swagger UI renders the whole schema first: slow on a busy machine.
RENDER_MS = 30_000


async def test_docs_refuse_to_be_framed(client: httpx.AsyncClient):
    for path in ("/docs", "/docs/oauth2-redirect"):
        response = await client.get(path)

        assert response.status_code == 200
        policy = response.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in [part.strip() for part in policy.split(";")]
        assert response.headers["x-frame-options"] == "DENY"


@pytest.mark.slow  # a real Chromium
async def test_docs_authorise_without_a_client_secret_and_forget_it_on_reload(
    visit: Visit, http: httpx.AsyncClient
):
    await register(http, "docsreader")
    page = visit.page
    page.set_default_timeout(RENDER_MS)
    await page.goto(visit.origin + "/docs")
    await page.get_by_role("button", name="Authorize").first.click()
    dialog = page.locator(".auth-container").filter(has=page.locator("#oauth_username"))
    await expect(dialog.locator("#oauth_username")).to_be_visible(timeout=RENDER_MS)
    await expect(dialog.locator("#client_secret_password")).to_be_hidden(timeout=RENDER_MS)
    await expect(dialog.locator("#password_type")).to_be_hidden(timeout=RENDER_MS)

    await dialog.locator("#oauth_username").fill("docsreader")
    await dialog.locator("#oauth_password").fill(DEFAULT_PASSWORD)
    await dialog.locator("button.modal-btn.authorize").click()
    await expect(page.get_by_role("button", name="Remove authorization")).to_be_visible(
        timeout=RENDER_MS
    )

    await expect(page.get_by_text("client_secret:")).to_be_hidden(timeout=RENDER_MS)
    stored = await page.evaluate("JSON.stringify(Object.assign({}, window.localStorage))")
    assert DEFAULT_PASSWORD not in stored
    assert "access_token" not in stored
    await page.reload()
    await page.get_by_role("button", name="Authorize").first.click()
    await expect(page.locator("#oauth_username")).to_be_visible(timeout=RENDER_MS)
    assert visit.console_errors == []
