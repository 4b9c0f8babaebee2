"""Fixtures of the TOTP tests: a user who enrolled through the API, and codes computed the way
an authenticator app computes them (pyotp, straight from the secret the user was shown), never
through the service's own helpers."""

from dataclasses import dataclass

import httpx
import pyotp
import pytest

from tests.clock import MovableClock
from tests.factories import DEFAULT_PASSWORD, Login, login, make_user

STEP_SECONDS = 30
MFA_OTP_GRANT = "urn:keygate:params:oauth:grant-type:mfa-otp"


def code_at(secret: str, moment: float) -> str:
    """The 6-digit code an authenticator app shows at `moment`."""
    return pyotp.TOTP(secret).at(moment)


def wrong_code(secret: str, moment: float) -> str:
    """A 6-digit code that is none of the codes of the steps around `moment`."""
    near = {code_at(secret, moment + drift) for drift in range(-90, 91, STEP_SECONDS)}
    return next(c for c in (f"{n:06d}" for n in range(1_000_000)) if c not in near)


def move_to_the_middle_of_a_step(clock: MovableClock) -> None:
    """Step boundaries are 15 s away, so a code computed now is checked in the same step."""
    clock.advance((STEP_SECONDS / 2 - clock() % STEP_SECONDS) % STEP_SECONDS)


def password_form(
    username: str = "alice",
    password: str = DEFAULT_PASSWORD,
    *,
    otp: str | None = None,
    scope: str | None = None,
) -> dict[str, str]:
    form = {"grant_type": "password", "username": username, "password": password}
    if otp is not None:
        form["otp"] = otp
    if scope is not None:
        form["scope"] = scope
    return form


async def password_login(
    client: httpx.AsyncClient,
    username: str = "alice",
    password: str = DEFAULT_PASSWORD,
    *,
    otp: str | None = None,
    scope: str | None = None,
) -> httpx.Response:
    return await client.post("/token", data=password_form(username, password, otp=otp, scope=scope))


async def mfa_exchange(client: httpx.AsyncClient, mfa_token: str, otp: str) -> httpx.Response:
    return await client.post(
        "/token", data={"grant_type": MFA_OTP_GRANT, "mfa_token": mfa_token, "otp": otp}
    )


async def mfa_token_for(client: httpx.AsyncClient, scope: str | None = None) -> str:
    """The mfa_token of alice's password login without a code."""
    challenged = await password_login(client, scope=scope)
    assert challenged.status_code == 403, challenged.text
    token: str = challenged.json()["mfa_token"]
    return token


def as_login(response: httpx.Response) -> Login:
    assert response.status_code == 200, response.text
    body = response.json()
    return Login(body["access_token"], body["refresh_token"], body["scope"])


async def totp_enabled(client: httpx.AsyncClient, tokens: Login) -> bool:
    me = await client.get("/users/me", headers=tokens.headers)
    assert me.status_code == 200, me.text
    enabled: bool = me.json()["totp_enabled"]
    return enabled


@dataclass(frozen=True)
class Enabled:
    secret: str
    recovery_codes: list[str]


async def enable_totp(client: httpx.AsyncClient, tokens: Login, clock: MovableClock) -> Enabled:
    """Enrols and confirms with the code an authenticator app would show now."""
    begun = await client.post(
        "/users/me/totp", headers=tokens.headers, json={"password": DEFAULT_PASSWORD}
    )
    assert begun.status_code == 201, begun.text
    secret = begun.json()["secret"]
    confirmed = await client.post(
        "/users/me/totp/confirm", json={"code": code_at(secret, clock())}, headers=tokens.headers
    )
    assert confirmed.status_code == 200, confirmed.text
    return Enabled(secret, confirmed.json()["recovery_codes"])


@dataclass(frozen=True)
class TotpUser:
    username: str
    password: str
    secret: str
    recovery_codes: list[str]
    session: Login  # opened before enrolment; the session that manages /users/me/totp

    def code(self, moment: float) -> str:
        return code_at(self.secret, moment)


@pytest.fixture
async def totp_user(client, services, clock) -> TotpUser:
    """alice with TOTP on; the clock then stands in the middle of a step three steps after the
    one whose code confirmed the enrolment, so that code's step is out of every test's way."""
    await make_user(services)
    session = await login(client)
    move_to_the_middle_of_a_step(clock)
    enabled = await enable_totp(client, session, clock)
    clock.advance(3 * STEP_SECONDS)
    return TotpUser("alice", DEFAULT_PASSWORD, enabled.secret, enabled.recovery_codes, session)
