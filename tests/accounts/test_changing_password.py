"""POST /users/me/password: the old password stops working at once (Basic and its cache
included) and every other session of the user ends."""

import httpx
import pytest

from tests.factories import DEFAULT_PASSWORD, Login, basic, login, make_user

NEW_PASSWORD = "a new and longer passphrase"


async def me_status(client: httpx.AsyncClient, headers: dict[str, str]) -> int:
    return (await client.get("/users/me", headers=headers)).status_code


async def change_password(
    client: httpx.AsyncClient, headers: dict[str, str], current: str, new: str
) -> httpx.Response:
    return await client.post(
        "/users/me/password",
        json={"current_password": current, "new_password": new},
        headers=headers,
    )


async def refresh(client: httpx.AsyncClient, tokens: Login) -> httpx.Response:
    return await client.post(
        "/token", data={"grant_type": "refresh_token", "refresh_token": tokens.refresh_token}
    )


async def password_login(client: httpx.AsyncClient, password: str) -> httpx.Response:
    return await client.post(
        "/token", data={"grant_type": "password", "username": "alice", "password": password}
    )


async def test_changing_the_password_ends_every_other_session(client, services):
    await make_user(services)
    changer = await login(client)
    others = [await login(client), await login(client)]

    response = await change_password(client, changer.headers, DEFAULT_PASSWORD, NEW_PASSWORD)

    assert response.status_code == 204
    for other in others:
        me = await client.get("/users/me", headers=other.headers)
        assert me.status_code == 401
        assert me.headers["www-authenticate"] == 'Bearer error="invalid_token"'
        refreshed = await refresh(client, other)
        assert refreshed.status_code == 400
        assert refreshed.json()["error"] == "invalid_grant"


async def test_the_session_that_changed_the_password_keeps_working(client, services):
    await make_user(services)
    changer = await login(client)

    await change_password(client, changer.headers, DEFAULT_PASSWORD, NEW_PASSWORD)

    assert await me_status(client, changer.headers) == 200
    refreshed = await refresh(client, changer)
    assert refreshed.status_code == 200, refreshed.text
    new_headers = {"Authorization": f"Bearer {refreshed.json()['access_token']}"}
    assert await me_status(client, new_headers) == 200


async def test_after_a_password_change_only_the_new_password_logs_in(client, services):
    await make_user(services)
    changer = await login(client)

    await change_password(client, changer.headers, DEFAULT_PASSWORD, NEW_PASSWORD)

    old = await password_login(client, DEFAULT_PASSWORD)
    assert old.status_code == 400
    assert old.json()["error"] == "invalid_grant"
    assert (await password_login(client, NEW_PASSWORD)).status_code == 200


async def test_basic_with_the_old_password_is_refused_right_after_it_succeeded(client, services):
    await make_user(services)
    changer = await login(client)
    # Warms the Redis auth record and the Basic verifier with the old password.
    assert await me_status(client, basic("alice", DEFAULT_PASSWORD)) == 200
    assert await me_status(client, basic("alice", DEFAULT_PASSWORD)) == 200

    await change_password(client, changer.headers, DEFAULT_PASSWORD, NEW_PASSWORD)

    refused = await client.get("/users/me", headers=basic("alice", DEFAULT_PASSWORD))
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"].startswith("Bearer")
    assert await me_status(client, basic("alice", NEW_PASSWORD)) == 200


async def test_a_password_change_made_over_basic_ends_every_token_session(client, services):
    await make_user(services)
    tokens = await login(client)

    response = await change_password(
        client, basic("alice", DEFAULT_PASSWORD), DEFAULT_PASSWORD, NEW_PASSWORD
    )

    assert response.status_code == 204
    assert await me_status(client, tokens.headers) == 401
    assert await me_status(client, basic("alice", NEW_PASSWORD)) == 200


async def test_a_wrong_current_password_changes_nothing(client, services):
    await make_user(services)
    changer = await login(client)
    other = await login(client)

    response = await change_password(
        client, changer.headers, "not the current password", NEW_PASSWORD
    )

    assert 400 <= response.status_code < 500
    assert await me_status(client, other.headers) == 200
    assert (await refresh(client, other)).status_code == 200
    assert (await password_login(client, DEFAULT_PASSWORD)).status_code == 200
    assert (await password_login(client, NEW_PASSWORD)).status_code == 400
    assert await me_status(client, basic("alice", DEFAULT_PASSWORD)) == 200


@pytest.mark.parametrize(
    "new_password", ["short", "x" * 73, "é" * 37], ids=["too-short", "too-long", "73-utf8-bytes"]
)
async def test_an_unacceptable_new_password_is_422_and_changes_nothing(
    client, services, new_password
):
    await make_user(services)
    changer = await login(client)
    other = await login(client)

    response = await change_password(client, changer.headers, DEFAULT_PASSWORD, new_password)

    assert response.status_code == 422
    assert await me_status(client, other.headers) == 200
    assert (await password_login(client, DEFAULT_PASSWORD)).status_code == 200


async def test_changing_the_password_needs_credentials(client):
    response = await client.post(
        "/users/me/password",
        json={"current_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD},
    )

    assert response.status_code == 401
