"""After one login, logins and authenticated requests of that user are checked from Redis
without a query to PostgreSQL (docs/contract.md), counted outside the app: by a TCP proxy
between the app and PostgreSQL, and by PostgreSQL's own per-table counters."""

import time
from dataclasses import dataclass

import asyncpg
import httpx

from tests.factories import DEFAULT_PASSWORD, basic, login, make_user
from tests.fixtures.fault_lab import FaultLab, auth_source, eventually

REPEATS = 20


async def assert_from_cache(client: httpx.AsyncClient, path: str, headers: dict[str, str]) -> int:
    response = await client.get(path, headers=headers)
    assert auth_source(response) == "cache", (path, response.status_code, response.text)
    return response.status_code


async def test_warm_bearer_and_basic_requests_send_no_byte_to_postgresql(lab: FaultLab):
    proxy = await lab.pg_proxy()
    running = await lab.app_behind(proxy)
    await make_user(running.services)
    await make_user(running.services, "root", is_admin=True)
    async with running.client() as client:
        tokens = await login(client)
        admin = await login(client, "root")
        credentials = basic("alice", DEFAULT_PASSWORD)
        assert (await client.get("/users/me", headers=credentials)).status_code == 200
        assert proxy.bytes_to_target > 0, "the app does not reach PostgreSQL through the proxy"
        sent_before = proxy.bytes_to_target

        for _ in range(REPEATS):
            assert await assert_from_cache(client, "/users/me", tokens.headers) == 200
            assert await assert_from_cache(client, "/users/me", credentials) == 200
            assert await assert_from_cache(client, "/users/me", admin.headers) == 200
            # Refused after authentication, before any work: insufficient_scope.
            assert await assert_from_cache(client, "/users", tokens.headers) == 403
            assert await assert_from_cache(client, "/users", credentials) == 403

        assert proxy.bytes_to_target - sent_before == 0, proxy.sent_since(sent_before)


async def test_a_warm_token_request_sends_postgresql_only_the_session_insert(lab: FaultLab):
    proxy = await lab.pg_proxy()
    # Without a statement cache every query travels as SQL text, so the proxy can read it.
    running = await lab.app_behind(proxy, database_statement_cache_size=0)
    await make_user(running.services)
    async with running.client() as client:
        cold_mark = proxy.mark()
        cold = await client.post(
            "/token",
            data={"grant_type": "password", "username": "alice", "password": DEFAULT_PASSWORD},
        )
        cold_sent = proxy.sent_since(cold_mark)
        warm_mark = proxy.mark()
        warm = await client.post(
            "/token",
            data={"grant_type": "password", "username": "alice", "password": DEFAULT_PASSWORD},
        )
        warm_sent = proxy.sent_since(warm_mark)

    assert cold.status_code == warm.status_code == 200
    assert auth_source(cold) == "db"
    assert auth_source(warm) == "cache"
    assert b"FROM users" in cold_sent
    assert b"INSERT INTO sessions" in warm_sent
    assert b"users" not in warm_sent, warm_sent
    assert 0 < len(warm_sent) < len(cold_sent)


@dataclass(frozen=True)
class UserTableCounters:
    seq_scan: int
    username_index_scans: int
    primary_key_scans: int
    sessions_inserted: int


async def read_counters(url: str) -> UserTableCounters:
    conn = await asyncpg.connect(url)
    try:
        users = await conn.fetchrow(
            "SELECT seq_scan, idx_scan FROM pg_stat_user_tables WHERE relname = 'users'"
        )
        indexes = dict(
            await conn.fetch(
                "SELECT indexrelname, idx_scan FROM pg_stat_user_indexes WHERE relname = 'users'"
            )
        )
        sessions_inserted = await conn.fetchval(
            "SELECT n_tup_ins FROM pg_stat_user_tables WHERE relname = 'sessions'"
        )
    finally:
        await conn.close()
    assert users["idx_scan"] == sum(indexes.values())
    return UserTableCounters(
        seq_scan=users["seq_scan"],
        username_index_scans=indexes["users_username_lower_key"],
        primary_key_scans=indexes["users_pkey"],
        sessions_inserted=sessions_inserted,
    )


async def wait_until_backends_exit(database: asyncpg.Pool, url: str) -> None:
    """A backend flushes its statistics when it exits; PostgreSQL publishes them lazily
    otherwise, so counters are read only once the app's connections are all gone."""
    name = url.rpartition("/")[2]

    async def no_backend_left() -> bool:
        count = await database.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = $1", name
        )
        return count == 0

    await eventually(no_backend_left, timeout_seconds=10, what=f"connections to {name} closed")


async def test_postgresql_counts_no_user_lookup_for_warm_logins_and_requests(
    database: asyncpg.Pool, stats_database_url: str, lab: FaultLab
):
    username = f"warm{time.time_ns()}"  # the statistics database is not emptied between tests
    async with lab.app_lifetime(database_url=stats_database_url) as first:
        await make_user(first.services, username)
    await wait_until_backends_exit(database, stats_database_url)
    before_cold = await read_counters(stats_database_url)

    async with lab.app_lifetime(database_url=stats_database_url) as cold, cold.client() as client:
        await login(client, username)
    await wait_until_backends_exit(database, stats_database_url)
    before_warm = await read_counters(stats_database_url)

    warm_logins = 3
    async with lab.app_lifetime(database_url=stats_database_url) as warm, warm.client() as client:
        for _ in range(warm_logins):
            tokens = await login(client, username)
        credentials = basic(username, DEFAULT_PASSWORD)
        for _ in range(REPEATS):
            assert await assert_from_cache(client, "/users/me", tokens.headers) == 200
            assert await assert_from_cache(client, "/users/me", credentials) == 200
    await wait_until_backends_exit(database, stats_database_url)
    after_warm = await read_counters(stats_database_url)

    # The counters do see a cold login look its user up by name...
    assert before_warm.username_index_scans > before_cold.username_index_scans
    # ...and of the warm logins and requests nothing but the inserts of each login's session
    # and device token, whose foreign-key checks probe users by primary key once each.
    sessions = after_warm.sessions_inserted - before_warm.sessions_inserted
    assert sessions == warm_logins
    assert after_warm.seq_scan == before_warm.seq_scan
    assert after_warm.username_index_scans == before_warm.username_index_scans
    assert after_warm.primary_key_scans - before_warm.primary_key_scans == 2 * sessions
