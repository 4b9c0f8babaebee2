"""GET /users/me/sessions and DELETE /users/me/sessions/{id}: a user sees and ends their own
sessions, and only their own."""

import uuid
from datetime import datetime

import httpx
import pytest
from jose import jwt

from tests.factories import DEFAULT_PASSWORD, Login, login, make_user, rotate

USER_AGENT = "keygate-tests/1.0 (sessions)"
CLIENT_IP = "203.0.113.7"  # what RunningApp.client() presents


def sid(tokens: Login) -> str:
    return str(jwt.get_unverified_claims(tokens.access_token)["sid"])


async def me_status(client: httpx.AsyncClient, headers: dict[str, str]) -> int:
    return (await client.get("/users/me", headers=headers)).status_code


async def login_with_agent(client: httpx.AsyncClient, username: str, user_agent: str) -> Login:
    response = await client.post(
        "/token",
        data={"grant_type": "password", "username": username, "password": DEFAULT_PASSWORD},
        headers={"User-Agent": user_agent},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    return Login(body["access_token"], body["refresh_token"], body["scope"])


async def sessions_of(client: httpx.AsyncClient, tokens: Login) -> list[dict]:
    response = await client.get("/users/me/sessions", headers=tokens.headers)
    assert response.status_code == 200, response.text
    return list(response.json())


async def refresh_status(client: httpx.AsyncClient, tokens: Login) -> int:
    response = await client.post(
        "/token", data={"grant_type": "refresh_token", "refresh_token": tokens.refresh_token}
    )
    return response.status_code


async def test_the_list_shows_each_live_session_with_its_details(client, services):
    await make_user(services)
    laptop = await login_with_agent(client, "alice", USER_AGENT)
    phone = await login_with_agent(client, "alice", "phone-app/2.0")

    listed = await sessions_of(client, laptop)

    assert {s["id"] for s in listed} == {sid(laptop), sid(phone)}
    for session in listed:
        assert set(session) >= {"id", "created_at", "last_used_at", "user_agent", "ip", "current"}
        assert session["ip"] == CLIENT_IP
        datetime.fromisoformat(session["created_at"])
        datetime.fromisoformat(session["last_used_at"])
    by_id = {s["id"]: s for s in listed}
    assert by_id[sid(laptop)]["user_agent"] == USER_AGENT
    assert by_id[sid(phone)]["user_agent"] == "phone-app/2.0"


async def test_exactly_one_listed_session_is_current_and_it_is_the_callers(client, services):
    await make_user(services)
    sessions = [await login(client) for _ in range(3)]

    for caller in sessions:
        listed = await sessions_of(client, caller)
        current = [s["id"] for s in listed if s["current"]]
        assert current == [sid(caller)]


async def test_a_refresh_keeps_the_session_in_the_list_under_the_same_id(client, services):
    await make_user(services)
    tokens = await login(client)
    rotated = await rotate(client, tokens)

    listed = await sessions_of(client, rotated)

    assert [(s["id"], s["current"]) for s in listed] == [(sid(tokens), True)]


async def test_ended_sessions_leave_the_list(client, services):
    await make_user(services)
    kept = await login(client)
    logged_out = await login(client)
    revoked = await login(client)
    await client.post("/logout", headers=logged_out.headers)
    await client.post("/token/revoke", data={"token": revoked.refresh_token})

    assert [s["id"] for s in await sessions_of(client, kept)] == [sid(kept)]


async def test_the_list_holds_only_the_callers_own_sessions(client, services):
    await make_user(services, "alice")
    await make_user(services, "bob")
    alice = await login(client, "alice")
    await login(client, "bob")

    assert [s["id"] for s in await sessions_of(client, alice)] == [sid(alice)]


async def test_deleting_a_session_ends_it(client, services):
    await make_user(services)
    caller = await login(client)
    other = await login(client)

    response = await client.delete(f"/users/me/sessions/{sid(other)}", headers=caller.headers)

    assert response.status_code == 204
    assert await me_status(client, other.headers) == 401
    assert await refresh_status(client, other) == 400
    assert await me_status(client, caller.headers) == 200
    assert [s["id"] for s in await sessions_of(client, caller)] == [sid(caller)]


async def test_deleting_the_current_session_ends_it(client, services):
    await make_user(services)
    tokens = await login(client)

    response = await client.delete(f"/users/me/sessions/{sid(tokens)}", headers=tokens.headers)

    assert response.status_code == 204
    assert await me_status(client, tokens.headers) == 401
    assert await refresh_status(client, tokens) == 400


async def test_deleting_another_users_session_is_404_and_it_keeps_working(client, services):
    await make_user(services, "alice")
    await make_user(services, "bob")
    alice = await login(client, "alice")
    bob = await login(client, "bob")

    response = await client.delete(f"/users/me/sessions/{sid(bob)}", headers=alice.headers)

    assert response.status_code == 404
    assert await me_status(client, bob.headers) == 200
    assert await refresh_status(client, bob) == 200


async def test_deleting_an_unknown_session_is_404(client, services):
    await make_user(services)
    tokens = await login(client)

    response = await client.delete(f"/users/me/sessions/{uuid.uuid4()}", headers=tokens.headers)

    assert response.status_code == 404


@pytest.mark.parametrize("session_id", ["not-a-uuid", "12345", "' OR 1=1 --"])
async def test_deleting_a_session_id_that_is_not_a_uuid_is_422(client, services, session_id):
    await make_user(services)
    tokens = await login(client)

    response = await client.delete(f"/users/me/sessions/{session_id}", headers=tokens.headers)

    assert response.status_code == 422


async def test_the_session_endpoints_need_credentials(client):
    assert (await client.get("/users/me/sessions")).status_code == 401
    assert (await client.delete(f"/users/me/sessions/{uuid.uuid4()}")).status_code == 401
