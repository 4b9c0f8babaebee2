"""Each kind of token works only as itself: a refresh token is no access token, and neither
an access token nor an mfa_token is a refresh token."""

import httpx
import pyotp

from tests.clock import MovableClock
from tests.factories import DEFAULT_PASSWORD, Login, login, make_user


async def refresh(client: httpx.AsyncClient, refresh_token: str) -> httpx.Response:
    return await client.post(
        "/token", data={"grant_type": "refresh_token", "refresh_token": refresh_token}
    )


async def enable_totp(client: httpx.AsyncClient, tokens: Login, clock: MovableClock) -> None:
    enrolment = await client.post(
        "/users/me/totp", headers=tokens.headers, json={"password": DEFAULT_PASSWORD}
    )
    assert enrolment.status_code == 201, enrolment.text
    code = pyotp.TOTP(enrolment.json()["secret"]).at(clock())
    confirmed = await client.post(
        "/users/me/totp/confirm", json={"code": code}, headers=tokens.headers
    )
    assert confirmed.status_code == 200, confirmed.text


async def test_a_refresh_token_is_not_an_access_token(client, services):
    await make_user(services)
    tokens = await login(client)

    response = await client.get(
        "/users/me", headers={"Authorization": f"Bearer {tokens.refresh_token}"}
    )

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    assert (await refresh(client, tokens.refresh_token)).status_code == 200


async def test_an_access_token_is_not_a_refresh_token(client, services):
    await make_user(services)
    tokens = await login(client)

    response = await refresh(client, tokens.access_token)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


async def test_an_mfa_token_is_not_a_refresh_token(client, services, clock):
    await make_user(services)
    await enable_totp(client, await login(client), clock)
    challenge = await client.post(
        "/token",
        data={"grant_type": "password", "username": "alice", "password": DEFAULT_PASSWORD},
    )
    assert challenge.status_code == 403, challenge.text
    mfa_token = challenge.json()["mfa_token"]

    response = await refresh(client, mfa_token)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    refused = await client.get("/users/me", headers={"Authorization": f"Bearer {mfa_token}"})
    assert refused.status_code == 401
