"""Redis down (an app pointed at a closed port): logins and requests keep working from
PostgreSQL; revocation and throttling still hold, they never fail open; /ready says degraded
(docs/contract.md)."""

import pytest

from tests.conftest import RunningApp
from tests.factories import DEFAULT_PASSWORD, basic, login, make_user
from tests.fixtures.fault_lab import CLOSED_REDIS_URL, FaultLab, auth_source, eventually


@pytest.fixture
async def without_redis(lab: FaultLab) -> RunningApp:
    return await lab.app(redis_url=CLOSED_REDIS_URL)


async def test_logins_bearer_and_basic_requests_work_from_postgresql(without_redis: RunningApp):
    await make_user(without_redis.services)
    async with without_redis.client() as client:
        token = await client.post(
            "/token",
            data={"grant_type": "password", "username": "alice", "password": DEFAULT_PASSWORD},
        )
        assert token.status_code == 200, token.text
        assert auth_source(token) == "db"
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        credentials = basic("alice", DEFAULT_PASSWORD)

        for _ in range(2):
            for auth in (headers, credentials):
                response = await client.get("/users/me", headers=auth)
                assert response.status_code == 200, response.text
                assert auth_source(response) == "db"
        assert (await client.get("/users/me", headers=basic("alice", "wrong password"))).is_error


async def test_ready_says_degraded(without_redis: RunningApp):
    async with without_redis.client() as client:
        response = await client.get("/ready")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["postgres"] == "ok"
    assert body["redis"] != "ok"


async def test_a_logged_out_token_is_refused(without_redis: RunningApp):
    await make_user(without_redis.services)
    async with without_redis.client() as client:
        tokens = await login(client)
        assert (await client.get("/users/me", headers=tokens.headers)).status_code == 200

        assert (await client.post("/logout", headers=tokens.headers)).status_code == 204

        assert (await client.get("/users/me", headers=tokens.headers)).status_code == 401
        refreshed = await client.post(
            "/token", data={"grant_type": "refresh_token", "refresh_token": tokens.refresh_token}
        )
        assert refreshed.json()["error"] == "invalid_grant"


async def test_a_session_ended_while_redis_is_down_stays_ended_on_a_worker_with_redis(
    without_redis: RunningApp, app: RunningApp
):
    await make_user(without_redis.services)
    async with app.client() as with_redis, without_redis.client() as client:
        tokens = await login(with_redis)
        assert (await with_redis.get("/users/me", headers=tokens.headers)).status_code == 200

        assert (await client.post("/logout", headers=tokens.headers)).status_code == 204

        # The worker with Redis had the session cached as live. The partitioned worker could
        # not overwrite that entry, so it recorded the invalidation in PostgreSQL, whose
        # NOTIFY reaches every worker: within milliseconds, not a cache TTL.
        async def refused() -> bool:
            response = await with_redis.get("/users/me", headers=tokens.headers)
            return response.status_code == 401

        await eventually(refused, timeout_seconds=2.0, what="the logout reaches the other worker")


async def test_failed_logins_are_still_throttled(lab: FaultLab):
    running = await lab.app(redis_url=CLOSED_REDIS_URL, login_max_failures=3)
    await make_user(running.services)
    form = {"grant_type": "password", "username": "alice", "password": "not the password"}
    async with running.client() as client:
        for _ in range(3):
            assert (await client.post("/token", data=form)).status_code == 400

        locked = await client.post("/token", data={**form, "password": DEFAULT_PASSWORD})

    assert locked.status_code == 429
    assert locked.json()["error"] == "too_many_attempts"
    assert int(locked.headers["retry-after"]) > 0
