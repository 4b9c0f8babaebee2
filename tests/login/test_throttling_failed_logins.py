"""Failed logins lock one username from one address for LOGIN_LOCKOUT_SECONDS
(docs/contract.md, 429), whatever the next password, and never lock anyone else."""

from tests.factories import DEFAULT_PASSWORD, basic, login, make_user
from tests.fixtures.signed_in_users import (
    UNREACHABLE_REDIS,
    a_wrong_code,
    enable_totp,
    password_form,
)

MAX_FAILURES = 5  # LOGIN_MAX_FAILURES's default, which the test app keeps
LOCKOUT_SECONDS = 300  # LOGIN_LOCKOUT_SECONDS's default
WRONG = "not the password at all"
MFA_OTP_GRANT = "urn:keygate:params:oauth:grant-type:mfa-otp"


async def fail_logins(client, username="alice", times=MAX_FAILURES, headers=None):
    """`times` wrong passwords, each refused as a plain invalid_grant (not yet throttled)."""
    for attempt in range(times):
        response = await client.post("/token", data=password_form(username, WRONG), headers=headers)
        assert response.status_code == 400, (attempt, response.text)
        assert response.json()["error"] == "invalid_grant"


def assert_throttled(response):
    assert response.status_code == 429, response.text
    body = response.json()
    assert body["error"] == "too_many_attempts"
    assert isinstance(body["error_description"], str)
    assert body["error_description"]
    retry_after = response.headers["retry-after"]
    assert retry_after.isdigit(), retry_after
    assert 1 <= int(retry_after) <= LOCKOUT_SECONDS
    assert response.headers["cache-control"] == "no-store"


async def test_after_five_failures_the_right_password_is_429_too_many_attempts(client, services):
    await make_user(services)
    await fail_logins(client)
    response = await client.post("/token", data=password_form())
    assert_throttled(response)


async def test_the_lockout_lifts_once_the_window_has_passed(client, services, clock):
    await make_user(services)
    await fail_logins(client)
    assert (await client.post("/token", data=password_form())).status_code == 429
    clock.advance(LOCKOUT_SECONDS + 1)
    response = await client.post("/token", data=password_form())
    assert response.status_code == 200, response.text


async def test_four_failures_do_not_lock(client, services):
    await make_user(services)
    await fail_logins(client, times=MAX_FAILURES - 1)
    response = await client.post("/token", data=password_form())
    assert response.status_code == 200, response.text


async def test_failures_for_an_unknown_username_lock_it_too(client):
    await fail_logins(client, "ghost")
    assert_throttled(await client.post("/token", data=password_form("ghost")))


async def test_a_locked_unknown_name_looks_exactly_like_a_locked_real_one(client, services):
    await make_user(services)
    await fail_logins(client, "alice")
    await fail_logins(client, "ghost")
    real = await client.post("/token", data=password_form("alice"))
    unknown = await client.post("/token", data=password_form("ghost"))
    assert_throttled(real)
    assert_throttled(unknown)
    assert real.content == unknown.content
    assert real.headers["cache-control"] == unknown.headers["cache-control"]


async def test_the_same_username_from_another_address_is_not_locked(app, client, services):
    await make_user(services)
    await fail_logins(client)
    assert (await client.post("/token", data=password_form())).status_code == 429
    async with app.client(ip="198.51.100.9") as elsewhere:
        response = await elsewhere.post("/token", data=password_form())
    assert response.status_code == 200, response.text


async def test_ten_failures_over_ten_usernames_from_one_address_trip_nothing(client, services):
    await make_user(services, "eleventh")
    for n in range(10):
        response = await client.post("/token", data=password_form(f"user{n}", WRONG))
        assert response.status_code == 400, (n, response.text)
        assert response.json()["error"] == "invalid_grant"
    response = await client.post("/token", data=password_form("eleventh"))
    assert response.status_code == 200, response.text


async def test_a_successful_login_resets_the_count_for_that_address(client, services):
    await make_user(services)
    await fail_logins(client, times=MAX_FAILURES - 1)
    assert (await client.post("/token", data=password_form())).status_code == 200
    await fail_logins(client, times=MAX_FAILURES - 1)
    response = await client.post("/token", data=password_form())
    assert response.status_code == 200, response.text


async def test_usernames_differing_only_in_case_share_one_count(client, services):
    await make_user(services)
    for name in ("alice", "ALICE", "Alice", "aLiCe", "alicE"):
        response = await client.post("/token", data=password_form(name, WRONG))
        assert response.status_code == 400, response.text
    assert_throttled(await client.post("/token", data=password_form("alice")))


async def test_wrong_basic_passwords_count_toward_the_token_lockout(client, services):
    await make_user(services)
    for attempt in range(MAX_FAILURES):
        response = await client.get("/users/me", headers=basic("alice", WRONG))
        assert response.status_code == 401, (attempt, response.text)
    assert_throttled(await client.post("/token", data=password_form()))


async def test_a_locked_user_over_basic_gets_429_with_retry_after(client, services):
    await make_user(services)
    await fail_logins(client)
    response = await client.get("/users/me", headers=basic("alice", DEFAULT_PASSWORD))
    assert response.status_code == 429, response.text
    assert isinstance(response.json()["detail"], str)
    retry_after = response.headers["retry-after"]
    assert retry_after.isdigit(), retry_after
    assert 1 <= int(retry_after) <= LOCKOUT_SECONDS


async def test_a_basic_lockout_also_lifts_after_the_window(client, services, clock):
    await make_user(services)
    for _ in range(MAX_FAILURES):
        await client.get("/users/me", headers=basic("alice", WRONG))
    assert (
        await client.get("/users/me", headers=basic("alice", DEFAULT_PASSWORD))
    ).status_code == 429
    clock.advance(LOCKOUT_SECONDS + 1)
    response = await client.get("/users/me", headers=basic("alice", DEFAULT_PASSWORD))
    assert response.status_code == 200, response.text


async def test_with_redis_unreachable_logins_still_work_from_postgres(start_app):
    dead_redis = await start_app(redis_url=UNREACHABLE_REDIS)
    await make_user(dead_redis.services)
    async with dead_redis.client() as client:
        response = await client.post("/token", data=password_form())
    assert response.status_code == 200, response.text


async def test_with_redis_unreachable_five_failures_still_lock(start_app):
    dead_redis = await start_app(redis_url=UNREACHABLE_REDIS)
    await make_user(dead_redis.services)
    async with dead_redis.client() as client:
        await fail_logins(client)
        assert_throttled(await client.post("/token", data=password_form()))


async def test_with_redis_unreachable_the_lockout_still_lifts_after_the_window(start_app, clock):
    dead_redis = await start_app(redis_url=UNREACHABLE_REDIS)
    await make_user(dead_redis.services)
    async with dead_redis.client() as client:
        await fail_logins(client)
        assert (await client.post("/token", data=password_form())).status_code == 429
        clock.advance(LOCKOUT_SECONDS + 1)
        response = await client.post("/token", data=password_form())
    assert response.status_code == 200, response.text


async def test_with_redis_unreachable_another_address_is_still_not_locked(start_app):
    dead_redis = await start_app(redis_url=UNREACHABLE_REDIS)
    await make_user(dead_redis.services)
    async with dead_redis.client() as client:
        await fail_logins(client)
    async with dead_redis.client(ip="198.51.100.9") as elsewhere:
        response = await elsewhere.post("/token", data=password_form())
    assert response.status_code == 200, response.text


async def test_wrong_one_time_codes_count_toward_the_lockout(client, services, clock):
    await make_user(services)
    totp = await enable_totp(client, await login(client), clock)
    wrong = a_wrong_code(totp, clock())
    for attempt in range(MAX_FAILURES):
        form = {**password_form(), "otp": wrong}
        response = await client.post("/token", data=form)
        assert response.status_code == 400, (attempt, response.text)
        assert response.json()["error"] == "invalid_grant"
    right = {**password_form(), "otp": totp.at(clock())}
    assert_throttled(await client.post("/token", data=right))


async def test_wrong_codes_in_the_mfa_token_exchange_count_toward_the_lockout(
    client, services, clock
):
    await make_user(services)
    totp = await enable_totp(client, await login(client), clock)
    wrong = a_wrong_code(totp, clock())
    challenge = await client.post("/token", data=password_form())
    assert challenge.status_code == 403, challenge.text
    mfa_token = challenge.json()["mfa_token"]
    for attempt in range(MAX_FAILURES):
        form = {"grant_type": MFA_OTP_GRANT, "mfa_token": mfa_token, "otp": wrong}
        response = await client.post("/token", data=form)
        assert response.status_code == 400, (attempt, response.text)
        assert response.json()["error"] == "invalid_grant"
    right = {**password_form(), "otp": totp.at(clock())}
    assert_throttled(await client.post("/token", data=right))
