"""POST /users: registration, its validation and its conflicts."""

import asyncio

import pytest

from tests.factories import USER_FIELDS, login

# Every test here also checks that no response it saw contained a password hash.
pytestmark = pytest.mark.usefixtures("responses")


async def test_registering_returns_201_with_the_user_and_no_hash(client):
    response = await client.post(
        "/users",
        json={
            "username": "alice",
            "password": "correct horse battery staple",
            "email": "alice@example.com",
            "full_name": "Alice Liddell",
        },
    )
    assert response.status_code == 201
    body = response.json()
    assert set(body) == USER_FIELDS
    assert body["username"] == "alice"
    assert body["email"] == "alice@example.com"
    assert body["full_name"] == "Alice Liddell"
    assert body["is_active"] is True
    assert body["is_admin"] is False
    assert body["totp_enabled"] is False
    assert isinstance(body["id"], int)


async def test_a_registered_user_can_log_in(client):
    await client.post("/users", json={"username": "alice", "password": "correct horse 1"})
    tokens = await login(client, "alice", "correct horse 1")
    assert tokens.scope == "me products:read"


async def test_registering_cannot_make_oneself_an_admin(client):
    response = await client.post(
        "/users",
        json={
            "username": "mallory",
            "password": "correct horse battery staple",
            "is_admin": True,
            "is_active": True,
            "totp_enabled": True,
        },
    )
    assert response.status_code in (201, 422)
    if response.status_code == 201:
        assert response.json()["is_admin"] is False
        assert response.json()["totp_enabled"] is False


async def test_a_taken_username_is_409(client):
    first = await client.post("/users", json={"username": "alice", "password": "password-one"})
    assert first.status_code == 201
    again = await client.post("/users", json={"username": "alice", "password": "password-two"})
    assert again.status_code == 409
    assert isinstance(again.json()["detail"], str)


async def test_usernames_differing_only_in_case_are_the_same_name(client):
    first = await client.post("/users", json={"username": "alice", "password": "password-one"})
    assert first.status_code == 201
    again = await client.post("/users", json={"username": "Alice", "password": "password-two"})
    assert again.status_code == 409


async def test_a_user_registered_with_capitals_logs_in_in_any_case(client):
    await client.post("/users", json={"username": "Alice", "password": "password-one"})
    tokens = await login(client, "aLiCe", "password-one")
    me = await client.get("/users/me", headers=tokens.headers)
    assert me.json()["username"] == "Alice"


@pytest.mark.parametrize(
    "username",
    ["al", "a" * 51, "al ice", "alice!", "alice@example.com", "al/ice", "", "alice\n"],
)
async def test_a_username_outside_the_allowed_characters_or_length_is_422(client, username):
    response = await client.post(
        "/users", json={"username": username, "password": "correct horse battery staple"}
    )
    assert response.status_code == 422
    assert isinstance(response.json()["detail"], list)


@pytest.mark.parametrize("username", ["abc", "a" * 50, "john.doe_1-x"])
async def test_usernames_of_3_to_50_allowed_characters_are_accepted(client, username):
    response = await client.post(
        "/users", json={"username": username, "password": "correct horse battery staple"}
    )
    assert response.status_code == 201


@pytest.mark.parametrize(
    "password",
    [
        "short",
        "7bytes!",
        "ééé",  # 3 characters, 6 bytes
        "a" * 73,
        "€" * 25,  # 25 characters but 75 UTF-8 bytes
        "a" * 1000,
    ],
    ids=["5-bytes", "7-bytes", "6-bytes-in-3-chars", "73-bytes", "75-bytes-in-25-chars", "1000"],
)
async def test_a_password_outside_8_to_72_utf8_bytes_is_422(client, password):
    response = await client.post("/users", json={"username": "alice", "password": password})
    assert response.status_code == 422
    assert password not in response.text  # a rejected password is never echoed


@pytest.mark.parametrize(
    "password",
    ["8bytes!!", "éééé", "a" * 72, "€" * 24],
    ids=["8-bytes", "8-bytes-in-4-chars", "72-bytes", "72-bytes-in-24-chars"],
)
async def test_a_password_of_8_to_72_utf8_bytes_is_accepted_and_logs_in(client, password):
    response = await client.post("/users", json={"username": "alice", "password": password})
    assert response.status_code == 201
    await login(client, "alice", password)


async def test_a_malformed_email_is_422(client):
    response = await client.post(
        "/users",
        json={"username": "alice", "password": "correct horse", "email": "not-an-email"},
    )
    assert response.status_code == 422


@pytest.mark.parametrize(
    "body",
    [{}, {"username": "alice"}, {"password": "correct horse"}, [], "alice", None],
    ids=["empty", "no-password", "no-username", "list", "string", "null"],
)
async def test_a_malformed_registration_body_is_422(client, body):
    response = await client.post("/users", json=body)
    assert response.status_code == 422


async def test_registration_closed_is_403_and_creates_nobody(start_client, database):
    closed = await start_client(registration_open=False)
    response = await closed.post(
        "/users", json={"username": "alice", "password": "correct horse battery staple"}
    )
    assert response.status_code == 403
    assert isinstance(response.json()["detail"], str)
    assert await database.fetchval("SELECT count(*) FROM users") == 0


async def test_twenty_concurrent_registrations_of_one_name_give_one_201_and_nineteen_409(
    client, database
):
    async def register(i: int):
        return await client.post(
            "/users", json={"username": "bob", "password": f"password-number-{i}"}
        )

    statuses = [r.status_code for r in await asyncio.gather(*(register(i) for i in range(20)))]
    assert statuses.count(201) == 1, statuses
    assert statuses.count(409) == 19, statuses
    assert await database.fetchval("SELECT count(*) FROM users WHERE lower(username) = 'bob'") == 1


async def test_concurrent_registrations_of_one_name_in_different_cases_give_one_201(
    client, database
):
    names = ["carol", "Carol", "CAROL", "cArOl", "caroL"] * 2

    async def register(name: str):
        return await client.post("/users", json={"username": name, "password": "password-x"})

    statuses = [r.status_code for r in await asyncio.gather(*(register(n) for n in names))]
    assert sorted(statuses) == [201] + [409] * 9, statuses
    count = await database.fetchval("SELECT count(*) FROM users WHERE lower(username) = 'carol'")
    assert count == 1
