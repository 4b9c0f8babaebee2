"""Nobody can crowd out, lock out or out-wait a user (docs/contract.md, Hardening, second
round): concurrent right passwords wait for each other instead of refusing each other, the
login queue takes turns between addresses, and a device that logged in before keeps its own
window. These run at a realistic bcrypt cost (10), where a check takes tens of milliseconds."""

import asyncio
import time

from tests.factories import DEFAULT_PASSWORD, make_user
from tests.fixtures.attacks import (
    LOGIN_MAX_FAILURES,
    WRONG,
    assert_token_throttled,
    client_at,
    password_form,
)

REALISTIC_ROUNDS = 10
CROWD_ADDRESSES = 5
# Each crowd address keeps this many failing logins in flight: more than its share of the
# login queue (threads + LOGIN_QUEUE_SIZE), so the queue stays full.
CROWD_IN_FLIGHT = 12
USER_LOGINS = 5
# Time enough for Redis on a loaded machine: a call that times out falls back to PostgreSQL,
# where a held place counts as a failure (README, Security), which is not what these test.
PATIENT_REDIS_SECONDS = 2.0


async def app_with_room_for_twenty(start_app):
    """An app whose login queue holds 20 checks at once, with alice registered."""
    app = await start_app(
        bcrypt_rounds=REALISTIC_ROUNDS,
        login_queue_size=32,
        redis_timeout_seconds=PATIENT_REDIS_SECONDS,
    )
    await make_user(app.services)
    return app


async def test_twenty_concurrent_logins_with_the_right_password_all_succeed(start_app):
    app = await app_with_room_for_twenty(start_app)
    async with client_at(app) as client:
        responses = await asyncio.gather(
            *(client.post("/token", data=password_form()) for _ in range(20))
        )
    assert [r.status_code for r in responses] == [200] * 20, [r.text for r in responses]


async def test_concurrent_wrong_passwords_then_the_right_one_is_still_429(start_app):
    app = await app_with_room_for_twenty(start_app)
    async with client_at(app) as client:
        responses = await asyncio.gather(
            *(client.post("/token", data=password_form("alice", WRONG)) for _ in range(20))
        )
        statuses = sorted(r.status_code for r in responses)
        assert statuses == [400] * LOGIN_MAX_FAILURES + [429] * (20 - LOGIN_MAX_FAILURES)
        assert_token_throttled(await client.post("/token", data=password_form()))


async def test_a_user_logs_in_every_time_while_five_addresses_keep_the_queue_full(start_app):
    # The crowd is never throttled here (a high LOGIN_MAX_FAILURES), so that only the login
    # queue stands between it and the user.
    app = await start_app(
        bcrypt_rounds=REALISTIC_ROUNDS,
        login_max_failures=100_000,
        redis_timeout_seconds=PATIENT_REDIS_SECONDS,
    )
    await make_user(app.services)
    user_done = asyncio.Event()
    queue_full = asyncio.Event()  # every crowd address has been turned away at least once
    crowd_answers: list[int] = []
    turned_away: set[int] = set()

    async def keep_failing(n: int, lane: int) -> None:
        async with client_at(app, f"198.51.100.{n + 1}") as attacker:
            while not user_done.is_set():
                form = password_form(f"nobody{n}x{lane}", WRONG)
                status = (await attacker.post("/token", data=form)).status_code
                crowd_answers.append(status)
                if status == 503:
                    turned_away.add(n)
                    if len(turned_away) == CROWD_ADDRESSES:
                        queue_full.set()

    crowd = [
        asyncio.create_task(keep_failing(n, lane))
        for n in range(CROWD_ADDRESSES)
        for lane in range(CROWD_IN_FLIGHT)
    ]
    try:
        async with client_at(app, "192.0.2.10") as user:
            await queue_full.wait()
            statuses = []
            for _ in range(USER_LOGINS):
                statuses.append((await user.post("/token", data=password_form())).status_code)
    finally:
        user_done.set()
        await asyncio.gather(*crowd)
    assert statuses == [200] * USER_LOGINS
    assert 503 in crowd_answers  # the crowd did fill its own share


async def test_a_device_that_logged_in_before_logs_in_while_twenty_addresses_lock_the_account(
    start_app,
):
    app = await start_app(bcrypt_rounds=REALISTIC_ROUNDS)
    await make_user(app.services)
    async with client_at(app, "192.0.2.10") as device:
        first = await device.post("/token", data=password_form())
    assert first.status_code == 200, first.text
    device_token = first.json()["device_token"]
    assert len(device_token) >= 22  # 128 bits and more, base64url

    for n in range(20):
        async with client_at(app, f"198.51.100.{n + 1}") as attacker:
            for _ in range(LOGIN_MAX_FAILURES):
                await attacker.post("/token", data=password_form("alice", WRONG))

    async with client_at(app, "192.0.2.11") as new_device:
        assert_token_throttled(await new_device.post("/token", data=password_form()))
    async with client_at(app, "192.0.2.10") as device:
        form = password_form() | {"device_token": device_token}
        again = await device.post("/token", data=form)
        assert again.status_code == 200, again.text
        by_cookie = await device.post(
            "/token", data=password_form(), headers={"Cookie": f"device_token={device_token}"}
        )
        assert by_cookie.status_code == 200, by_cookie.text


async def test_another_users_or_an_unknown_device_token_counts_as_none(start_app):
    app = await start_app()
    await make_user(app.services, "alice")
    await make_user(app.services, "bob")
    async with client_at(app, "192.0.2.10") as bobs:
        bobs_token = (await bobs.post("/token", data=password_form("bob"))).json()["device_token"]
    async with client_at(app) as attacker:
        for token in (bobs_token, "not-a-device-token"):
            for _ in range(LOGIN_MAX_FAILURES):
                form = password_form("alice", WRONG) | {"device_token": token}
                await attacker.post("/token", data=form)
            form = password_form() | {"device_token": token}
            assert_token_throttled(await attacker.post("/token", data=form))
            alice = await app.services.users.get_by_username("alice")
            assert alice is not None
            await app.services.throttle.unlock(alice.id)


async def test_a_full_device_window_is_ignored_and_counts_in_the_accounts(start_app):
    app = await start_app()
    await make_user(app.services)
    async with client_at(app) as client:
        token = (await client.post("/token", data=password_form())).json()["device_token"]
        form = password_form("alice", WRONG) | {"device_token": token}
        statuses = [(await client.post("/token", data=form)).status_code for _ in range(11)]
    assert statuses == [400] * (2 * LOGIN_MAX_FAILURES) + [429]


async def test_the_device_token_is_an_httponly_strict_cookie_for_token_only(start_app):
    app = await start_app()
    await make_user(app.services)
    async with client_at(app) as client:
        response = await client.post("/token", data=password_form())
    cookie = response.headers["set-cookie"]
    token = response.json()["device_token"]
    assert cookie.startswith(f"device_token={token};")
    attributes = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "path=/token", "samesite=strict"} <= attributes
    assert "secure" not in attributes  # served over plain HTTP here
    assert DEFAULT_PASSWORD not in cookie


async def test_an_address_past_its_share_of_the_queue_is_answered_after_its_retry_after(
    start_app,
):
    # A client that never waits cannot spin on cheap refusals: each 503 of an address past
    # its share comes only after the pause its Retry-After names.
    app = await start_app(bcrypt_rounds=REALISTIC_ROUNDS, login_queue_size=1)

    async def timed_login(client):
        started = time.monotonic()
        response = await client.post("/token", data=password_form("nobody", WRONG))
        return response, time.monotonic() - started

    async with client_at(app, "198.51.100.1") as crowd:
        answers = await asyncio.gather(*(timed_login(crowd) for _ in range(10)))
    refused = [(r, seconds) for r, seconds in answers if r.status_code == 503]
    assert refused, [r.status_code for r, _ in answers]
    for response, seconds in refused:
        assert seconds >= int(response.headers["retry-after"]) >= 1


def login_look_ups(app) -> float:
    metrics = app.services.metrics
    return sum(
        counter.labels("login")._value.get()
        for counter in (metrics.cache_hits, metrics.cache_misses)
    )


async def queue_full(app, ip: str) -> None:
    for _ in range(500):
        if app.services.hasher.would_refuse(ip):
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{ip} never filled its share of the login queue")


async def test_an_address_past_its_share_is_refused_before_its_name_is_looked_up(start_app):
    # A crowd that never waits pays no look-up (Redis, PostgreSQL) for the logins its share
    # of the queue has no room for: those costs would come out of the cores bcrypt needs.
    app = await start_app(bcrypt_rounds=13, login_queue_size=1)
    crowd_ip = "198.51.100.1"
    async with client_at(app, crowd_ip) as crowd:
        for attempt in range(3):  # a place may free up between the check and the request
            forms = [password_form(f"c{attempt}x{n}", WRONG) for n in range(12)]
            in_flight = [asyncio.create_task(crowd.post("/token", data=f)) for f in forms]
            await queue_full(app, crowd_ip)
            before = login_look_ups(app)
            refused = await crowd.post("/token", data=password_form(f"late{attempt}", WRONG))
            looked_up = login_look_ups(app) - before
            for task in in_flight:
                task.cancel()
            await asyncio.gather(*in_flight, return_exceptions=True)
            if refused.status_code == 503:
                break
        assert refused.status_code == 503, refused.text
        assert looked_up == 0
