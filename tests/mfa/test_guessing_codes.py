"""Wrong codes are failed attempts: they count toward the login throttle, and
LOGIN_MAX_FAILURES of them kill an mfa_token."""

from tests.fixtures.totp import mfa_exchange, mfa_token_for, password_login, wrong_code

MAX_FAILURES = 5  # LOGIN_MAX_FAILURES's default, which the test app keeps
LOCKOUT_SECONDS = 300  # LOGIN_LOCKOUT_SECONDS's default


async def test_wrong_one_step_codes_lock_the_user_out_from_that_address(client, totp_user, clock):
    for _ in range(MAX_FAILURES):
        refused = await password_login(client, otp=wrong_code(totp_user.secret, clock()))
        assert refused.status_code == 400
        assert refused.json()["error"] == "invalid_grant"

    locked = await password_login(client, otp=totp_user.code(clock()))

    assert locked.status_code == 429
    assert locked.json()["error"] == "too_many_attempts"
    assert int(locked.headers["retry-after"]) > 0


async def test_the_lockout_from_wrong_codes_lifts_after_the_lockout_window(
    client, totp_user, clock
):
    for _ in range(MAX_FAILURES):
        await password_login(client, otp=wrong_code(totp_user.secret, clock()))
    assert (await password_login(client, otp=totp_user.code(clock()))).status_code == 429

    clock.advance(LOCKOUT_SECONDS + 1)

    assert (await password_login(client, otp=totp_user.code(clock()))).status_code == 200


async def test_wrong_codes_in_the_exchange_lock_the_user_out_from_that_address(
    client, totp_user, clock
):
    for _ in range(MAX_FAILURES):
        mfa_token = await mfa_token_for(client)
        refused = await mfa_exchange(client, mfa_token, wrong_code(totp_user.secret, clock()))
        assert refused.json()["error"] == "invalid_grant"

    locked = await password_login(client, otp=totp_user.code(clock()))

    assert locked.status_code == 429
    assert int(locked.headers["retry-after"]) > 0


async def test_max_failures_wrong_codes_kill_the_mfa_token(app, totp_user, clock):
    # Each wrong code comes from its own address, so no address is throttled: what refuses
    # the right code at the end is the dead mfa_token alone.
    async with app.client("198.51.100.1") as owner:
        mfa_token = await mfa_token_for(owner)
        await guess_from_many_addresses(app, mfa_token, totp_user, clock, MAX_FAILURES)

        response = await mfa_exchange(owner, mfa_token, totp_user.code(clock()))

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


async def test_fewer_than_max_failures_wrong_codes_leave_the_mfa_token_alive(app, totp_user, clock):
    async with app.client("198.51.100.1") as owner:
        mfa_token = await mfa_token_for(owner)
        await guess_from_many_addresses(app, mfa_token, totp_user, clock, MAX_FAILURES - 1)

        response = await mfa_exchange(owner, mfa_token, totp_user.code(clock()))

    assert response.status_code == 200


async def guess_from_many_addresses(app, mfa_token, totp_user, clock, guesses: int) -> None:
    for n in range(guesses):
        async with app.client(f"198.51.100.{n + 1}") as guesser:
            refused = await mfa_exchange(guesser, mfa_token, wrong_code(totp_user.secret, clock()))
        assert refused.status_code == 400
        assert refused.json()["error"] == "invalid_grant"
