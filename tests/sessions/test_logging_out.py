"""POST /logout ends the caller's session: its access and refresh token both."""

import httpx

from tests.factories import login, make_user, rotate


async def me_status(client: httpx.AsyncClient, headers: dict[str, str]) -> int:
    return (await client.get("/users/me", headers=headers)).status_code


async def test_logout_ends_the_current_session(client, services):
    await make_user(services)
    tokens = await login(client)

    response = await client.post("/logout", headers=tokens.headers)

    assert response.status_code == 204
    me = await client.get("/users/me", headers=tokens.headers)
    assert me.status_code == 401
    assert me.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    refreshed = await client.post(
        "/token", data={"grant_type": "refresh_token", "refresh_token": tokens.refresh_token}
    )
    assert refreshed.status_code == 400
    assert refreshed.json()["error"] == "invalid_grant"


async def test_logout_after_a_refresh_ends_the_rotated_session(client, services):
    await make_user(services)
    rotated = await rotate(client, await login(client))

    assert (await client.post("/logout", headers=rotated.headers)).status_code == 204

    assert await me_status(client, rotated.headers) == 401
    refreshed = await client.post(
        "/token", data={"grant_type": "refresh_token", "refresh_token": rotated.refresh_token}
    )
    assert refreshed.json()["error"] == "invalid_grant"


async def test_logout_leaves_the_users_other_sessions_working(client, services):
    await make_user(services)
    leaving = await login(client)
    staying = await login(client)

    await client.post("/logout", headers=leaving.headers)

    assert await me_status(client, staying.headers) == 200


async def test_logout_without_credentials_is_401(client):
    response = await client.post("/logout")

    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_logout_with_an_ended_session_is_401(client, services):
    await make_user(services)
    tokens = await login(client)
    await client.post("/logout", headers=tokens.headers)

    assert (await client.post("/logout", headers=tokens.headers)).status_code == 401
