"""POST /users/me/totp/disable: with the password and a code TOTP goes off at once, and every
other session of the user ends."""

from tests.conftest import make_settings, running_app
from tests.factories import DEFAULT_PASSWORD, basic, login, make_user
from tests.fixtures.totp import (
    as_login,
    password_login,
    totp_enabled,
    wrong_code,
)

WRONG_PASSWORD = "not the password at all"


async def disable(client, totp_user, *, password=None, code):
    return await client.post(
        "/users/me/totp/disable",
        json={"password": password or totp_user.password, "code": code},
        headers=totp_user.session.headers,
    )


async def test_the_password_and_a_code_turn_totp_off(client, totp_user, clock):
    response = await disable(client, totp_user, code=totp_user.code(clock()))

    assert response.status_code == 204
    assert await totp_enabled(client, totp_user.session) is False


async def test_a_recovery_code_can_turn_totp_off(client, totp_user):
    response = await disable(client, totp_user, code=totp_user.recovery_codes[0])

    assert response.status_code == 204
    assert await totp_enabled(client, totp_user.session) is False


async def test_after_disabling_the_password_alone_logs_in_again(client, totp_user, clock):
    await password_login(client)  # alice's record, TOTP on, is in the auth cache
    assert (await disable(client, totp_user, code=totp_user.code(clock()))).status_code == 204

    response = await password_login(client)

    assert response.status_code == 200
    assert (
        await client.get("/users/me", headers=basic("alice", totp_user.password))
    ).status_code == 200


async def test_after_disabling_another_instance_logs_in_without_a_code(client, totp_user, clock):
    async with running_app(make_settings(), clock) as second, second.client() as other:
        assert (await password_login(other)).status_code == 403
        assert (await disable(client, totp_user, code=totp_user.code(clock()))).status_code == 204

        response = await password_login(other)

    assert response.status_code == 200


async def test_disabling_ends_the_other_sessions_but_not_the_current_one(client, totp_user, clock):
    other = as_login(await password_login(client, otp=totp_user.code(clock())))
    assert (await client.get("/users/me", headers=other.headers)).status_code == 200
    clock.advance(30)

    assert (await disable(client, totp_user, code=totp_user.code(clock()))).status_code == 204

    assert (await client.get("/users/me", headers=other.headers)).status_code == 401
    refreshed = await client.post(
        "/token", data={"grant_type": "refresh_token", "refresh_token": other.refresh_token}
    )
    assert refreshed.json()["error"] == "invalid_grant"
    assert (await client.get("/users/me", headers=totp_user.session.headers)).status_code == 200


async def test_a_wrong_password_leaves_totp_on(client, totp_user, clock):
    response = await disable(
        client, totp_user, password=WRONG_PASSWORD, code=totp_user.code(clock())
    )

    assert response.status_code == 400
    assert await totp_enabled(client, totp_user.session) is True
    assert (await password_login(client)).status_code == 403


async def test_a_wrong_code_leaves_totp_on(client, totp_user, clock):
    response = await disable(client, totp_user, code=wrong_code(totp_user.secret, clock()))

    assert response.status_code == 400
    assert await totp_enabled(client, totp_user.session) is True
    assert (await password_login(client)).status_code == 403


async def test_a_code_already_used_to_log_in_does_not_disable(client, totp_user, clock):
    code = totp_user.code(clock())
    assert (await password_login(client, otp=code)).status_code == 200

    response = await disable(client, totp_user, code=code)

    assert response.status_code == 400
    assert await totp_enabled(client, totp_user.session) is True


async def test_disabling_when_totp_is_off_is_409(client, services):
    await make_user(services)
    tokens = await login(client)

    response = await client.post(
        "/users/me/totp/disable",
        json={"password": DEFAULT_PASSWORD, "code": "123456"},
        headers=tokens.headers,
    )

    assert response.status_code == 409


async def test_after_disabling_totp_can_be_enrolled_again(client, totp_user, clock):
    assert (await disable(client, totp_user, code=totp_user.code(clock()))).status_code == 204

    response = await client.post(
        "/users/me/totp", headers=totp_user.session.headers, json={"password": DEFAULT_PASSWORD}
    )

    assert response.status_code == 201
    assert response.json()["secret"] != totp_user.secret
