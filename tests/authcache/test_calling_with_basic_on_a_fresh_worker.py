"""A service calls with HTTP Basic over many connections at once. On a worker that has not
seen those credentials yet, one bcrypt check runs and the other requests wait for it: a cold
start costs one check, not a burst of 503s from an overflowing login queue. Wrong passwords
gain nothing from waiting: each is still an attempt of its own, counted and throttled."""

import asyncio
from collections import Counter
from collections.abc import AsyncIterator

import pytest

from app.users.passwords import Verification
from tests.clock import MovableClock
from tests.conftest import RunningApp, make_settings, running_app
from tests.factories import DEFAULT_PASSWORD, basic, make_user

CONCURRENT_REQUESTS = 24
MAX_FAILURES = 3
NEW_PASSWORD = "a new and longer passphrase"


@pytest.fixture
async def fresh_worker(database, clock: MovableClock) -> AsyncIterator[RunningApp]:
    """A worker with the smallest login queue: a place for one login waiting for bcrypt."""
    settings = make_settings(login_queue_size=1, login_max_failures=MAX_FAILURES)
    async with running_app(settings, clock) as app:
        yield app


@pytest.fixture
def bcrypt_checks(fresh_worker: RunningApp, monkeypatch) -> list[str]:
    """The passwords bcrypt was asked to verify on the fresh worker, in order."""
    hasher = fresh_worker.services.hasher
    checked: list[str] = []
    verify = hasher.verify

    async def counting_verify(
        password: str, password_hash: str | None, *, queue: str = ""
    ) -> Verification:
        checked.append(password)
        return await verify(password, password_hash, queue=queue)

    monkeypatch.setattr(hasher, "verify", counting_verify)
    return checked


async def statuses(app: RunningApp, headers: list[dict[str, str]]) -> Counter[int]:
    async with app.client() as client:
        responses = await asyncio.gather(*(client.get("/users/me", headers=h) for h in headers))
    return Counter(r.status_code for r in responses)


async def test_a_burst_of_right_credentials_costs_one_bcrypt_check_and_no_503(
    fresh_worker, bcrypt_checks
):
    await make_user(fresh_worker.services)

    burst = [basic("alice", DEFAULT_PASSWORD)] * CONCURRENT_REQUESTS
    assert await statuses(fresh_worker, burst) == {200: CONCURRENT_REQUESTS}

    assert bcrypt_checks == [DEFAULT_PASSWORD]
    assert fresh_worker.services.authenticator.passwords.verified.checks_running == 0


async def test_bursts_of_two_users_cost_one_check_each(fresh_worker, bcrypt_checks):
    await make_user(fresh_worker.services, "alice")
    await make_user(fresh_worker.services, "bob")

    burst = [basic("alice", DEFAULT_PASSWORD), basic("bob", DEFAULT_PASSWORD)] * 8
    assert await statuses(fresh_worker, burst) == {200: 16}

    assert bcrypt_checks == [DEFAULT_PASSWORD, DEFAULT_PASSWORD]


async def test_a_burst_of_one_wrong_password_is_counted_attempt_by_attempt(
    fresh_worker, bcrypt_checks
):
    await make_user(fresh_worker.services)

    burst = [basic("alice", "not the password at all")] * 8
    counted = await statuses(fresh_worker, burst)

    # Each waiting request made its own attempt: the window filled, then throttling answered.
    assert counted == {401: MAX_FAILURES, 429: 8 - MAX_FAILURES}
    assert len(bcrypt_checks) == MAX_FAILURES
    assert fresh_worker.services.authenticator.passwords.verified.checks_running == 0


async def test_a_wrong_password_waiting_beside_the_right_one_is_still_refused(
    fresh_worker, bcrypt_checks
):
    await make_user(fresh_worker.services)

    right, wrong = basic("alice", DEFAULT_PASSWORD), basic("alice", "not the password at all")
    burst = [right, wrong] * MAX_FAILURES + [right]
    assert await statuses(fresh_worker, burst) == {200: MAX_FAILURES + 1, 401: MAX_FAILURES}
    assert bcrypt_checks.count(DEFAULT_PASSWORD) == 1


async def test_after_a_password_change_the_burst_with_the_old_password_is_refused(
    fresh_worker, bcrypt_checks
):
    await make_user(fresh_worker.services)
    old = basic("alice", DEFAULT_PASSWORD)
    assert await statuses(fresh_worker, [old] * 4) == {200: 4}

    async with fresh_worker.client() as client:
        changed = await client.post(
            "/users/me/password",
            json={"current_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD},
            headers=old,
        )
        assert changed.status_code == 204, changed.text

    assert await statuses(fresh_worker, [old] * MAX_FAILURES) == {401: MAX_FAILURES}
