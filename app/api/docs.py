"""/docs with Swagger UI's files served by the app itself: it works with no internet.

The page is never framed (a framing site could steer a user's clicks into "Authorize") and
keeps nothing at rest: Swagger UI's persistAuthorization would keep the typed password and the
tokens in localStorage, so it is off, and what an earlier keygate left there is removed."""

from pathlib import Path
from typing import Final

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

SWAGGER_FILES = Path(fastapi_offline.__file__).parent / "static"
STATIC_URL = "/docs-static"
SECURITY_HEADERS: Final = {
    "Content-Security-Policy": "frame-ancestors 'none'; base-uri 'none'; object-src 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}
# keygate has no client secrets: Swagger UI's password flow offers the field (and shows
# `client_secret: ******` once authorised) with no option to leave it out, so it is hidden, with
# the choice of where to send client credentials. Inline, like the page's own start-up script.
KEYGATE_CSS: Final = """\
.auth-container .wrapper:has(> label[for^="client_secret_"]),
.auth-container .wrapper:has(> label[for="password_type"]) {
  display: none;
}
"""
# What persistAuthorization stored under this key before it was turned off.
KEYGATE_JS: Final = 'window.localStorage.removeItem("authorized");\n'


def add_docs(app: FastAPI) -> None:
    app.mount(STATIC_URL, StaticFiles(directory=SWAGGER_FILES), name="docs-static")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        page = get_swagger_ui_html(
            openapi_url="/openapi.json",
            title=f"{app.title} - Swagger UI",
            oauth2_redirect_url="/docs/oauth2-redirect",
            swagger_js_url=f"{STATIC_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{STATIC_URL}/swagger-ui.css",
            swagger_favicon_url=f"{STATIC_URL}/favicon.png",
            swagger_ui_parameters={"persistAuthorization": False},
        )
        html = (
            bytes(page.body)
            .decode()
            .replace(
                "</head>",
                f"<style>\n{KEYGATE_CSS}</style>\n<script>{KEYGATE_JS}</script>\n</head>",
                1,
            )
        )
        return HTMLResponse(html, headers=SECURITY_HEADERS)

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        page = get_swagger_ui_oauth2_redirect_html()
        return HTMLResponse(bytes(page.body).decode(), headers=SECURITY_HEADERS)
