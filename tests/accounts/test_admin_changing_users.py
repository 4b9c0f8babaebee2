"""PATCH /users/{id} by an admin: deactivation ends every session of the user at once, and a
removed admin flag takes the admin scopes from tokens already issued."""

import httpx

from tests.factories import DEFAULT_PASSWORD, Login, basic, login, make_user


async def me_status(client: httpx.AsyncClient, headers: dict[str, str]) -> int:
    return (await client.get("/users/me", headers=headers)).status_code


async def set_flags(
    client: httpx.AsyncClient, admin: Login, user_id: int, **flags: bool
) -> httpx.Response:
    return await client.patch(f"/users/{user_id}", json=flags, headers=admin.headers)


async def refresh(client: httpx.AsyncClient, tokens: Login) -> httpx.Response:
    return await client.post(
        "/token", data={"grant_type": "refresh_token", "refresh_token": tokens.refresh_token}
    )


async def test_deactivating_a_user_ends_all_their_tokens_at_once(client, services):
    await make_user(services, "root", is_admin=True)
    alice = await make_user(services, "alice")
    admin = await login(client, "root")
    sessions = [await login(client, "alice"), await login(client, "alice")]
    for tokens in sessions:
        assert await me_status(client, tokens.headers) == 200

    response = await set_flags(client, admin, alice.id, is_active=False)

    assert response.status_code == 200, response.text
    assert response.json()["is_active"] is False
    for tokens in sessions:
        me = await client.get("/users/me", headers=tokens.headers)
        assert me.status_code == 401
        assert me.headers["www-authenticate"] == 'Bearer error="invalid_token"'
        refreshed = await refresh(client, tokens)
        assert refreshed.status_code == 400
        assert refreshed.json()["error"] == "invalid_grant"


async def test_a_deactivated_user_is_refused_by_basic_and_by_token(client, services):
    await make_user(services, "root", is_admin=True)
    alice = await make_user(services, "alice")
    admin = await login(client, "root")
    assert await me_status(client, basic("alice", DEFAULT_PASSWORD)) == 200

    await set_flags(client, admin, alice.id, is_active=False)

    assert await me_status(client, basic("alice", DEFAULT_PASSWORD)) == 401
    refused = await client.post(
        "/token",
        data={"grant_type": "password", "username": "alice", "password": DEFAULT_PASSWORD},
    )
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_grant"


async def test_reactivating_a_user_does_not_revive_their_ended_sessions(client, services):
    await make_user(services, "root", is_admin=True)
    alice = await make_user(services, "alice")
    admin = await login(client, "root")
    old = await login(client, "alice")
    await set_flags(client, admin, alice.id, is_active=False)

    await set_flags(client, admin, alice.id, is_active=True)

    assert await me_status(client, old.headers) == 401
    assert (await refresh(client, old)).status_code == 400
    fresh = await login(client, "alice")
    assert await me_status(client, fresh.headers) == 200


async def test_removing_admin_takes_admin_scope_from_existing_tokens_at_once(client, services):
    await make_user(services, "root", is_admin=True)
    demoted = await make_user(services, "bob", is_admin=True)
    admin = await login(client, "root")
    bob = await login(client, "bob")
    assert "admin" in bob.scope.split()
    assert (await client.get("/users", headers=bob.headers)).status_code == 200

    response = await set_flags(client, admin, demoted.id, is_admin=False)

    assert response.status_code == 200, response.text
    assert (await client.get("/users", headers=bob.headers)).status_code in (401, 403)
    product = await client.post(
        "/products", json={"name": "WINE GLASS", "price": "9.75"}, headers=bob.headers
    )
    assert product.status_code in (401, 403)


async def test_a_demoted_admins_refresh_carries_no_admin_scope(client, services):
    await make_user(services, "root", is_admin=True)
    demoted = await make_user(services, "bob", is_admin=True)
    admin = await login(client, "root")
    bob = await login(client, "bob")

    await set_flags(client, admin, demoted.id, is_admin=False)

    refreshed = await refresh(client, bob)

    granted = refreshed.json().get("scope", "").split()
    assert "admin" not in granted
    assert "products:write" not in granted


async def test_a_demoted_admin_cannot_refresh_into_the_admin_scope(client, services):
    await make_user(services, "root", is_admin=True)
    demoted = await make_user(services, "bob", is_admin=True)
    admin = await login(client, "root")
    bob = await login(client, "bob")

    await set_flags(client, admin, demoted.id, is_admin=False)

    refreshed = await client.post(
        "/token",
        data={"grant_type": "refresh_token", "refresh_token": bob.refresh_token, "scope": "admin"},
    )
    assert refreshed.status_code == 400
    assert refreshed.json()["error"] in ("invalid_scope", "invalid_grant")


async def test_a_demoted_admins_basic_credentials_lose_admin_at_once(client, services):
    await make_user(services, "root", is_admin=True)
    demoted = await make_user(services, "bob", is_admin=True)
    admin = await login(client, "root")
    assert (await client.get("/users", headers=basic("bob", DEFAULT_PASSWORD))).status_code == 200

    await set_flags(client, admin, demoted.id, is_admin=False)

    assert (await client.get("/users", headers=basic("bob", DEFAULT_PASSWORD))).status_code == 403
    assert await me_status(client, basic("bob", DEFAULT_PASSWORD)) == 200


async def test_a_non_admin_cannot_deactivate_anyone(client, services):
    await make_user(services, "alice")
    bob = await make_user(services, "bob")
    alice = await login(client, "alice")
    victim = await login(client, "bob")

    response = await set_flags(client, alice, bob.id, is_active=False)

    assert response.status_code == 403
    assert await me_status(client, victim.headers) == 200
