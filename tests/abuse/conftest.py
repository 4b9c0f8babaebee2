"""Fixtures of the abuse tests: apps with other settings (a dead Redis, trusted proxies, a
costlier bcrypt), a signed-in user and admin, and the /token form."""

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

import asyncpg
import pyotp
import pytest

from tests.clock import MovableClock
from tests.conftest import RunningApp, make_settings, running_app
from tests.factories import DEFAULT_PASSWORD, Login, login, make_user

# A closed port: connecting fails at once, a real fault rather than a mock.
UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"

StartApp = Callable[..., Awaitable[RunningApp]]


def password_form(username: str = "alice", password: str = DEFAULT_PASSWORD) -> dict[str, str]:
    return {"grant_type": "password", "username": username, "password": password}


async def enable_totp(client, tokens: Login, clock: MovableClock) -> pyotp.TOTP:
    """Enrols and confirms TOTP for the signed-in user; returns their authenticator."""
    enrolment = await client.post(
        "/users/me/totp", headers=tokens.headers, json={"password": DEFAULT_PASSWORD}
    )
    assert enrolment.status_code == 201, enrolment.text
    secret = enrolment.json()["secret"]
    code = pyotp.TOTP(secret).at(clock())
    confirmed = await client.post(
        "/users/me/totp/confirm", json={"code": code}, headers=tokens.headers
    )
    assert confirmed.status_code == 200, confirmed.text
    return pyotp.TOTP(secret)


def a_wrong_code(totp: pyotp.TOTP, now: float) -> str:
    """Six digits that match no time step an authenticator could be on now."""
    near = {totp.at(now + step * 30) for step in (-2, -1, 0, 1, 2)}
    return next(code for code in ("000000", "111111", "222222", "333333") if code not in near)


@pytest.fixture
async def start_app(database: asyncpg.Pool, clock: MovableClock) -> AsyncIterator[StartApp]:
    """Starts another app on the test database and clock with some settings changed
    (`await start_app(trusted_proxies="203.0.113.7")`); it stops when the test ends."""
    async with AsyncExitStack() as stack:

        async def start(**overrides: Any) -> RunningApp:
            return await stack.enter_async_context(running_app(make_settings(**overrides), clock))

        yield start


@pytest.fixture
async def admin(client, services) -> Login:
    await make_user(services, "root", is_admin=True)
    return await login(client, "root")


@pytest.fixture
async def alice(client, services) -> Login:
    await make_user(services, "alice")
    return await login(client, "alice")
