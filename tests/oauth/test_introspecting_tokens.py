"""POST /token/introspect (RFC 7662): for an admin-scoped caller, live access and refresh
tokens are described; anything revoked, expired, rotated, foreign or malformed is exactly
{"active": false}."""

import time

import pytest

from tests.factories import Login, login, make_user
from tests.fixtures.keys_and_servers import admin_headers, client_of, token_parts

INACTIVE = {"active": False}
ACCESS_TTL_SECONDS = 900
REFRESH_TTL_SECONDS = 1_209_600


async def introspect(client, admin: dict[str, str], token: str) -> dict:
    response = await client.post("/token/introspect", data={"token": token}, headers=admin)
    assert response.status_code == 200, response.text
    body: dict = response.json()
    return body


async def refresh(client, tokens: Login):
    response = await client.post(
        "/token", data={"grant_type": "refresh_token", "refresh_token": tokens.refresh_token}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    return Login(body["access_token"], body["refresh_token"], body["scope"])


async def test_introspection_without_credentials_is_401(client, services):
    await make_user(services)
    tokens = await login(client)

    response = await client.post("/token/introspect", data={"token": tokens.access_token})

    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_introspection_by_a_user_without_the_admin_scope_is_403(client, services):
    await make_user(services)
    tokens = await login(client)

    response = await client.post(
        "/token/introspect", data={"token": tokens.access_token}, headers=tokens.headers
    )

    assert response.status_code == 403
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]
    assert 'scope="admin"' in response.headers["www-authenticate"]


async def test_an_admin_token_narrowed_below_admin_cannot_introspect(client, services):
    await make_user(services, "root", is_admin=True)
    narrowed = await login(client, "root", scope="me products:write")

    response = await client.post(
        "/token/introspect", data={"token": narrowed.access_token}, headers=narrowed.headers
    )

    assert response.status_code == 403


async def test_a_live_access_token_is_described(client, services):
    alice = await make_user(services)
    admin = await admin_headers(client, services)
    tokens = await login(client)
    _, claims = token_parts(tokens.access_token)

    body = await introspect(client, admin, tokens.access_token)

    expected = {
        "active": True,
        "sub": str(alice.id),
        "username": "alice",
        "scope": claims["scope"],
        "exp": claims["exp"],
        "iat": claims["iat"],
        "sid": claims["sid"],
        "token_type": "access_token",
    }
    assert {name: body.get(name) for name in expected} == expected
    assert set(claims["scope"].split()) == {"me", "products:read"}


async def test_a_narrowed_access_token_is_described_with_its_own_scope(client, services):
    await make_user(services)
    admin = await admin_headers(client, services)
    tokens = await login(client, scope="me")

    body = await introspect(client, admin, tokens.access_token)

    assert body["active"] is True
    assert body["scope"] == "me"


async def test_a_live_refresh_token_is_described(client, services):
    alice = await make_user(services)
    admin = await admin_headers(client, services)
    tokens = await login(client)
    _, claims = token_parts(tokens.access_token)

    body = await introspect(client, admin, tokens.refresh_token)

    assert body["active"] is True
    assert body["token_type"] == "refresh_token"
    assert (body["sub"], body["username"], body["sid"]) == (str(alice.id), "alice", claims["sid"])
    assert set(body["scope"].split()) == {"me", "products:read"}
    now = time.time()
    assert body["iat"] <= now + 1
    assert now + REFRESH_TTL_SECONDS - 60 < body["exp"] <= now + REFRESH_TTL_SECONDS + 1


@pytest.mark.parametrize("kind", ["access_token", "refresh_token"])
async def test_tokens_of_a_logged_out_session_are_inactive(client, services, kind):
    await make_user(services)
    admin = await admin_headers(client, services)
    tokens = await login(client)
    assert (await introspect(client, admin, getattr(tokens, kind)))["active"] is True

    assert (await client.post("/logout", headers=tokens.headers)).status_code == 204

    assert await introspect(client, admin, getattr(tokens, kind)) == INACTIVE


@pytest.mark.parametrize("revoked", ["access_token", "refresh_token"])
@pytest.mark.parametrize("kind", ["access_token", "refresh_token"])
async def test_tokens_of_a_revoked_session_are_inactive(client, services, revoked, kind):
    await make_user(services)
    admin = await admin_headers(client, services)
    tokens = await login(client)

    response = await client.post("/token/revoke", data={"token": getattr(tokens, revoked)})
    assert response.status_code == 200

    assert await introspect(client, admin, getattr(tokens, kind)) == INACTIVE


async def test_an_expired_access_token_is_inactive_while_its_refresh_token_lives(
    client, services, clock
):
    await make_user(services)
    tokens = await login(client)

    clock.advance(ACCESS_TTL_SECONDS)
    admin = await admin_headers(client, services)

    assert await introspect(client, admin, tokens.access_token) == INACTIVE
    assert (await introspect(client, admin, tokens.refresh_token))["active"] is True


async def test_an_expired_refresh_token_is_inactive(client, services, clock):
    await make_user(services)
    tokens = await login(client)

    clock.advance(REFRESH_TTL_SECONDS + 1)
    admin = await admin_headers(client, services)

    assert await introspect(client, admin, tokens.refresh_token) == INACTIVE


async def test_a_rotated_refresh_token_is_inactive_and_asking_does_not_end_the_session(
    client, services
):
    await make_user(services)
    admin = await admin_headers(client, services)
    first = await login(client)
    second = await refresh(client, first)

    assert await introspect(client, admin, first.refresh_token) == INACTIVE
    # Introspection only reads (RFC 7662): the session that rotated goes on.
    assert (await introspect(client, admin, second.refresh_token))["active"] is True
    assert (await introspect(client, admin, second.access_token))["active"] is True
    assert (await client.get("/users/me", headers=second.headers)).status_code == 200


async def test_a_token_signed_with_another_secret_is_inactive(client, services, start_app):
    await make_user(services)
    admin = await admin_headers(client, services)
    foreign_app = await start_app(jwt_secret="another-deployment-" + "y" * 40)
    async with client_of(foreign_app) as foreign:
        # A real session in the shared database, but a signature this deployment never made.
        foreign_tokens = await login(foreign)
        assert (await foreign.get("/users/me", headers=foreign_tokens.headers)).status_code == 200

    assert await introspect(client, admin, foreign_tokens.access_token) == INACTIVE


@pytest.mark.parametrize(
    "garbage",
    [
        "not-a-token",
        "a.b.c",
        "..",
        " ",
        "null",
        "e30.e30.",
        "eyJhbGciOiJIUzI1NiJ9.%%%.***",
        "Bearer x",
        "\u00e9\u4e2d\U0001f600",
        "x" * 5000,
    ],
    ids=[
        "word",
        "three-parts",
        "dots",
        "space",
        "null",
        "empty-objects",
        "bad-base64",
        "bearer-prefix",
        "non-ascii",
        "5000-chars",
    ],
)
async def test_malformed_tokens_are_inactive(client, services, garbage):
    admin = await admin_headers(client, services)

    assert await introspect(client, admin, garbage) == INACTIVE


@pytest.mark.parametrize("kind", ["access_token", "refresh_token"])
async def test_tokens_of_a_deactivated_user_are_inactive(client, services, kind):
    alice = await make_user(services)
    admin = await admin_headers(client, services)
    tokens = await login(client)
    assert (await introspect(client, admin, getattr(tokens, kind)))["active"] is True

    deactivated = await client.patch(f"/users/{alice.id}", json={"is_active": False}, headers=admin)
    assert deactivated.status_code == 200

    assert await introspect(client, admin, getattr(tokens, kind)) == INACTIVE
