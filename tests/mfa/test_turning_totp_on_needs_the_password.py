"""A stolen access token alone cannot turn TOTP on (docs/contract.md, Hardening): POST
/users/me/totp needs the current password, and a wrong one is a failed attempt."""

from tests.factories import DEFAULT_PASSWORD, login, make_user

MAX_FAILURES = 5


async def test_enrolment_without_the_password_is_400(client, services):
    await make_user(services)
    tokens = await login(client)
    response = await client.post("/users/me/totp", headers=tokens.headers)
    assert response.status_code == 400, response.text
    assert "password" in response.json()["detail"]


async def test_enrolment_with_a_wrong_password_is_400_and_starts_nothing(client, services):
    await make_user(services)
    tokens = await login(client)
    wrong = await client.post(
        "/users/me/totp", headers=tokens.headers, json={"password": "not the password"}
    )
    assert wrong.status_code == 400, wrong.text
    confirm = await client.post(
        "/users/me/totp/confirm", headers=tokens.headers, json={"code": "123456"}
    )
    assert confirm.status_code == 409, confirm.text
    assert "no TOTP enrolment" in confirm.json()["detail"]


async def test_wrong_passwords_at_enrolment_count_toward_the_lockout(client, services):
    await make_user(services)
    tokens = await login(client)
    for _ in range(MAX_FAILURES):
        response = await client.post(
            "/users/me/totp", headers=tokens.headers, json={"password": "not the password"}
        )
        assert response.status_code == 400, response.text
    locked = await client.post(
        "/users/me/totp", headers=tokens.headers, json={"password": DEFAULT_PASSWORD}
    )
    assert locked.status_code == 429, locked.text
    assert int(locked.headers["retry-after"]) >= 1
    login_form = {"grant_type": "password", "username": "alice", "password": DEFAULT_PASSWORD}
    assert (await client.post("/token", data=login_form)).status_code == 429
