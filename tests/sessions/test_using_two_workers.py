"""Every session change made on one instance takes effect on another from its next request
(two apps sharing PostgreSQL and Redis stand for two workers)."""

import httpx

from tests.factories import DEFAULT_PASSWORD, Login, basic, login, make_user

NEW_PASSWORD = "a new and longer passphrase"


async def me_status(client: httpx.AsyncClient, headers: dict[str, str]) -> int:
    return (await client.get("/users/me", headers=headers)).status_code


async def refresh(client: httpx.AsyncClient, refresh_token: str) -> httpx.Response:
    return await client.post(
        "/token", data={"grant_type": "refresh_token", "refresh_token": refresh_token}
    )


async def warm(client: httpx.AsyncClient, tokens: Login) -> None:
    """One request on the instance, so whatever it caches about the session is cached."""
    assert await me_status(client, tokens.headers) == 200


async def test_a_token_revoked_on_one_worker_is_refused_by_the_other(client, services, second_app):
    await make_user(services)
    tokens = await login(client)
    async with second_app.client() as other:
        await warm(other, tokens)

        assert (
            await client.post("/token/revoke", data={"token": tokens.access_token})
        ).status_code == 200

        refused = await other.get("/users/me", headers=tokens.headers)
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"] == 'Bearer error="invalid_token"'
        assert (await refresh(other, tokens.refresh_token)).json()["error"] == "invalid_grant"


async def test_a_logout_on_one_worker_ends_the_session_on_the_other(client, services, second_app):
    await make_user(services)
    tokens = await login(client)
    async with second_app.client() as other:
        await warm(other, tokens)

        assert (await client.post("/logout", headers=tokens.headers)).status_code == 204

        assert await me_status(other, tokens.headers) == 401


async def test_a_refresh_token_reused_on_another_worker_ends_the_session_everywhere(
    client, services, second_app
):
    await make_user(services)
    first = await login(client)
    rotated = (await refresh(client, first.refresh_token)).json()
    newest = Login(rotated["access_token"], rotated["refresh_token"], rotated["scope"])
    async with second_app.client() as other:
        await warm(other, newest)

        assert (await refresh(other, first.refresh_token)).json()["error"] == "invalid_grant"

        assert await me_status(client, newest.headers) == 401
        assert await me_status(other, newest.headers) == 401
        assert (await refresh(client, newest.refresh_token)).json()["error"] == "invalid_grant"


async def test_a_session_deleted_on_one_worker_is_refused_by_the_other(
    client, services, second_app
):
    await make_user(services)
    caller = await login(client)
    ended = await login(client)
    async with second_app.client() as other:
        await warm(other, ended)
        sid = next(
            s["id"]
            for s in (await client.get("/users/me/sessions", headers=caller.headers)).json()
            if not s["current"]
        )

        assert (
            await client.delete(f"/users/me/sessions/{sid}", headers=caller.headers)
        ).status_code == 204

        assert await me_status(other, ended.headers) == 401


async def test_the_old_password_is_refused_on_the_other_worker_after_a_change(
    client, services, second_app
):
    await make_user(services)
    changer = await login(client)
    async with second_app.client() as other:
        # The other worker has accepted the old password by Basic and by /token.
        assert await me_status(other, basic("alice", DEFAULT_PASSWORD)) == 200
        assert await me_status(other, basic("alice", DEFAULT_PASSWORD)) == 200
        other_session = await login(other)

        changed = await client.post(
            "/users/me/password",
            json={"current_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD},
            headers=changer.headers,
        )
        assert changed.status_code == 204

        assert await me_status(other, basic("alice", DEFAULT_PASSWORD)) == 401
        old_login = await other.post(
            "/token",
            data={"grant_type": "password", "username": "alice", "password": DEFAULT_PASSWORD},
        )
        assert old_login.status_code == 400
        assert old_login.json()["error"] == "invalid_grant"
        assert await me_status(other, other_session.headers) == 401
        assert await me_status(other, basic("alice", NEW_PASSWORD)) == 200
        assert await me_status(other, changer.headers) == 200


async def test_a_user_deactivated_on_one_worker_is_refused_by_the_other(
    client, services, second_app
):
    await make_user(services, "root", is_admin=True)
    alice = await make_user(services, "alice")
    admin = await login(client, "root")
    tokens = await login(client, "alice")
    async with second_app.client() as other:
        await warm(other, tokens)
        assert await me_status(other, basic("alice", DEFAULT_PASSWORD)) == 200

        await client.patch(f"/users/{alice.id}", json={"is_active": False}, headers=admin.headers)

        assert await me_status(other, tokens.headers) == 401
        assert await me_status(other, basic("alice", DEFAULT_PASSWORD)) == 401
        assert (await refresh(other, tokens.refresh_token)).json()["error"] == "invalid_grant"


async def test_an_admin_flag_removed_on_one_worker_is_gone_on_the_other(
    client, services, second_app
):
    await make_user(services, "root", is_admin=True)
    bob = await make_user(services, "bob", is_admin=True)
    admin = await login(client, "root")
    tokens = await login(client, "bob")
    async with second_app.client() as other:
        assert (await other.get("/users", headers=tokens.headers)).status_code == 200

        await client.patch(f"/users/{bob.id}", json={"is_admin": False}, headers=admin.headers)

        assert (await other.get("/users", headers=tokens.headers)).status_code in (401, 403)
