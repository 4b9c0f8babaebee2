"""Checks of the current password are failed attempts of that user when wrong
(docs/contract.md): POST /users/me/password and POST /users/me/totp/disable become 429
after LOGIN_MAX_FAILURES within the window, even when the right password comes next, so a
stolen access token is no way to guess the password at leisure."""

import asyncio

from tests.factories import DEFAULT_PASSWORD, login, make_user
from tests.fixtures.attacks import (
    LOGIN_MAX_FAILURES,
    WRONG,
    assert_detail_throttled,
    assert_token_throttled,
    client_at,
    password_form,
)
from tests.fixtures.totp import wrong_code

NEW_PASSWORD = "a brand new passphrase"


def change(current: str) -> dict[str, str]:
    return {"current_password": current, "new_password": NEW_PASSWORD}


async def test_wrong_current_passwords_make_even_the_right_one_429(client, services):
    await make_user(services, "alice")
    tokens = await login(client)
    for attempt in range(LOGIN_MAX_FAILURES):
        response = await client.post(
            "/users/me/password", json=change(WRONG), headers=tokens.headers
        )
        assert response.status_code == 400, (attempt, response.text)
    response = await client.post(
        "/users/me/password", json=change(DEFAULT_PASSWORD), headers=tokens.headers
    )
    assert_detail_throttled(response)


async def test_a_throttled_password_change_leaves_the_password_as_it_was(
    client, services, database
):
    await make_user(services, "alice")
    tokens = await login(client)
    for _ in range(LOGIN_MAX_FAILURES):
        await client.post("/users/me/password", json=change(WRONG), headers=tokens.headers)
    await client.post("/users/me/password", json=change(DEFAULT_PASSWORD), headers=tokens.headers)
    # Checked by PostgreSQL itself, so that no lockout stands in the way of the answer.
    still_old = await database.fetchval(
        "SELECT crypt($1, password_hash) = password_hash FROM users WHERE username = 'alice'",
        DEFAULT_PASSWORD,
    )
    assert still_old is True


async def test_wrong_current_passwords_count_as_failed_logins_of_that_user(client, services):
    await make_user(services, "alice")
    tokens = await login(client)
    for _ in range(LOGIN_MAX_FAILURES):
        await client.post("/users/me/password", json=change(WRONG), headers=tokens.headers)
    assert_token_throttled(await client.post("/token", data=password_form()))


async def test_concurrent_wrong_current_passwords_get_at_most_login_max_failures_checks(
    start_app,
):
    # A patient Redis: a call timed out on a loaded machine would count the rest in the
    # PostgreSQL fallback, a window of its own (see the README's Security section).
    app = await start_app(login_queue_size=64, redis_timeout_seconds=2.0)
    await make_user(app.services, "alice")
    async with client_at(app) as client:
        tokens = await login(client)
        responses = await asyncio.gather(
            *(
                client.post("/users/me/password", json=change(WRONG), headers=tokens.headers)
                for _ in range(20)
            )
        )
    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {400, 429}, statuses
    assert statuses.count(400) <= LOGIN_MAX_FAILURES, statuses


async def test_wrong_passwords_on_totp_disable_make_even_the_right_one_429(
    client, totp_user, clock
):
    wrong = wrong_code(totp_user.secret, clock())
    headers = totp_user.session.headers
    for attempt in range(LOGIN_MAX_FAILURES):
        response = await client.post(
            "/users/me/totp/disable", json={"password": WRONG, "code": wrong}, headers=headers
        )
        assert response.status_code == 400, (attempt, response.text)
    # A recovery code: right, unused, and in no time step a wrong attempt could have used.
    right = {"password": DEFAULT_PASSWORD, "code": totp_user.recovery_codes[0]}
    response = await client.post("/users/me/totp/disable", json=right, headers=headers)
    assert_detail_throttled(response)
    me = await client.get("/users/me", headers=headers)
    assert me.json()["totp_enabled"] is True
