"""A login warms the cache: the first bearer request after /token is already checked from
Redis, on any worker; and a repeated Basic request with the right password does not pay
bcrypt again (docs/contract.md)."""

import re
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from tests.conftest import RunningApp
from tests.factories import DEFAULT_PASSWORD, basic, login, make_user
from tests.fixtures.fault_lab import auth_source

# issue 5: `Server-Timing: auth;desc="cache"|"db";dur=...` on every authenticated response
# and on /token.
TIMING_WITH_DURATION = re.compile(r'^auth;desc="(cache|db)";dur=\d+(\.\d+)?$')


async def test_the_first_bearer_request_after_a_login_is_checked_from_the_cache(
    client: httpx.AsyncClient, services, second_app: RunningApp
):
    await make_user(services)
    first = await login(client)
    second = await login(client)

    response = await client.get("/users/me", headers=first.headers)
    assert response.status_code == 200
    assert auth_source(response) == "cache"
    # The cache is shared: another worker's first request with a fresh token is warm too.
    async with second_app.client() as other:
        response = await other.get("/users/me", headers=second.headers)
    assert response.status_code == 200
    assert auth_source(response) == "cache"


async def test_a_login_is_checked_from_the_database_only_while_the_cache_is_cold(
    client: httpx.AsyncClient, services
):
    await make_user(services)
    form = {"grant_type": "password", "username": "alice", "password": DEFAULT_PASSWORD}

    cold = await client.post("/token", data=form)
    warm = await client.post("/token", data=form)

    assert cold.status_code == warm.status_code == 200
    assert auth_source(cold) == "db"
    assert auth_source(warm) == "cache"


async def test_a_basic_request_after_a_login_is_checked_from_the_cache(
    client: httpx.AsyncClient, services
):
    await make_user(services)
    await login(client)

    response = await client.get("/users/me", headers=basic("alice", DEFAULT_PASSWORD))

    assert response.status_code == 200
    assert auth_source(response) == "cache"


class BcryptRuns:
    """Counts the jobs the app's login bcrypt threads are given, on the login lane and on the
    suspect lane of addresses whose last check failed (the threads still run them)."""

    def __init__(self) -> None:
        self.count = 0

    def counting(self, submit: Callable[..., Future[Any]]) -> Callable[..., Future[Any]]:
        def counted(fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
            self.count += 1
            return submit(fn, *args, **kwargs)

        return counted


@pytest.fixture
def bcrypt_runs(services, monkeypatch: pytest.MonkeyPatch) -> BcryptRuns:
    runs = BcryptRuns()
    for lane in (services.hasher._login, services.hasher._suspect):
        monkeypatch.setattr(lane._executor, "submit", runs.counting(lane._executor.submit))
    return runs


async def test_a_repeated_basic_request_does_not_run_bcrypt_again(
    client: httpx.AsyncClient, services, bcrypt_runs: BcryptRuns
):
    await make_user(services)
    credentials = basic("alice", DEFAULT_PASSWORD)
    before = bcrypt_runs.count

    first = await client.get("/users/me", headers=credentials)
    after_first = bcrypt_runs.count
    repeats = [await client.get("/users/me", headers=credentials) for _ in range(10)]

    assert first.status_code == 200
    assert after_first - before == 1
    assert [r.status_code for r in repeats] == [200] * 10
    assert bcrypt_runs.count == after_first
    assert {auth_source(r) for r in repeats} == {"cache"}


async def test_a_wrong_basic_password_runs_bcrypt_every_time(
    client: httpx.AsyncClient, services, bcrypt_runs: BcryptRuns
):
    await make_user(services)
    assert (await client.get("/users/me", headers=basic("alice", DEFAULT_PASSWORD))).is_success
    before = bcrypt_runs.count

    for _ in range(3):
        response = await client.get("/users/me", headers=basic("alice", "not the password"))
        assert response.status_code == 401

    assert bcrypt_runs.count - before == 3


async def test_cached_records_expire_within_the_cache_ttl(
    client: httpx.AsyncClient, services, redis: Redis
):
    await make_user(services)
    tokens = await login(client)
    assert (await client.get("/users/me", headers=tokens.headers)).status_code == 200
    ttl_seconds = services.settings.auth_cache_ttl_seconds

    def kind(key: bytes) -> bytes:  # kg:login:<name>, kg:{u<id>}:user, kg:{u<id>}:session:<id>
        return next(part for part in key.split(b":")[1:] if not part.startswith(b"{"))

    keys = [key async for key in redis.scan_iter(match="kg:*")]
    cached = [k for k in keys if kind(k) in (b"user", b"login", b"session")]

    assert {kind(k) for k in cached} == {b"user", b"login", b"session"}
    ttls = {key: await redis.ttl(key) for key in cached}
    assert all(0 < ttl <= ttl_seconds for ttl in ttls.values()), ttls


async def test_server_timing_carries_the_duration_on_requests_and_on_token(
    client: httpx.AsyncClient, services
):
    await make_user(services)
    token = await client.post(
        "/token",
        data={"grant_type": "password", "username": "alice", "password": DEFAULT_PASSWORD},
    )
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    bearer = await client.get("/users/me", headers=headers)
    basic_response = await client.get("/users/me", headers=basic("alice", DEFAULT_PASSWORD))

    timings = {
        "bearer": bearer.headers["server-timing"],
        "basic": basic_response.headers["server-timing"],
        "token": token.headers["server-timing"],
    }
    without_duration = {k: v for k, v in timings.items() if not TIMING_WITH_DURATION.match(v)}
    assert not without_duration
