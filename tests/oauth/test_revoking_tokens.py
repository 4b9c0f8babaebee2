"""POST /token/revoke (RFC 7009): always 200, and a revoked token ends its whole session."""

import httpx
import pytest
from jose import jwt

from tests.factories import login, make_user, rotate

ACCESS_TOKEN_TTL_SECONDS = 900


async def revoke(client: httpx.AsyncClient, token: str, hint: str | None = None) -> httpx.Response:
    form = {"token": token}
    if hint is not None:
        form["token_type_hint"] = hint
    return await client.post("/token/revoke", data=form)


async def refresh_error(client: httpx.AsyncClient, refresh_token: str) -> str:
    response = await client.post(
        "/token", data={"grant_type": "refresh_token", "refresh_token": refresh_token}
    )
    assert response.status_code == 400, response.text
    return str(response.json()["error"])


async def me_status(client: httpx.AsyncClient, access_token: str) -> int:
    response = await client.get("/users/me", headers={"Authorization": f"Bearer {access_token}"})
    return response.status_code


@pytest.mark.parametrize("hint", [None, "access_token", "refresh_token"])
async def test_revoking_an_access_token_ends_its_session(client, services, hint):
    await make_user(services)
    tokens = await login(client)
    assert await me_status(client, tokens.access_token) == 200

    response = await revoke(client, tokens.access_token, hint)

    assert response.status_code == 200
    assert await me_status(client, tokens.access_token) == 401
    assert await refresh_error(client, tokens.refresh_token) == "invalid_grant"


@pytest.mark.parametrize("hint", [None, "refresh_token", "access_token"])
async def test_revoking_a_refresh_token_ends_its_session(client, services, hint):
    await make_user(services)
    tokens = await login(client)
    assert await me_status(client, tokens.access_token) == 200

    response = await revoke(client, tokens.refresh_token, hint)

    assert response.status_code == 200
    assert await me_status(client, tokens.access_token) == 401
    assert await refresh_error(client, tokens.refresh_token) == "invalid_grant"


async def test_revoking_a_rotated_refresh_token_ends_the_session_it_belonged_to(client, services):
    await make_user(services)
    rotated = await rotate(client, await login(client))

    assert (await revoke(client, rotated.refresh_token)).status_code == 200

    assert await me_status(client, rotated.access_token) == 401
    assert await refresh_error(client, rotated.refresh_token) == "invalid_grant"


async def test_revoking_an_expired_access_token_still_ends_its_session(client, services, clock):
    await make_user(services)
    tokens = await login(client)
    clock.advance(ACCESS_TOKEN_TTL_SECONDS + 60)

    assert (await revoke(client, tokens.access_token)).status_code == 200

    assert await refresh_error(client, tokens.refresh_token) == "invalid_grant"


async def test_revoking_one_session_leaves_the_users_other_sessions_working(client, services):
    await make_user(services)
    revoked = await login(client)
    kept = await login(client)

    await revoke(client, revoked.access_token)

    assert await me_status(client, kept.access_token) == 200
    refreshed = await client.post(
        "/token", data={"grant_type": "refresh_token", "refresh_token": kept.refresh_token}
    )
    assert refreshed.status_code == 200, refreshed.text


@pytest.mark.parametrize(
    ("token", "hint"),
    [
        ("garbage", None),
        ("garbage", "access_token"),
        ("garbage", "refresh_token"),
        ("garbage", "no_such_hint"),
        ("x" * 43, None),
        ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl", None),
        ("y" * 5000, None),
    ],
    ids=["plain", "access-hint", "refresh-hint", "unknown-hint", "token-sized", "jwt", "huge"],
)
async def test_revoking_an_unknown_token_is_200(client, token, hint):
    response = await revoke(client, token, hint)

    assert response.status_code == 200


async def test_revoking_twice_is_200_both_times(client, services):
    await make_user(services)
    tokens = await login(client)

    assert (await revoke(client, tokens.refresh_token)).status_code == 200
    assert (await revoke(client, tokens.refresh_token)).status_code == 200
    assert (await revoke(client, tokens.access_token)).status_code == 200


async def test_a_forged_access_token_naming_a_session_does_not_end_it(client, services):
    await make_user(services)
    tokens = await login(client)
    claims = jwt.get_unverified_claims(tokens.access_token)
    forged = jwt.encode(
        claims, "an attacker's key, not the service's" + "!" * 20, headers={"typ": "at+jwt"}
    )

    assert (await revoke(client, forged, "access_token")).status_code == 200

    assert await me_status(client, tokens.access_token) == 200
    refreshed = await client.post(
        "/token", data={"grant_type": "refresh_token", "refresh_token": tokens.refresh_token}
    )
    assert refreshed.status_code == 200, refreshed.text
