"""A TOTP code is accepted once per user and time step, on every instance; a phone whose clock
is one step off either way still logs in, two steps off does not."""

import asyncio

import pytest

from tests.conftest import make_settings, running_app
from tests.factories import DEFAULT_PASSWORD, login, make_user
from tests.fixtures.totp import (
    as_login,
    code_at,
    mfa_exchange,
    mfa_token_for,
    move_to_the_middle_of_a_step,
    password_login,
)


async def test_a_code_that_logged_in_once_is_refused_the_second_time(client, totp_user, clock):
    code = totp_user.code(clock())
    assert (await password_login(client, otp=code)).status_code == 200

    replayed = await password_login(client, otp=code)

    assert replayed.status_code == 400
    assert replayed.json()["error"] == "invalid_grant"


async def test_a_code_used_in_one_step_is_refused_in_the_exchange(client, totp_user, clock):
    code = totp_user.code(clock())
    assert (await password_login(client, otp=code)).status_code == 200
    mfa_token = await mfa_token_for(client)

    replayed = await mfa_exchange(client, mfa_token, code)

    assert replayed.status_code == 400
    assert replayed.json()["error"] == "invalid_grant"


async def test_a_code_used_in_the_exchange_is_refused_in_one_step(client, totp_user, clock):
    code = totp_user.code(clock())
    as_login(await mfa_exchange(client, await mfa_token_for(client), code))

    replayed = await password_login(client, otp=code)

    assert replayed.status_code == 400
    assert replayed.json()["error"] == "invalid_grant"


async def test_the_code_that_confirmed_enrolment_does_not_log_in(client, services, clock):
    await make_user(services)
    session = await login(client)
    move_to_the_middle_of_a_step(clock)
    secret = (
        await client.post(
            "/users/me/totp", headers=session.headers, json={"password": DEFAULT_PASSWORD}
        )
    ).json()["secret"]
    code = code_at(secret, clock())
    confirmed = await client.post(
        "/users/me/totp/confirm", json={"code": code}, headers=session.headers
    )
    assert confirmed.status_code == 200

    replayed = await password_login(client, otp=code)

    assert replayed.status_code == 400
    assert replayed.json()["error"] == "invalid_grant"


async def test_a_code_used_on_one_instance_is_refused_by_another(client, totp_user, clock):
    code = totp_user.code(clock())
    async with running_app(make_settings(), clock) as second, second.client() as other:
        assert (await password_login(client, otp=code)).status_code == 200

        one_step = await password_login(other, otp=code)
        exchanged = await mfa_exchange(other, await mfa_token_for(other), code)

    assert one_step.status_code == 400
    assert one_step.json()["error"] == "invalid_grant"
    assert exchanged.status_code == 400
    assert exchanged.json()["error"] == "invalid_grant"


async def test_the_next_steps_code_logs_in_after_the_current_one(client, totp_user, clock):
    assert (await password_login(client, otp=totp_user.code(clock()))).status_code == 200
    clock.advance(30)

    response = await password_login(client, otp=totp_user.code(clock()))

    assert response.status_code == 200


@pytest.mark.parametrize("drift_seconds", [-30, 30])
async def test_a_code_one_step_off_is_accepted(client, totp_user, clock, drift_seconds):
    response = await password_login(client, otp=totp_user.code(clock() + drift_seconds))

    assert response.status_code == 200


@pytest.mark.parametrize("drift_seconds", [-60, 60])
async def test_a_code_two_steps_off_is_refused(client, totp_user, clock, drift_seconds):
    response = await password_login(client, otp=totp_user.code(clock() + drift_seconds))

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


@pytest.mark.parametrize("drift_seconds", [-60, 60])
async def test_a_code_two_steps_off_does_not_complete_the_exchange(
    client, totp_user, clock, drift_seconds
):
    mfa_token = await mfa_token_for(client)

    response = await mfa_exchange(client, mfa_token, totp_user.code(clock() + drift_seconds))

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"


async def test_of_two_concurrent_logins_with_one_code_only_one_succeeds(client, totp_user, clock):
    code = totp_user.code(clock())

    first, second = await asyncio.gather(
        password_login(client, otp=code), password_login(client, otp=code)
    )

    assert sorted([first.status_code, second.status_code]) == [200, 400]


async def test_of_two_concurrent_exchanges_of_one_mfa_token_only_one_succeeds(
    client, totp_user, clock
):
    mfa_token = await mfa_token_for(client)

    by_code, by_recovery = await asyncio.gather(
        mfa_exchange(client, mfa_token, totp_user.code(clock())),
        mfa_exchange(client, mfa_token, totp_user.recovery_codes[0]),
    )

    assert sorted([by_code.status_code, by_recovery.status_code]) == [200, 400]


async def test_a_code_used_through_redis_is_refused_by_an_instance_without_redis(
    client, totp_user, clock
):
    code = totp_user.code(clock())
    assert (await password_login(client, otp=code)).status_code == 200
    no_redis = make_settings(redis_url=UNREACHABLE_REDIS)
    async with running_app(no_redis, clock) as cut_off, cut_off.client() as other:
        assert (await password_login(other)).status_code == 403  # it does serve logins

        replayed = await password_login(other, otp=code)

    assert replayed.status_code == 400
    assert replayed.json()["error"] == "invalid_grant"


async def test_a_code_used_while_redis_was_unreachable_is_refused_once_redis_is_used(
    client, totp_user, clock
):
    code = totp_user.code(clock())
    no_redis = make_settings(redis_url=UNREACHABLE_REDIS)
    async with running_app(no_redis, clock) as cut_off, cut_off.client() as other:
        assert (await password_login(other, otp=code)).status_code == 200

    replayed = await password_login(client, otp=code)

    assert replayed.status_code == 400
    assert replayed.json()["error"] == "invalid_grant"
