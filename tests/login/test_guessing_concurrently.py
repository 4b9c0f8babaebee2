"""Counted before checked (docs/contract.md): an attempt takes its place in the window
before its password or code is checked, so N guesses sent at once get no more checks than the
window allows; and wrong second factors of one user, over every mfa_token, the one-step `otp`
and every address, stop at OTP_MAX_FAILURES."""

import asyncio
from contextlib import AsyncExitStack

from tests.factories import DEFAULT_PASSWORD, basic, login, make_user
from tests.fixtures.attacks import (
    LOCKOUT_SECONDS,
    LOGIN_MAX_FAILURES,
    OTP_MAX_FAILURES,
    WRONG,
    assert_token_throttled,
    client_at,
    mfa_form,
    oauth_error,
    password_form,
)
from tests.fixtures.totp import STEP_SECONDS, mfa_token_for, wrong_code

GUESSES = 20
# Room for every guess in the login queue, so that none is turned away with 503 before the
# throttle has had its say; and time enough for Redis on a loaded machine, so that no call
# times out into the PostgreSQL fallback (a window then counts in each store apart: see the
# README's Security section), which is not what these tests are about.
ROOMY_QUEUE = 64
PATIENT_REDIS_SECONDS = 2.0


def tally(responses) -> dict[int, int]:
    counts: dict[int, int] = {}
    for response in responses:
        counts[response.status_code] = counts.get(response.status_code, 0) + 1
    return counts


async def test_concurrent_wrong_passwords_get_at_most_login_max_failures_checks(start_app):
    app = await start_app(login_queue_size=ROOMY_QUEUE, redis_timeout_seconds=PATIENT_REDIS_SECONDS)
    await make_user(app.services, "alice")
    async with client_at(app) as client:
        responses = await asyncio.gather(
            *(client.post("/token", data=password_form("alice", WRONG)) for _ in range(GUESSES))
        )
    counts = tally(responses)
    assert set(counts) <= {400, 429}, counts
    assert counts.get(400, 0) <= LOGIN_MAX_FAILURES, counts
    for response in responses:
        assert oauth_error(response) in ("invalid_grant", "too_many_attempts")


async def test_concurrent_wrong_basic_passwords_get_at_most_login_max_failures_checks(start_app):
    app = await start_app(login_queue_size=ROOMY_QUEUE, redis_timeout_seconds=PATIENT_REDIS_SECONDS)
    await make_user(app.services, "alice")
    async with client_at(app) as client:
        responses = await asyncio.gather(
            *(client.get("/users/me", headers=basic("alice", WRONG)) for _ in range(GUESSES))
        )
    counts = tally(responses)
    assert set(counts) <= {401, 429}, counts
    assert counts.get(401, 0) <= LOGIN_MAX_FAILURES, counts


async def test_successful_logins_never_use_up_the_window(client, services):
    # A success gives its place back: counting before checking must not lock out a user who
    # keeps typing the right password.
    await make_user(services, "alice")
    for attempt in range(2 * LOGIN_MAX_FAILURES):
        response = await client.post("/token", data=password_form())
        assert response.status_code == 200, (attempt, response.text)
    for _ in range(LOGIN_MAX_FAILURES - 1):
        assert (await client.post("/token", data=password_form("alice", WRONG))).status_code == 400
    response = await client.post("/token", data=password_form())
    assert response.status_code == 200, response.text


# --- the second factor --------------------------------------------------------------------


async def mfa_tokens(client, count: int) -> list[str]:
    return [await mfa_token_for(client) for _ in range(count)]


async def guess_from_many_addresses(app, tokens: list[str], code: str, per_token: int = 3):
    """`per_token` tries of `code` with each mfa_token, each token from an address of its own:
    under every per-address window, and, with four tokens or more, past OTP_MAX_FAILURES."""
    answers = []
    for n, token in enumerate(tokens):
        async with client_at(app, f"198.51.100.{n + 1}") as elsewhere:
            for _ in range(per_token):
                answers.append(await elsewhere.post("/token", data=mfa_form(token, code)))
    return answers


async def test_wrong_codes_over_many_mfa_tokens_and_addresses_stop_at_otp_max_failures(
    app, client, totp_user, clock
):
    tokens = await mfa_tokens(client, 5)
    answers = await guess_from_many_addresses(app, tokens, wrong_code(totp_user.secret, clock()))
    statuses = [r.status_code for r in answers]
    assert statuses[:OTP_MAX_FAILURES] == [400] * OTP_MAX_FAILURES, statuses
    for response in answers[OTP_MAX_FAILURES:]:
        assert_token_throttled(response)


async def test_past_otp_max_failures_a_right_code_is_429_from_a_new_address_and_token(
    app, client, totp_user, clock
):
    spare_token, *tokens = await mfa_tokens(client, 5)
    await guess_from_many_addresses(app, tokens, wrong_code(totp_user.secret, clock()))
    right = totp_user.code(clock())
    async with client_at(app, "192.0.2.77") as fresh:
        exchanged = await fresh.post("/token", data=mfa_form(spare_token, right))
    async with client_at(app, "192.0.2.78") as fresh:
        one_step = await fresh.post("/token", data=password_form(otp=right))
    assert_token_throttled(exchanged)
    assert_token_throttled(one_step)


async def test_wrong_one_step_codes_from_many_addresses_count_in_the_same_window(
    app, client, totp_user, clock
):
    spare_token = await mfa_token_for(client)
    wrong = wrong_code(totp_user.secret, clock())
    for n in range(OTP_MAX_FAILURES // 2):
        async with client_at(app, f"198.51.100.{n + 1}") as elsewhere:
            for _ in range(2):
                response = await elsewhere.post("/token", data=password_form(otp=wrong))
                assert response.status_code == 400, response.text
    async with client_at(app, "192.0.2.77") as fresh:
        response = await fresh.post("/token", data=mfa_form(spare_token, totp_user.code(clock())))
    assert_token_throttled(response)


async def test_concurrent_wrong_codes_over_many_mfa_tokens_get_at_most_otp_max_failures_checks(
    start_app, totp_user, clock
):
    app = await start_app(redis_timeout_seconds=PATIENT_REDIS_SECONDS)
    # Four codes per token and per address: under LOGIN_MAX_FAILURES everywhere but in the
    # user's second-factor window.
    async with client_at(app) as client:
        tokens = await mfa_tokens(client, 8)
    wrong = wrong_code(totp_user.secret, clock())
    async with AsyncExitStack() as stack:
        requests = []
        for n, token in enumerate(tokens):
            elsewhere = await stack.enter_async_context(client_at(app, f"198.51.100.{n + 1}"))
            requests += [elsewhere.post("/token", data=mfa_form(token, wrong)) for _ in range(4)]
        responses = await asyncio.gather(*requests)
    counts = tally(responses)
    assert set(counts) <= {400, 429}, counts
    assert counts.get(400, 0) <= OTP_MAX_FAILURES, counts


async def test_the_second_factor_lockout_lifts_once_the_window_has_passed(
    app, client, totp_user, clock
):
    tokens = await mfa_tokens(client, 4)
    await guess_from_many_addresses(app, tokens, wrong_code(totp_user.secret, clock()))
    clock.advance(LOCKOUT_SECONDS + STEP_SECONDS)
    response = await client.post("/token", data=password_form(otp=totp_user.code(clock())))
    assert response.status_code == 200, response.text


async def test_one_users_second_factor_lockout_leaves_other_users_free(
    app, client, services, totp_user, clock
):
    await make_user(services, "bob")
    tokens = await mfa_tokens(client, 4)
    await guess_from_many_addresses(app, tokens, wrong_code(totp_user.secret, clock()))
    bob = await login(client, "bob", DEFAULT_PASSWORD)
    response = await client.get("/users/me", headers=bob.headers)
    assert response.status_code == 200, response.text


async def test_attempts_turned_away_by_a_full_login_queue_are_not_counted(start_app, services):
    """A 503 (the login queue is full) checked nothing, so it takes no place in the window:
    only the attempts bcrypt ran count toward the lockout."""
    small_queue = await start_app(login_queue_size=1, bcrypt_rounds=8)
    await make_user(services)
    async with client_at(small_queue) as client:
        burst = await asyncio.gather(
            *(client.post("/token", data=password_form(WRONG)) for _ in range(LOGIN_MAX_FAILURES))
        )
        checked = sum(r.status_code == 400 for r in burst)
        turned_away = sum(r.status_code == 503 for r in burst)
        after = [
            (await client.post("/token", data=password_form(WRONG))).status_code
            for _ in range(LOGIN_MAX_FAILURES - checked + 1)
        ]

    assert turned_away > 0
    assert checked + turned_away == LOGIN_MAX_FAILURES
    assert after == [400] * (LOGIN_MAX_FAILURES - checked) + [429]
