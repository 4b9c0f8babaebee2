"""/account: a page where people who log in manage their own account. It is a plain client of
the API (it holds its tokens in memory and calls /token, /users/me and /logout like any other
client), served by the app itself with its script and style, so it works with no internet."""

from pathlib import Path
from typing import Final

from fastapi import FastAPI
from fastapi.responses import FileResponse

from app.core.errors import NotFound

STATIC_DIR: Final = Path(__file__).parent / "static" / "account"
PAGE_URL: Final = "/account"

# Nothing inline and nothing from elsewhere: scripts, styles and API calls come from this
# origin only. data: images are the QR code, drawn from the enrolment's SVG text; form-action
# 'none' keeps a form submitted without the script (passwords in a URL) from ever leaving.
CONTENT_SECURITY_POLICY: Final = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)
SECURITY_HEADERS: Final = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}
# The page's files, closed: a name not listed here is 404 whatever lies in the folder.
ASSETS: Final = {
    "account.js": "text/javascript; charset=utf-8",
    "account.css": "text/css; charset=utf-8",
    "recovery.js": "text/javascript; charset=utf-8",
}
# The pages that the links of recovery messages open: one file, which shows the part its path
# names; it reads the token from the URL fragment (docs/contract.md, Account recovery).
RECOVERY_PAGES: Final = frozenset({"reset", "verify"})


def _file(name: str, media_type: str) -> FileResponse:
    return FileResponse(STATIC_DIR / name, media_type=media_type, headers=SECURITY_HEADERS)


def add_account_page(app: FastAPI) -> None:
    @app.get(PAGE_URL, include_in_schema=False)
    async def account_page() -> FileResponse:
        return _file("index.html", "text/html; charset=utf-8")

    @app.get(PAGE_URL + "/{asset}", include_in_schema=False)
    async def account_asset(asset: str) -> FileResponse:
        if asset in RECOVERY_PAGES:
            return _file("recovery.html", "text/html; charset=utf-8")
        media_type = ASSETS.get(asset)
        if media_type is None:
            raise NotFound
        return _file(asset, media_type)
