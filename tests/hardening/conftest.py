"""Fixtures of the hardening tests (docs/contract.md): apps with other settings, clients
that show an unhandled exception as the 500 a real server would send, the answers of a
throttled request, and tokens built byte by byte.

Everything goes through HTTP, the shared fixtures and SQL: no test here imports the service's
own modules, so the tests hold whatever shape the code takes."""

import base64
import hmac
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any, Final

import asyncpg
import httpx
import pytest

from tests.clock import MovableClock
from tests.conftest import (
    RunningApp,
    make_settings,
    no_cookies,
    running_app,
)
from tests.factories import DEFAULT_PASSWORD
from tests.totp.conftest import totp_user  # noqa: F401 (alice with TOTP on, for these tests too)

LOGIN_MAX_FAILURES: Final = 5  # the default, which the test apps keep
LOCKOUT_SECONDS: Final = 300  # LOGIN_LOCKOUT_SECONDS's default
OTP_MAX_FAILURES: Final = 10  # OTP_MAX_FAILURES's default
WRONG: Final = "not the password at all"
TEST_CLIENT: Final = "203.0.113.7"  # the address RunningApp.client() connects from
MFA_OTP_GRANT: Final = "urn:keygate:params:oauth:grant-type:mfa-otp"

StartApp = Callable[..., Awaitable[RunningApp]]


@pytest.fixture
async def start_app(database: asyncpg.Pool, clock: MovableClock) -> AsyncIterator[StartApp]:
    """Starts another app on the test database, Redis and clock with some settings changed
    (`await start_app(login_queue_size=1)`); it stops when the test ends."""
    async with AsyncExitStack() as stack:

        async def start(**overrides: Any) -> RunningApp:
            return await stack.enter_async_context(running_app(make_settings(**overrides), clock))

        yield start


def client_at(app: RunningApp, ip: str = TEST_CLIENT) -> httpx.AsyncClient:
    """A client connecting from `ip` that receives an unhandled exception as a 500 response,
    so a test sees which input broke the service instead of a traceback from httpx."""
    transport = httpx.ASGITransport(app=app.asgi, raise_app_exceptions=False, client=(ip, 40000))
    return httpx.AsyncClient(
        transport=transport, base_url="http://keygate.test", cookies=no_cookies()
    )


def password_form(
    username: str = "alice", password: str = DEFAULT_PASSWORD, *, otp: str | None = None
) -> dict[str, str]:
    form = {"grant_type": "password", "username": username, "password": password}
    if otp is not None:
        form["otp"] = otp
    return form


def mfa_form(mfa_token: str, otp: str) -> dict[str, str]:
    return {"grant_type": MFA_OTP_GRANT, "mfa_token": mfa_token, "otp": otp}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def oauth_error(response: httpx.Response) -> str:
    """The RFC 6749 error code of a /token answer (asserting its shape)."""
    body = response.json()
    assert isinstance(body.get("error_description"), str), response.text
    error: str = body["error"]
    return error


def assert_retry_after(response: httpx.Response, at_most_seconds: int = LOCKOUT_SECONDS) -> None:
    retry_after = response.headers.get("retry-after", "")
    assert retry_after.isdigit(), f"Retry-After {retry_after!r}"
    assert 1 <= int(retry_after) <= at_most_seconds


def assert_token_throttled(response: httpx.Response) -> None:
    """A /token answer of docs/contract.md: 429 too_many_attempts with Retry-After."""
    assert response.status_code == 429, response.text
    assert oauth_error(response) == "too_many_attempts"
    assert_retry_after(response)


def assert_detail_throttled(response: httpx.Response, at_most_seconds: int = LOCKOUT_SECONDS):
    """A 429 outside /token: {"detail": ...} with Retry-After."""
    assert response.status_code == 429, response.text
    assert isinstance(response.json().get("detail"), str), response.text
    assert_retry_after(response, at_most_seconds)


def assert_invalid_grant(response: httpx.Response) -> None:
    assert response.status_code == 400, response.text
    assert oauth_error(response) == "invalid_grant"


# --- tokens built byte by byte ----------------------------------------------------------


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def secret_of_the_test_apps() -> bytes:
    secret = make_settings().jwt_secret
    assert secret is not None
    return secret.get_secret_value().encode()


def compact_jws(header: bytes, payload: bytes, *, signed: bool) -> str:
    """A JWS whose header and payload are exactly these bytes (any bytes, not only JSON);
    `signed` uses HMAC-SHA256 with the test apps' JWT secret, so the payload is read too."""
    signing_input = b64url(header) + "." + b64url(payload)
    key = secret_of_the_test_apps()
    signature = hmac.digest(key, signing_input.encode(), "sha256") if signed else b"sig"
    return signing_input + "." + b64url(signature)


# --- the command line -------------------------------------------------------------------
