"""The `keygate` command as an operator runs it: a real process against the test database."""

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest

from app.core.schema_version import SchemaNotCurrent, schema_problem
from tests.cli import keygate
from tests.conftest import TEST_DATABASE_URL, make_settings, running_app
from tests.factories import login
from tests.fixtures.keys_and_servers import served_keygate
from tests.ports import free_port

# Every test here also checks that no response it saw contained a password hash.
pytestmark = pytest.mark.usefixtures("responses")

UNREACHABLE_POSTGRES = "postgresql://postgres@127.0.0.1:1/keygate"
DEMO = [
    ("1L FOUNTAIN DRINKING WATER", Decimal("2.55")),
    ("PINK COTTON BUDS", Decimal("4.85")),
    ("WINE GLASS", Decimal("9.75")),
]


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


async def test_users_create_reads_the_password_from_stdin_and_the_user_logs_in(
    client, database, tmp_path
):
    done = await keygate(
        "users",
        "create",
        "carol",
        "--email",
        "carol@example.com",
        "--full-name",
        "Carol C",
        "--password-stdin",
        stdin="tulip-meadow-42\n",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    tokens = await login(client, "carol", "tulip-meadow-42")
    assert tokens.scope == "me products:read"
    me = (await client.get("/users/me", headers=tokens.headers)).json()
    assert (me["email"], me["full_name"], me["is_admin"]) == ("carol@example.com", "Carol C", False)
    password_hash = await database.fetchval("SELECT password_hash FROM users")
    assert password_hash.startswith("$2a$")
    assert "$2a$" not in done.stdout + done.stderr
    assert "tulip-meadow-42" not in done.stdout + done.stderr


async def test_users_create_admin_makes_an_admin(client, tmp_path):
    done = await keygate(
        "users",
        "create",
        "root",
        "--admin",
        "--password-stdin",
        stdin="quiet-harbor-17\n",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    tokens = await login(client, "root", "quiet-harbor-17")
    assert set(tokens.scope.split()) == {"me", "products:read", "products:write", "admin"}


async def test_users_create_refuses_a_taken_name_in_one_line(client, services, tmp_path):
    first = await keygate(
        "users", "create", "carol", "--password-stdin", stdin="tulip-meadow-42\n", cwd=tmp_path
    )
    assert first.returncode == 0, first.stderr
    again = await keygate(
        "users", "create", "CAROL", "--password-stdin", stdin="other-password\n", cwd=tmp_path
    )
    assert again.returncode != 0
    assert len(again.error_lines) == 1, again.stderr
    assert "Traceback" not in again.stderr
    await login(client, "carol", "tulip-meadow-42")


@pytest.mark.parametrize(
    ("username", "password"),
    [("carol", "short"), ("carol", "a" * 73), ("carol", "€" * 25), ("c!", "tulip-meadow-42")],
    ids=["short-password", "73-bytes", "75-bytes", "bad-username"],
)
async def test_users_create_refuses_invalid_input_in_one_line(
    database, tmp_path, username, password
):
    done = await keygate(
        "users",
        "create",
        username,
        "--password-stdin",
        stdin=password + "\n",
        cwd=tmp_path,
        PYTHONIOENCODING="utf-8",
    )
    assert done.returncode != 0
    assert len(done.error_lines) == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert await database.fetchval("SELECT count(*) FROM users") == 0


async def test_demo_loads_the_three_products_once_however_often_it_runs(client, database, tmp_path):
    for _ in range(2):
        done = await keygate("demo", cwd=tmp_path)
        assert done.returncode == 0, done.stderr
    rows = await database.fetch("SELECT name, price FROM products ORDER BY name")
    assert [(r["name"], r["price"]) for r in rows] == DEMO
    await database.execute(
        "INSERT INTO users (username, password_hash)"
        " VALUES ('john_doe', crypt('EXAMPLE_PASSWORD', gen_salt('bf')))"
    )
    tokens = await login(client, "john_doe", "EXAMPLE_PASSWORD")
    listed = (await client.get("/products", headers=tokens.headers)).json()
    assert sorted((p["name"], p["price"]) for p in listed["items"]) == [
        (name, str(price)) for name, price in DEMO
    ]


async def test_migrate_creates_a_missing_database_and_can_run_again(tmp_path):
    name = f"keygate_test_core_migrate_{uuid.uuid4().hex[:8]}"
    url = with_database(TEST_DATABASE_URL, name)
    try:
        done = await keygate("migrate", cwd=tmp_path, DATABASE_URL=url)
        assert done.returncode == 0, done.stderr
        conn = await asyncpg.connect(url)
        try:
            assert await conn.fetchval("SELECT to_regclass('users') IS NOT NULL")
            assert await conn.fetchval("SELECT to_regclass('products') IS NOT NULL")
            assert await conn.fetchval("SELECT 1 FROM pg_extension WHERE extname = 'pgcrypto'")
        finally:
            await conn.close()
        again = await keygate("migrate", cwd=tmp_path, DATABASE_URL=url)
        assert again.returncode == 0, again.stderr
    finally:
        admin = await asyncpg.connect(with_database(TEST_DATABASE_URL, "postgres"))
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@pytest.mark.parametrize(
    "args",
    [("migrate",), ("demo",), ("users", "create", "carol", "--password-stdin")],
    ids=["migrate", "demo", "users-create"],
)
async def test_an_unreachable_postgres_is_a_one_line_error_naming_the_url(tmp_path, args):
    done = await keygate(
        *args, stdin="tulip-meadow-42\n", cwd=tmp_path, DATABASE_URL=UNREACHABLE_POSTGRES
    )
    assert done.returncode != 0
    assert len(done.error_lines) == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert "postgresql://postgres@127.0.0.1:1/" in done.error_lines[0]


async def test_serve_with_an_unreachable_redis_starts_with_one_warning_line(tmp_path):
    async with served_keygate(tmp_path, REDIS_URL="redis://127.0.0.1:1/0") as served:
        async with httpx.AsyncClient(base_url=served.url) as http:
            assert (await http.get("/health")).status_code == 200
            ready = (await http.get("/ready")).json()
        assert ready["status"] == "degraded"
        assert await served.stop() == 0
    warnings = [line for line in served.stderr.splitlines() if line.strip()]
    assert len(warnings) == 1, served.stderr
    assert warnings[0].startswith("keygate: warning: Redis is unreachable at redis://127.0.0.1:1/0")


@asynccontextmanager
async def never_migrated_database() -> AsyncIterator[str]:
    """A database of its own that exists but holds no schema."""
    name = f"keygate_test_core_schema_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(with_database(TEST_DATABASE_URL, "postgres"))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield with_database(TEST_DATABASE_URL, name)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.mark.parametrize(
    "args",
    [
        ("serve", "--port", "0"),
        ("users", "list"),
        ("demo",),
        ("users", "create", "carol", "--password-stdin"),
    ],
    ids=["serve", "users-list", "demo", "users-create"],
)
async def test_a_database_that_was_never_migrated_is_one_line_naming_keygate_migrate(
    tmp_path, args
):
    async with never_migrated_database() as url:
        done = await keygate(
            *args, stdin="tulip-meadow-42\n", cwd=tmp_path, time_limit_seconds=30, DATABASE_URL=url
        )
    assert done.returncode == 1
    assert len(done.error_lines) == 1, done.stderr
    assert "`keygate migrate`" in done.error_lines[0]


async def test_serve_refuses_a_missing_database_naming_keygate_migrate(tmp_path):
    url = with_database(TEST_DATABASE_URL, f"keygate_test_core_absent_{uuid.uuid4().hex[:8]}")

    done = await keygate("serve", "--port", "0", cwd=tmp_path, DATABASE_URL=url)

    assert done.returncode == 1
    assert len(done.error_lines) == 1, done.stderr
    assert "does not exist" in done.error_lines[0]
    assert "`keygate migrate`" in done.error_lines[0]


def test_a_known_revision_other_than_the_latest_is_behind_and_an_unknown_one_is_newer():
    heads = frozenset({"0003"})
    known = frozenset({"0001", "0002", "0003"})
    assert "behind the latest migration (0003)" in schema_problem(frozenset({"0002"}), heads, known)
    assert schema_problem(frozenset({"0003"}), heads, known) == ""
    # Written by a newer keygate during a rolling upgrade: that schema serves this code too.
    assert schema_problem(frozenset({"0004"}), heads, known) == ""
    assert "no keygate schema" in schema_problem(frozenset(), heads, known)


async def test_the_app_itself_refuses_to_start_on_a_database_never_migrated():
    async with never_migrated_database() as url:
        with pytest.raises(SchemaNotCurrent, match="`keygate migrate`"):
            async with running_app(make_settings(database_url=url)):
                pass


async def test_a_setting_error_names_the_variable_in_one_line(tmp_path):
    done = await keygate("users", "list", cwd=tmp_path, TRUSTED_PROXIES="10.0.0.0/33")

    assert done.returncode == 1
    assert len(done.error_lines) == 1, done.stderr
    assert "TRUSTED_PROXIES" in done.error_lines[0]


async def test_log_level_ignores_case(database, tmp_path):
    done = await keygate("users", "list", cwd=tmp_path, LOG_LEVEL="info")

    assert done.returncode == 0, done.stderr


async def test_serve_help_shows_each_option_s_default(tmp_path):
    done = await keygate("serve", "--help", cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    for default in ("(default: 127.0.0.1)", "(default: 8000)", "(default: 1)"):
        assert default in done.stdout
    assert "1 error" in done.stdout


@pytest.mark.parametrize(
    ("args", "secret"),
    [(("serve",), None), (("serve",), "x" * 31), (("migrate",), "short"), (("demo",), None)],
    ids=["serve-unset", "serve-31-bytes", "migrate-short", "demo-unset"],
)
async def test_production_without_a_strong_jwt_secret_refuses_to_start(tmp_path, args, secret):
    if args == ("serve",):
        args = ("serve", "--port", str(free_port()))
    done = await keygate(
        *args, cwd=tmp_path, time_limit_seconds=20, APP_ENV="production", JWT_SECRET=secret
    )
    assert done.returncode != 0
    assert len(done.error_lines) == 1, done.stderr
    assert "JWT_SECRET" in done.error_lines[0]
    assert "Traceback" not in done.stderr
    assert not (tmp_path / ".keygate-jwt-secret").exists()


async def test_production_with_a_32_byte_jwt_secret_runs(tmp_path):
    done = await keygate("demo", cwd=tmp_path, APP_ENV="production", JWT_SECRET="k" * 32)
    assert done.returncode == 0, done.stderr


async def test_the_production_secret_check_never_prints_the_secret(tmp_path):
    done = await keygate(
        "migrate", cwd=tmp_path, APP_ENV="production", JWT_SECRET="tiny-secret-value"
    )
    assert done.returncode != 0
    assert "tiny-secret-value" not in done.stdout + done.stderr
