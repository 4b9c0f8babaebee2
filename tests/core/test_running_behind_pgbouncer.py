"""Behind a real PgBouncer in transaction mode (asyncpg's statement cache off), keygate works
end to end: register, log in, bearer and Basic calls checked from PostgreSQL, refresh, logout.
A private pgbouncer process is started for the test and always stopped."""

import asyncio
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest

from app.core.settings import Settings
from tests.conftest import TEST_DATABASE_URL, make_settings, running_app
from tests.factories import DEFAULT_PASSWORD, Login, basic, login
from tests.fixtures.keys_and_servers import client_of
from tests.ports import free_port

PGBOUNCER = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
MISSING = "pgbouncer is not installed: install the Debian package pgbouncer (scripts/test does)"
START_SECONDS = 15.0
# Fewer server connections than the app's pool, so transactions of different app connections
# really do share server connections (what transaction mode is about).
SERVER_POOL_SIZE = 2


@dataclass(frozen=True)
class Bouncer:
    database_url: str
    log_path: Path

    @property
    def log(self) -> str:
        return log_text(self.log_path)


def bouncer_config(directory: Path, port: int, database: str) -> Path:
    upstream = urlsplit(TEST_DATABASE_URL)
    (directory / "userlist.txt").write_text('"postgres" ""\n')
    ini = directory / "pgbouncer.ini"
    ini.write_text(
        f"""\
[databases]
{database} = host={upstream.hostname} port={upstream.port or 5432} dbname={database}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {directory / "userlist.txt"}
pool_mode = transaction
default_pool_size = {SERVER_POOL_SIZE}
max_client_conn = 100
server_reset_query =
ignore_startup_parameters = extra_float_digits
"""
    )
    return ini


def readable_by(directory: Path, user: str) -> None:
    """pgbouncer refuses to run as root; as root it is started with `-u postgres`, which must
    then be able to read its files."""
    entry = pwd.getpwnam(user)
    for path in (directory, *directory.iterdir()):
        os.chown(path, entry.pw_uid, entry.pw_gid)
    directory.chmod(0o755)


def log_text(path: Path) -> str:
    return path.read_text(errors="replace")


async def wait_until_listening(url: str, process: asyncio.subprocess.Process, log: Path) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.returncode is not None:
            pytest.fail(f"pgbouncer exited {process.returncode}: {log_text(log)}")
        try:
            conn = await asyncpg.connect(url, statement_cache_size=0, timeout=2)
        except (OSError, asyncpg.PostgresError, TimeoutError):
            await asyncio.sleep(0.05)  # bounded polling of a real server starting up
            continue
        await conn.close()
        return
    pytest.fail(f"pgbouncer not accepting connections after {START_SECONDS}s: {log_text(log)}")


@pytest.fixture
async def pgbouncer(database) -> AsyncIterator[Bouncer]:
    if not os.access(PGBOUNCER, os.X_OK):
        pytest.fail(MISSING, pytrace=False)
    database_name = urlsplit(TEST_DATABASE_URL).path.lstrip("/")
    # Not tmp_path: pytest's base directory is 0700, and pgbouncer runs as postgres.
    directory = Path(tempfile.mkdtemp(prefix="keygate-pgbouncer-"))
    port = free_port()
    ini = bouncer_config(directory, port, database_name)
    log_path = directory / "pgbouncer.log"
    as_user: list[str] = []
    if os.geteuid() == 0:
        readable_by(directory, "postgres")
        as_user = ["-u", "postgres"]
    log_file = log_path.open("wb")
    process = await asyncio.create_subprocess_exec(
        PGBOUNCER, *as_user, str(ini), stdout=log_file, stderr=subprocess.STDOUT
    )
    log_file.close()
    url = urlunsplit(urlsplit(TEST_DATABASE_URL)._replace(netloc=f"postgres@127.0.0.1:{port}"))
    try:
        await wait_until_listening(url, process, log_path)
        yield Bouncer(url, log_path)
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()
                await process.wait()
        shutil.rmtree(directory, ignore_errors=True)


def settings_through(bouncer: Bouncer) -> Settings:
    return make_settings(database_url=bouncer.database_url, database_statement_cache_size=0)


async def test_the_whole_flow_works_through_pgbouncer_in_transaction_mode(pgbouncer, clock, redis):
    async with running_app(settings_through(pgbouncer), clock) as app, client_of(app) as client:
        registered = await client.post(
            "/users", json={"username": "frank", "password": DEFAULT_PASSWORD}
        )
        assert registered.status_code == 201, registered.text
        tokens = await login(client, "frank")
        # An empty cache: every check below goes to PostgreSQL, through PgBouncer.
        await redis.flushdb()
        me = await client.get("/users/me", headers=tokens.headers)
        assert me.status_code == 200, me.text
        assert me.headers["server-timing"].startswith('auth;desc="db"')
        await redis.flushdb()
        by_basic = await client.get("/users/me", headers=basic("frank", DEFAULT_PASSWORD))
        assert by_basic.status_code == 200, by_basic.text
        assert by_basic.headers["server-timing"].startswith('auth;desc="db"')

        refreshed = await client.post(
            "/token", data={"grant_type": "refresh_token", "refresh_token": tokens.refresh_token}
        )
        assert refreshed.status_code == 200, refreshed.text
        body = refreshed.json()
        newest = Login(body["access_token"], body["refresh_token"], body["scope"])
        sessions = await client.get("/users/me/sessions", headers=newest.headers)
        assert sessions.status_code == 200
        assert len(sessions.json()) == 1

        assert (await client.post("/logout", headers=newest.headers)).status_code == 204
        assert (await client.get("/users/me", headers=newest.headers)).status_code == 401
        again = await client.post(
            "/token", data={"grant_type": "refresh_token", "refresh_token": newest.refresh_token}
        )
        assert again.json()["error"] == "invalid_grant"

    assert "login attempt: db=" in pgbouncer.log  # the app's connections went through it


async def test_concurrent_requests_share_few_server_connections_without_errors(
    pgbouncer, clock, redis
):
    async with running_app(settings_through(pgbouncer), clock) as app, client_of(app) as client:
        for n in range(8):
            registered = await client.post(
                "/users", json={"username": f"user{n}", "password": DEFAULT_PASSWORD}
            )
            assert registered.status_code == 201, registered.text
        logins = await asyncio.gather(*(login(client, f"user{n}") for n in range(8)))
        await redis.flushdb()

        answers: list[httpx.Response] = await asyncio.gather(
            *(
                client.get(path, headers=tokens.headers)
                for tokens in logins
                for path in ("/users/me", "/users/me/sessions", "/products")
            )
        )

    assert [a.status_code for a in answers] == [200] * len(answers), [
        a.text for a in answers if a.status_code != 200
    ]
