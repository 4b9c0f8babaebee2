"""GET and PATCH /users/me: a user reads and changes their own account."""

import pytest

from tests.factories import USER_FIELDS, basic, login, make_user

# Every test here also checks that no response it saw contained a password hash.
pytestmark = pytest.mark.usefixtures("responses")


async def test_reading_my_account_returns_the_user_fields_and_no_secret(client, services):
    user = await make_user(services, email="alice@example.com")
    tokens = await login(client)
    response = await client.get("/users/me", headers=tokens.headers)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == USER_FIELDS
    assert body["id"] == user.id
    assert body["username"] == "alice"
    assert body["email"] == "alice@example.com"
    assert body["is_admin"] is False
    assert "password" not in response.text
    assert "totp_secret" not in response.text


async def test_reading_my_account_without_credentials_is_401(client):
    response = await client.get("/users/me")
    assert response.status_code == 401
    assert "Bearer" in response.headers["www-authenticate"]


async def test_changing_my_email_and_full_name_is_kept(client, services):
    await make_user(services)
    tokens = await login(client)
    response = await client.patch(
        "/users/me",
        json={
            "email": "alice@example.org",
            "full_name": "Alice Liddell",
            "current_password": "correct horse battery staple",
        },
        headers=tokens.headers,
    )
    assert response.status_code == 200
    assert response.json()["email"] == "alice@example.org"
    assert response.json()["full_name"] == "Alice Liddell"
    again = await client.get("/users/me", headers=tokens.headers)
    assert again.json()["email"] == "alice@example.org"
    assert again.json()["full_name"] == "Alice Liddell"


async def test_my_account_read_after_a_change_shows_it_at_once(client, services):
    """The body of GET /users/me is made once per version of the user record and reused: a
    change, the user's own or an admin's, is a new version from the next request."""
    await make_user(services)
    await make_user(services, "root", is_admin=True)
    mine, admins = await login(client), await login(client, "root")
    first = await client.get("/users/me", headers=mine.headers)
    assert (first.json()["full_name"], first.json()["is_admin"]) == (None, False)

    await client.patch("/users/me", json={"full_name": "Alice"}, headers=mine.headers)
    renamed = await client.get("/users/me", headers=mine.headers)
    user_id = renamed.json()["id"]
    await client.patch(f"/users/{user_id}", json={"is_admin": True}, headers=admins.headers)
    promoted = await client.get("/users/me", headers=mine.headers)

    assert renamed.json()["full_name"] == "Alice"
    assert (promoted.json()["full_name"], promoted.json()["is_admin"]) == ("Alice", True)


async def test_changing_only_my_full_name_keeps_my_email(client, services):
    await make_user(services, email="alice@example.com")
    tokens = await login(client)
    response = await client.patch("/users/me", json={"full_name": "Alice"}, headers=tokens.headers)
    assert response.status_code == 200
    assert response.json()["email"] == "alice@example.com"
    assert response.json()["full_name"] == "Alice"


async def test_changing_my_account_by_http_basic_works(client, services):
    await make_user(services)
    response = await client.patch(
        "/users/me",
        json={"full_name": "Alice B"},
        headers=basic("alice", "correct horse battery staple"),
    )
    assert response.status_code == 200
    assert response.json()["full_name"] == "Alice B"


async def test_a_user_cannot_make_themselves_admin_or_rename_themselves(client, services):
    await make_user(services)
    tokens = await login(client)
    response = await client.patch(
        "/users/me",
        json={"is_admin": True, "is_active": True, "username": "root"},
        headers=tokens.headers,
    )
    assert response.status_code in (200, 422)
    me = (await client.get("/users/me", headers=tokens.headers)).json()
    assert me["is_admin"] is False
    assert me["username"] == "alice"
    relogin = await login(client)
    assert "admin" not in relogin.scope.split()


async def test_a_malformed_email_in_my_account_is_422(client, services):
    await make_user(services)
    tokens = await login(client)
    response = await client.patch("/users/me", json={"email": "nope"}, headers=tokens.headers)
    assert response.status_code == 422


async def test_a_token_without_the_me_scope_cannot_read_my_account(client, services):
    await make_user(services)
    tokens = await login(client, scope="products:read")
    response = await client.get("/users/me", headers=tokens.headers)
    assert response.status_code == 403
    assert response.headers["www-authenticate"] == ('Bearer error="insufficient_scope", scope="me"')
    patched = await client.patch("/users/me", json={"full_name": "x"}, headers=tokens.headers)
    assert patched.status_code == 403
