"""A key rotation logs nobody out: tokens of the retired key, listed in
JWT_PREVIOUS_PUBLIC_KEY_FILES, keep working while new tokens carry the new key's kid."""

import jwt
import pytest

from tests.factories import Login, login, make_user
from tests.fixtures.keys_and_servers import (
    ALGORITHMS,
    KeyFile,
    StartApp,
    client_of,
    fetch_jwks,
    key_settings,
    verify_with_jwks,
)


async def me_status(client, tokens: Login) -> int:
    return (await client.get("/users/me", headers=tokens.headers)).status_code


async def login_before_the_rotation(start_app: StartApp, key: KeyFile) -> Login:
    """Alice's session on an instance that signs with `key`, the key about to be retired."""
    before = await start_app(**key_settings(key))
    await make_user(before.services)
    async with client_of(before) as client:
        return await login(client)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
async def test_after_a_rotation_old_tokens_still_work_and_new_ones_carry_the_new_kid(
    start_app, keys, algorithm
):
    key_a, key_b = keys(algorithm, "a"), keys(algorithm, "b")
    old = await login_before_the_rotation(start_app, key_a)
    assert jwt.get_unverified_header(old.access_token)["kid"] == key_a.kid

    after = await start_app(**key_settings(key_b, key_a))
    async with client_of(after) as client:
        assert await me_status(client, old) == 200
        new = await login(client)
        jwks = await fetch_jwks(client)

    assert jwt.get_unverified_header(new.access_token)["kid"] == key_b.kid
    assert {k["kid"] for k in jwks["keys"]} == {key_a.kid, key_b.kid}
    # A resource server holding the JWKS after the rotation verifies both generations.
    verify_with_jwks(old.access_token, jwks, algorithm=algorithm)
    verify_with_jwks(new.access_token, jwks, algorithm=algorithm)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
async def test_refreshing_an_old_session_after_a_rotation_signs_with_the_new_key(
    start_app, keys, algorithm
):
    key_a, key_b = keys(algorithm, "a"), keys(algorithm, "b")
    old = await login_before_the_rotation(start_app, key_a)

    after = await start_app(**key_settings(key_b, key_a))
    async with client_of(after) as client:
        refreshed = await client.post(
            "/token", data={"grant_type": "refresh_token", "refresh_token": old.refresh_token}
        )

    assert refreshed.status_code == 200, refreshed.text
    assert jwt.get_unverified_header(refreshed.json()["access_token"])["kid"] == key_b.kid


@pytest.mark.parametrize("algorithm", ALGORITHMS)
async def test_an_instance_without_the_retired_key_refuses_its_tokens(start_app, keys, algorithm):
    key_a, key_b = keys(algorithm, "a"), keys(algorithm, "b")
    old = await login_before_the_rotation(start_app, key_a)

    retired = await start_app(**key_settings(key_b))
    async with client_of(retired) as client:
        refused = await client.get("/users/me", headers=old.headers)
        jwks = await fetch_jwks(client)

    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    assert [k["kid"] for k in jwks["keys"]] == [key_b.kid]
