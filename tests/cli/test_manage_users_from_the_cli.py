"""An operator manages users with the installed `keygate` command (a real process on the test
database and Redis), as Django's changepassword and Keycloak's kcadm do: every change counts
for the running app at once, through its auth cache, with no restart."""

import pyotp
import pytest

from tests.cli import keygate
from tests.factories import DEFAULT_PASSWORD, basic, login, make_user

# Every test here also checks that no response it saw contained a password hash.
pytestmark = pytest.mark.usefixtures("responses")

NEW_PASSWORD = "saffron-lighthouse-27"
WRONG = "not the password at all"
MAX_FAILURES = 5  # LOGIN_MAX_FAILURES's default, which the test apps keep
UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"
EXIT_NO_SUCH_USER = 3


def password_form(password: str = DEFAULT_PASSWORD) -> dict[str, str]:
    return {"grant_type": "password", "username": "alice", "password": password}


async def fail_logins(client) -> None:
    for _ in range(MAX_FAILURES):
        assert (await client.post("/token", data=password_form(WRONG))).status_code == 400
    assert (await client.post("/token", data=password_form())).status_code == 429


async def test_users_list_prints_a_table_and_filters_admins_and_disabled_users(services, tmp_path):
    await make_user(services, "alice", email="alice@example.com")
    await make_user(services, "root", is_admin=True)
    bob = await make_user(services, "bob")
    await services.accounts.set_flags(bob.id, is_active=False, is_admin=None)

    everyone = await keygate("users", "list", cwd=tmp_path)
    admins = await keygate("users", "list", "--admin", cwd=tmp_path)
    disabled = await keygate("users", "list", "--inactive", cwd=tmp_path)

    assert everyone.returncode == 0, everyone.stderr
    header, *rows = everyone.stdout.splitlines()
    assert header.split() == ["id", "username", "email", "admin", "active", "totp", "created"]
    assert [row.split()[1:6] for row in rows] == [
        ["alice", "alice@example.com", "no", "yes", "no"],
        ["root", "-", "yes", "yes", "no"],
        ["bob", "-", "no", "no", "no"],
    ]
    assert [row.split()[1] for row in admins.stdout.splitlines()[1:]] == ["root"]
    assert [row.split()[1] for row in disabled.stdout.splitlines()[1:]] == ["bob"]
    assert "$2" not in everyone.stdout


async def test_set_password_stops_the_old_password_and_every_token_at_once(
    client, services, tmp_path
):
    await make_user(services)
    tokens = await login(client)
    old_basic = basic("alice", DEFAULT_PASSWORD)
    assert (await client.get("/users/me", headers=old_basic)).status_code == 200  # now cached

    done = await keygate(
        "users",
        "set-password",
        "alice",
        "--password-stdin",
        stdin=NEW_PASSWORD + "\n",
        cwd=tmp_path,
    )

    assert done.returncode == 0, done.stderr
    assert (await client.get("/users/me", headers=old_basic)).status_code == 401
    assert (await client.get("/users/me", headers=tokens.headers)).status_code == 401
    refreshed = await client.post(
        "/token", data={"grant_type": "refresh_token", "refresh_token": tokens.refresh_token}
    )
    assert refreshed.status_code == 400
    assert (await client.post("/token", data=password_form())).status_code == 400
    assert (await client.get("/users/me", headers=basic("alice", NEW_PASSWORD))).status_code == 200
    await login(client, password=NEW_PASSWORD)
    assert NEW_PASSWORD not in done.stdout + done.stderr


@pytest.mark.parametrize("password", ["short", "password123", "alice-is-my-name"])
async def test_set_password_applies_the_password_policy_in_one_line(
    client, services, tmp_path, password
):
    await make_user(services)

    done = await keygate(
        "users", "set-password", "alice", "--password-stdin", stdin=password + "\n", cwd=tmp_path
    )

    assert done.returncode == 1
    assert len(done.error_lines) == 1, done.stderr
    assert done.error_lines[0].startswith("keygate: invalid password: ")
    await login(client)


async def test_disable_ends_every_session_at_once_and_refuses_logins_until_enabled(
    client, services, tmp_path
):
    await make_user(services)
    tokens = await login(client)

    disabled = await keygate("users", "disable", "alice", cwd=tmp_path)

    assert disabled.returncode == 0, disabled.stderr
    assert (await client.get("/users/me", headers=tokens.headers)).status_code == 401
    basic_call = await client.get("/users/me", headers=basic("alice", DEFAULT_PASSWORD))
    assert basic_call.status_code == 401
    assert (await client.post("/token", data=password_form())).status_code == 400

    enabled = await keygate("users", "enable", "alice", cwd=tmp_path)

    assert enabled.returncode == 0, enabled.stderr
    assert (await client.get("/users/me", headers=tokens.headers)).status_code == 401
    await login(client)


async def test_unlock_lets_a_throttled_user_log_in_at_once(client, services, tmp_path):
    await make_user(services)
    await make_user(services, "alicia")
    await fail_logins(client)
    for _ in range(MAX_FAILURES):
        await client.post("/token", data={**password_form(WRONG), "username": "alicia"})

    done = await keygate("users", "unlock", "ALICE", cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    await login(client)
    # Only that user: another whose name starts the same stays throttled.
    still = await client.post("/token", data={**password_form(), "username": "alicia"})
    assert still.status_code == 429


async def test_unlock_clears_failures_counted_in_postgresql_while_redis_was_down(
    services, start_client, tmp_path
):
    await make_user(services)
    without_redis = await start_client(redis_url=UNREACHABLE_REDIS)
    await fail_logins(without_redis)

    done = await keygate("users", "unlock", "alice", cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    await login(without_redis)


async def test_sessions_end_ends_every_session_of_the_user_only(client, services, tmp_path):
    await make_user(services)
    await make_user(services, "bob")
    first, second, bobs = await login(client), await login(client), await login(client, "bob")

    done = await keygate("sessions", "end", "--user", "alice", cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    assert "ended 2 session(s)" in done.stdout
    for tokens in (first, second):
        assert (await client.get("/users/me", headers=tokens.headers)).status_code == 401
    assert (await client.get("/users/me", headers=bobs.headers)).status_code == 200
    await login(client)


@pytest.mark.parametrize(
    "args",
    [
        ("users", "set-password", "ghost", "--password-stdin"),
        ("users", "disable", "ghost"),
        ("users", "enable", "ghost"),
        ("users", "unlock", "ghost"),
        ("users", "totp-reset", "ghost"),
        ("sessions", "end", "--user", "ghost"),
    ],
    ids=["set-password", "disable", "enable", "unlock", "totp-reset", "sessions-end"],
)
async def test_an_unknown_user_is_exit_status_3_with_one_line(database, tmp_path, args):
    done = await keygate(*args, stdin=NEW_PASSWORD + "\n", cwd=tmp_path)

    assert done.returncode == EXIT_NO_SUCH_USER, done.stderr
    assert done.error_lines == ["keygate: no such user: 'ghost'"]


@pytest.mark.parametrize(
    "args",
    [("users", "disable"), ("sessions", "end"), ("users", "list", "--everyone")],
    ids=["no-username", "no-user", "unknown-option"],
)
async def test_a_usage_error_is_exit_status_2(tmp_path, args):
    done = await keygate(*args, cwd=tmp_path)

    assert done.returncode == 2
    assert "usage: keygate" in done.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("users", "list"),
        ("users", "set-password"),
        ("users", "disable"),
        ("users", "enable"),
        ("users", "unlock"),
        ("users", "totp-reset"),
        ("users", "create"),
        ("sessions", "end"),
    ],
)
async def test_each_command_explains_itself_and_its_exit_statuses(tmp_path, args):
    done = await keygate(*args, "--help", cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    assert f"usage: keygate {' '.join(args)}" in done.stdout
    assert "3 no such user" in done.stdout


async def test_an_unreachable_postgres_is_a_one_line_error(tmp_path):
    done = await keygate(
        "users", "list", cwd=tmp_path, DATABASE_URL="postgresql://postgres@127.0.0.1:1/keygate"
    )

    assert done.returncode == 1
    assert len(done.error_lines) == 1, done.stderr
    assert "postgresql://postgres@127.0.0.1:1/" in done.error_lines[0]


async def turn_on_totp(services, clock, user_id: int, username: str = "alice") -> None:
    enrolment = await services.enrolment.begin(user_id, username)
    await services.enrolment.confirm(user_id, pyotp.TOTP(enrolment.secret).at(clock()))


async def test_totp_reset_lets_a_user_who_lost_their_device_log_in_with_the_password(
    client, services, clock, tmp_path
):
    user = await make_user(services)
    tokens = await login(client)
    await turn_on_totp(services, clock, user.id)
    assert (await client.post("/token", data=password_form())).status_code == 403  # mfa_required

    done = await keygate("users", "totp-reset", "alice", cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    assert "every session ended" in done.stdout
    assert (await client.get("/users/me", headers=tokens.headers)).status_code == 401
    again = await login(client)
    me = (await client.get("/users/me", headers=again.headers)).json()
    assert me["totp_enabled"] is False
    # Basic, refused while TOTP was on, works again: the cached record was replaced too.
    assert (
        await client.get("/users/me", headers=basic("alice", DEFAULT_PASSWORD))
    ).status_code == 200


async def test_totp_reset_of_a_user_without_totp_is_one_line_and_ends_nothing(
    client, services, tmp_path
):
    await make_user(services)
    tokens = await login(client)

    done = await keygate("users", "totp-reset", "alice", cwd=tmp_path)

    assert done.returncode == 1
    assert done.error_lines == ["keygate: alice has no TOTP to reset"]
    assert (await client.get("/users/me", headers=tokens.headers)).status_code == 200


async def test_users_create_through_the_api_s_rules_refuses_a_name_taken_in_another_case(
    client, tmp_path
):
    registered = await client.post("/users", json={"username": "Carol", "password": NEW_PASSWORD})
    assert registered.status_code == 201, registered.text

    done = await keygate(
        "users", "create", "carol", "--password-stdin", stdin=NEW_PASSWORD + "\n", cwd=tmp_path
    )

    assert done.returncode == 1
    assert done.error_lines == ["keygate: username 'carol' is already taken"]


@pytest.mark.parametrize(
    ("args", "hint"),
    [
        (("users", "create", "carol"), "--password-stdin"),
        (("users", "set-password", "alice"), "--password-stdin"),
        (("users", "create", "carol", "--password-stdin"), "no password on standard input"),
        (("users", "set-password", "alice", "--password-stdin"), "no password on standard input"),
    ],
    ids=["create", "set-password", "create-stdin", "set-password-stdin"],
)
async def test_a_password_with_standard_input_closed_is_one_line_naming_password_stdin(
    client, services, tmp_path, args, hint
):
    await make_user(services)

    done = await keygate(*args, stdin="", cwd=tmp_path)

    assert done.returncode == 1
    assert len(done.error_lines) == 1, done.stderr
    assert hint in done.error_lines[0]
    await login(client)
    assert (
        await client.post("/token", data={**password_form(), "username": "carol"})
    ).status_code == 400
