"""Logging in as a user with TOTP: 403 mfa_required with an mfa_token, the mfa-otp exchange,
or the code in the password grant itself (one step)."""

from tests.fixtures.totp import (
    as_login,
    mfa_exchange,
    mfa_token_for,
    password_login,
    wrong_code,
)


async def test_the_password_alone_gets_mfa_required_with_an_mfa_token(client, totp_user):
    response = await password_login(client)

    assert response.status_code == 403
    body = response.json()
    assert set(body) == {"error", "error_description", "mfa_token"}
    assert body["error"] == "mfa_required"
    assert body["error_description"]
    assert body["mfa_token"]
    assert "access_token" not in body
    assert response.headers["cache-control"] == "no-store"


async def test_a_wrong_password_gets_invalid_grant_not_an_mfa_token(client, totp_user):
    response = await password_login(client, password="not the password at all")

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    assert "mfa_token" not in response.json()


async def test_the_mfa_token_and_a_valid_code_exchange_for_tokens(client, totp_user, clock):
    mfa_token = await mfa_token_for(client)

    response = await mfa_exchange(client, mfa_token, totp_user.code(clock()))

    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["scope"] == "me products:read"
    assert response.headers["cache-control"] == "no-store"
    me = await client.get("/users/me", headers=as_login(response).headers)
    assert me.status_code == 200
    assert me.json()["username"] == "alice"


async def test_the_password_and_a_valid_code_log_in_in_one_step(client, totp_user, clock):
    response = await password_login(client, otp=totp_user.code(clock()))

    assert response.status_code == 200
    tokens = as_login(response)
    assert (await client.get("/users/me", headers=tokens.headers)).status_code == 200


async def test_a_wrong_code_in_one_step_is_invalid_grant_like_a_wrong_password(
    client, totp_user, clock
):
    wrong_password = await password_login(client, password="not the password at all")

    response = await password_login(client, otp=wrong_code(totp_user.secret, clock()))

    assert response.status_code == 400
    assert response.json() == wrong_password.json()
    assert response.json()["error"] == "invalid_grant"


async def test_a_right_code_with_a_wrong_password_is_invalid_grant(client, totp_user, clock):
    response = await password_login(
        client, password="not the password at all", otp=totp_user.code(clock())
    )

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


async def test_a_wrong_code_in_the_exchange_is_invalid_grant(client, totp_user, clock):
    mfa_token = await mfa_token_for(client)

    response = await mfa_exchange(client, mfa_token, wrong_code(totp_user.secret, clock()))

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


async def test_an_mfa_token_survives_one_wrong_code(client, totp_user, clock):
    mfa_token = await mfa_token_for(client)
    await mfa_exchange(client, mfa_token, wrong_code(totp_user.secret, clock()))

    response = await mfa_exchange(client, mfa_token, totp_user.code(clock()))

    assert response.status_code == 200


async def test_an_mfa_token_is_single_use(client, totp_user, clock):
    mfa_token = await mfa_token_for(client)
    assert (await mfa_exchange(client, mfa_token, totp_user.code(clock()))).status_code == 200
    clock.advance(30)

    again = await mfa_exchange(client, mfa_token, totp_user.code(clock()))

    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"
    # The fresh code itself was good: it still logs in by the password grant.
    assert (await password_login(client, otp=totp_user.code(clock()))).status_code == 200


async def test_an_mfa_token_still_works_just_before_five_minutes(client, totp_user, clock):
    mfa_token = await mfa_token_for(client)
    clock.advance(299)

    response = await mfa_exchange(client, mfa_token, totp_user.code(clock()))

    assert response.status_code == 200


async def test_an_mfa_token_expires_after_five_minutes(client, totp_user, clock):
    mfa_token = await mfa_token_for(client)
    clock.advance(301)

    response = await mfa_exchange(client, mfa_token, totp_user.code(clock()))

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


async def test_an_unknown_mfa_token_is_invalid_grant(client, totp_user, clock):
    response = await mfa_exchange(client, "no-such-mfa-token", totp_user.code(clock()))

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


async def test_the_exchanged_tokens_keep_the_scope_asked_for_at_login(client, totp_user, clock):
    mfa_token = await mfa_token_for(client, scope="me")

    response = await mfa_exchange(client, mfa_token, totp_user.code(clock()))

    tokens = as_login(response)
    assert tokens.scope == "me"
    products = await client.get("/products", headers=tokens.headers)
    assert products.status_code == 403


async def test_one_step_login_keeps_the_scope_asked_for(client, totp_user, clock):
    response = await password_login(client, otp=totp_user.code(clock()), scope="products:read")

    assert as_login(response).scope == "products:read"


async def test_a_scope_the_user_does_not_hold_is_refused_before_any_mfa_token(client, totp_user):
    response = await password_login(client, scope="admin")

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"
    assert "mfa_token" not in response.json()


async def test_an_mfa_token_is_not_a_refresh_token(client, totp_user):
    mfa_token = await mfa_token_for(client)

    response = await client.post(
        "/token", data={"grant_type": "refresh_token", "refresh_token": mfa_token}
    )

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


async def test_an_mfa_token_is_not_a_bearer_token(client, totp_user):
    mfa_token = await mfa_token_for(client)

    response = await client.get("/users/me", headers={"Authorization": f"Bearer {mfa_token}"})

    assert response.status_code == 401


async def test_an_mfa_token_exchange_without_a_code_is_invalid_request(client, totp_user):
    mfa_token = await mfa_token_for(client)

    response = await client.post(
        "/token",
        data={"grant_type": "urn:keygate:params:oauth:grant-type:mfa-otp", "mfa_token": mfa_token},
    )

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
