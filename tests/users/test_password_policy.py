"""Password rules after NIST SP 800-63B §5.1.1.2: at least 8, at most 72 UTF-8 bytes (bcrypt's
limit, named in the error), not a commonly used password, not containing the username; at
registration, at password change and in `keygate users create`."""

import asyncio
import io
import sys

import pytest

from app.cli import main as keygate
from tests.conftest import TEST_DATABASE_URL, TEST_REDIS_URL
from tests.factories import DEFAULT_PASSWORD, login, make_user

EURO = "€"  # three bytes in UTF-8
EXACTLY_72_BYTES = EURO * 20 + "abcdefghijkl"
EXACTLY_73_BYTES = EXACTLY_72_BYTES + "m"
COMMON = ["password123", "qwertyuiop", "PassWord123"]
WITH_THE_USERNAME = ["alice-in-wonderland", "my-ALICE-secret", "xxAlIcExx-2024"]
# Every password the policy refuses, for each route that sets one.
REFUSED = ["tulip-7", EXACTLY_73_BYTES, "tulip\x00meadow-42", *COMMON, *WITH_THE_USERNAME]
REFUSED_IDS = ["7-chars", "73-bytes", "nul", *(f"common-{n}" for n in (1, 2, 3))]
REFUSED_IDS += [f"name-{n}" for n in (1, 2, 3)]


GOOD_PASSWORD = "tulip-meadow-42"


async def register(client, username="alice", password=GOOD_PASSWORD):
    return await client.post("/users", json={"username": username, "password": password})


def strings_in(value):
    """Every string in a decoded JSON value, keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from strings_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings_in(item)


def password_errors(response, field="password"):
    """The messages of a 422 about `field`."""
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    return [e["msg"] for e in detail if e["loc"][-1] == field]


def test_the_two_byte_counts_used_here_are_what_they_say():
    assert len(EXACTLY_72_BYTES.encode()) == 72
    assert len(EXACTLY_73_BYTES.encode()) == 73


# --- registration ---------------------------------------------------------------------------


async def test_a_seven_character_password_is_refused(client):
    response = await register(client, password="tulip-7")
    assert password_errors(response)


async def test_an_eight_character_password_is_accepted(client):
    response = await register(client, password="quokka-8")
    assert response.status_code == 201, response.text
    await login(client, "alice", "quokka-8")


async def test_a_password_of_exactly_72_bytes_with_multibyte_characters_is_accepted(client):
    response = await register(client, password=EXACTLY_72_BYTES)
    assert response.status_code == 201, response.text
    await login(client, "alice", EXACTLY_72_BYTES)


async def test_a_password_of_73_bytes_is_refused_and_the_error_names_the_72_byte_limit(client):
    response = await register(client, password=EXACTLY_73_BYTES)
    messages = password_errors(response)
    assert messages
    assert any("72" in m and "byte" in m for m in messages), messages
    assert EXACTLY_73_BYTES not in response.text


async def test_a_password_with_a_nul_character_is_refused(client):
    response = await register(client, password="tulip\x00meadow-42")
    assert password_errors(response)


@pytest.mark.parametrize("password", COMMON)
async def test_a_common_password_is_refused_at_registration(client, password):
    response = await register(client, password=password)
    assert password_errors(response)


@pytest.mark.parametrize("password", WITH_THE_USERNAME)
async def test_a_password_containing_the_username_in_any_case_is_refused(client, password):
    response = await register(client, "alice", password)
    assert password_errors(response)


@pytest.mark.parametrize("password", [EXACTLY_73_BYTES, "tulip\x00meadow-42", "password123"])
async def test_a_refused_password_is_never_echoed_back(client, password):
    response = await register(client, password=password)
    assert response.status_code == 422
    assert not any(password in text for text in strings_in(response.json()))


async def test_a_refused_registration_creates_nobody(client, database):
    await register(client, password="password123")
    assert await database.fetchval("SELECT count(*) FROM users") == 0


# --- password change ------------------------------------------------------------------------


async def change_password(client, tokens, new_password):
    return await client.post(
        "/users/me/password",
        json={"current_password": DEFAULT_PASSWORD, "new_password": new_password},
        headers=tokens.headers,
    )


@pytest.mark.parametrize(
    "new_password",
    REFUSED,
    ids=REFUSED_IDS,
)
async def test_a_password_change_to_a_refused_password_is_422_and_changes_nothing(
    client, services, new_password
):
    await make_user(services, "alice")
    tokens = await login(client)
    response = await change_password(client, tokens, new_password)
    assert password_errors(response, "new_password")
    await login(client)  # the old password still works


async def test_a_password_change_past_72_bytes_names_the_limit(client, services):
    await make_user(services, "alice")
    tokens = await login(client)
    messages = password_errors(
        await change_password(client, tokens, EXACTLY_73_BYTES), "new_password"
    )
    assert any("72" in m for m in messages), messages


async def test_a_password_change_to_exactly_72_bytes_is_accepted(client, services):
    await make_user(services, "alice")
    tokens = await login(client)
    response = await change_password(client, tokens, EXACTLY_72_BYTES)
    assert response.status_code == 204, response.text
    await login(client, "alice", EXACTLY_72_BYTES)


# --- keygate users create -------------------------------------------------------------------


@pytest.fixture
def cli_environment(monkeypatch, tmp_path):
    """`keygate` as an operator runs it, in-process: the test database, no .env file."""
    monkeypatch.chdir(tmp_path)
    for name in ("APP_ENV", "JWT_SECRET", "JWT_ALGORITHM", "TRUSTED_PROXIES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", TEST_DATABASE_URL)
    monkeypatch.setenv("REDIS_URL", TEST_REDIS_URL)
    monkeypatch.setenv("BCRYPT_ROUNDS", "4")

    async def users_create(username: str, password: str) -> None:
        monkeypatch.setattr(sys, "stdin", io.StringIO(password + "\n"))
        await asyncio.to_thread(keygate, ["users", "create", username, "--password-stdin"])

    return users_create


@pytest.mark.parametrize(
    "password",
    REFUSED,
    ids=REFUSED_IDS,
)
async def test_keygate_users_create_refuses_a_weak_password_with_a_message(
    cli_environment, database, password
):
    with pytest.raises(SystemExit) as exited:
        await cli_environment("alice", password)
    message = str(exited.value.code)
    assert message.startswith("keygate: "), message
    assert "password" in message, message
    assert password not in message
    assert await database.fetchval("SELECT count(*) FROM users") == 0


async def test_keygate_users_create_names_the_72_byte_limit(cli_environment):
    with pytest.raises(SystemExit) as exited:
        await cli_environment("alice", EXACTLY_73_BYTES)
    assert "72" in str(exited.value.code)


async def test_keygate_users_create_accepts_a_good_password(cli_environment, client, capsys):
    await cli_environment("alice", "tulip-meadow-42")
    assert "created user alice" in capsys.readouterr().out
    await login(client, "alice", "tulip-meadow-42")
