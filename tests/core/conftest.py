"""Fixtures of the core-service tests: a response recorder that fails any test whose responses
leak a password hash, extra apps with other settings, and hand-made JWTs."""

import base64
import hmac
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

import asyncpg
import httpx
import pytest

from tests.clock import MovableClock
from tests.conftest import make_settings, running_app

# bcrypt hash prefixes: none may ever appear in a response body.
HASH_MARKERS = ("$2a$", "$2b$", "$2y$")
SERVER_TIMING = re.compile(r'^auth;desc="(cache|db)";dur=\d+(\.\d+)?$')


def signing_secret() -> str:
    secret = make_settings().jwt_secret
    assert secret is not None
    return secret.get_secret_value()


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def jws(
    header: dict[str, Any],
    claims: dict[str, Any],
    *,
    secret: str | None = None,
    digest: str = "sha256",
) -> str:
    """A compact JWS made by hand, so a test controls every header field and the signature.
    With `secret=None` the signature is empty (what `alg: none` tokens carry)."""
    signing_input = (
        _b64url(json.dumps(header).encode()) + "." + _b64url(json.dumps(claims).encode())
    )
    signature = b""
    if secret is not None:
        signature = hmac.digest(secret.encode(), signing_input.encode(), digest)
    return signing_input + "." + _b64url(signature)


def token_parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    header, payload, _ = token.split(".")
    return json.loads(_b64url_decode(header)), json.loads(_b64url_decode(payload))


class ResponseRecorder:
    """Keeps every response an instrumented client received during one test."""

    def __init__(self) -> None:
        self.responses: list[tuple[str, str, int, str]] = []

    async def record(self, response: httpx.Response) -> None:
        await response.aread()
        request = response.request
        self.responses.append(
            (request.method, str(request.url), response.status_code, response.text)
        )

    def attach(self, client: httpx.AsyncClient) -> None:
        hooks = client.event_hooks
        client.event_hooks = {
            "request": list(hooks["request"]),
            "response": [*hooks["response"], self.record],
        }

    def detach(self, client: httpx.AsyncClient) -> None:
        hooks = client.event_hooks
        client.event_hooks = {
            "request": list(hooks["request"]),
            "response": [h for h in hooks["response"] if h != self.record],
        }

    def hash_leaks(self) -> list[str]:
        return [
            f"{method} {url} -> {status}"
            for method, url, status, text in self.responses
            if any(marker in text for marker in HASH_MARKERS)
        ]


@pytest.fixture(autouse=True)
async def responses(client: httpx.AsyncClient) -> AsyncIterator[ResponseRecorder]:
    """Every test of tests/core also checks that no response it saw contained a hash."""
    recorder = ResponseRecorder()
    recorder.attach(client)
    try:
        yield recorder
    finally:
        recorder.detach(client)
    leaks = recorder.hash_leaks()
    assert not leaks, f"responses containing a password hash: {leaks}"


StartApp = Callable[..., Awaitable[httpx.AsyncClient]]


@pytest.fixture
async def start_app(
    database: asyncpg.Pool, clock: MovableClock, responses: ResponseRecorder
) -> AsyncIterator[StartApp]:
    """Starts another app on the test database and Redis with some settings changed
    (`start_app(registration_open=False)`) and returns a client for it."""
    async with AsyncExitStack() as stack:

        async def start(**overrides: Any) -> httpx.AsyncClient:
            running = await stack.enter_async_context(
                running_app(make_settings(**overrides), clock)
            )
            other = await stack.enter_async_context(running.client())
            responses.attach(other)
            return other

        yield start
