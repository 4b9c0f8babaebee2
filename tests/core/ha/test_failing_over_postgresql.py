"""keygate on a PostgreSQL primary and streaming standby, through the libpq multi-host URL
(`postgresql://h1,h2/keygate?target_session_attrs=read-write`): `keygate migrate` (a real
process) creates and migrates the database through it, and when the primary stops and the
standby is promoted, keygate writes to the new primary without a restart; nothing written
before is lost."""

import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
import pytest
from redis.asyncio import Redis

from tests.cli import keygate
from tests.clock import MovableClock
from tests.conftest import RunningApp, make_settings, running_app
from tests.core.ha.observing import (
    Observation,
    observe_until_healthy,
    record,
    session_id_of,
    unique_name,
)
from tests.core.ha.processes import PostgresPair
from tests.factories import DEFAULT_PASSWORD, login
from tests.faults import RedisServer

pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]
DATABASE = "keygate_failover"
RECOVERY_TIMEOUT_SECONDS = 20.0


@pytest.fixture
async def pair_redis_server() -> AsyncIterator[RedisServer]:
    """A Redis of the pair's own: a keygate on another database must never share one (the
    suite's own app would take this one's journalled sessions, and the reverse)."""
    server = RedisServer()
    await server.start()
    try:
        yield server
    finally:
        await server.kill()


@pytest.fixture
async def pair_redis(pair_redis_server: RedisServer) -> AsyncIterator[Redis]:
    client = Redis.from_url(pair_redis_server.url)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
async def pair_app(
    postgres_pair: PostgresPair,
    pair_redis_server: RedisServer,
    clock: MovableClock,
    tmp_path: Path,
) -> AsyncIterator[RunningApp]:
    settings = make_settings(
        database_url=postgres_pair.url(DATABASE), redis_url=pair_redis_server.url
    )
    migrated = await keygate("migrate", cwd=tmp_path, DATABASE_URL=settings.database_url)
    assert migrated.returncode == 0, migrated.stderr
    assert f"created database {DATABASE}" in migrated.stdout
    async with running_app(settings, clock) as started:
        yield started


async def test_migrate_creates_and_migrates_the_database_on_the_primary(
    postgres_pair: PostgresPair, pair_app: RunningApp
) -> None:
    primary = await asyncpg.connect(postgres_pair.url(DATABASE))
    try:
        assert await primary.fetchval("SELECT inet_server_port()") == postgres_pair.primary_port
        assert await primary.fetchval("SELECT version_num FROM alembic_version")
    finally:
        await primary.close()


async def register(client, name: str):  # type: ignore[no-untyped-def]
    return await client.post("/users", json={"username": name, "password": DEFAULT_PASSWORD})


async def test_logins_and_registrations_work_again_after_the_standby_is_promoted(
    postgres_pair: PostgresPair, pair_app: RunningApp, pair_redis: Redis
) -> None:
    before = unique_name("before-")
    async with pair_app.client() as client:
        assert (await register(client, before)).status_code == 201
        tokens = await login(client, before)
        primary = await asyncpg.connect(postgres_pair.url(DATABASE))
        try:
            lsn = await primary.fetchval("SELECT pg_current_wal_lsn()::text")
        finally:
            await primary.close()
        await postgres_pair.wait_for_standby_replay(lsn)

        await postgres_pair.stop_primary()
        outage = Observation()
        during = await login(client, before)  # a cached user: the session is journalled
        record(outage, await client.get("/users/me", headers=tokens.headers))
        refused = record(outage, await register(client, unique_name("during-")))
        assert refused.status_code == 503
        outage.assert_no_server_errors_but_503()
        await postgres_pair.promote_standby()

        async def step(seen: Observation) -> bool:
            name = unique_name("after-")
            registered = record(seen, await register(client, name))
            logged_in = record(
                seen,
                await client.post(
                    "/token",
                    data={"grant_type": "password", "username": name, "password": DEFAULT_PASSWORD},
                ),
            )
            ready = record(seen, await client.get("/ready"))
            return (
                registered.status_code == 201
                and logged_in.status_code == 200
                and (ready.status_code == 200)
            )

        seen = await observe_until_healthy(
            step,
            what="PostgreSQL failover (standby promoted)",
            timeout_seconds=RECOVERY_TIMEOUT_SECONDS,
        )
        seen.assert_no_server_errors_but_503()

        # The session started during the outage reaches the new primary ...
        async def journalled_session_is_listed(_: Observation) -> bool:
            listed = await client.get("/users/me/sessions", headers=during.headers)
            return listed.status_code == 200 and session_id_of(during.access_token) in {
                s["id"] for s in listed.json()
            }

        await observe_until_healthy(
            journalled_session_is_listed,
            what="the journalled session moved into the new primary",
            timeout_seconds=RECOVERY_TIMEOUT_SECONDS,
        )

        # ... and what was written before the stop is there: the user, read from PostgreSQL.
        await pair_redis.flushdb()
        await login(client, before)


@contextmanager
def silent_listener(port: int) -> Iterator[None]:
    """Takes connections on `port` and never answers: a host gone silent (dropped packets, a
    hung machine), unlike a stopped server, which refuses at once."""
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen(128)
        yield


async def test_a_silent_old_primary_does_not_keep_keygate_from_the_promoted_standby(
    postgres_pair: PostgresPair, pair_app: RunningApp
) -> None:
    async with pair_app.client() as client:
        assert (await register(client, unique_name("before-"))).status_code == 201
        await postgres_pair.stop_primary()

        with silent_listener(postgres_pair.primary_port):
            await postgres_pair.promote_standby()

            async def step(seen: Observation) -> bool:
                registered = record(seen, await register(client, unique_name("after-")))
                return registered.status_code == 201

            seen = await observe_until_healthy(
                step,
                what="PostgreSQL failover, old primary silent",
                timeout_seconds=RECOVERY_TIMEOUT_SECONDS,
            )
    seen.assert_no_server_errors_but_503()
