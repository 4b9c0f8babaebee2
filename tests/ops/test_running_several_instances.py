"""Instances that share PostgreSQL and Redis agree at once: a session ended on one is dead on
the other, for bearer calls and for introspection alike."""

import pytest

from tests.conftest import RunningApp, make_settings, running_app
from tests.factories import login, make_user
from tests.fixtures.keys_and_servers import admin_headers, client_of, key_settings


@pytest.fixture
async def other(database, clock):
    """A second instance with the default settings, on the same PostgreSQL, Redis and clock."""
    async with running_app(make_settings(), clock) as started:
        yield started


async def introspect(client, admin, token: str) -> dict:
    response = await client.post("/token/introspect", data={"token": token}, headers=admin)
    assert response.status_code == 200, response.text
    body: dict = response.json()
    return body


async def test_a_logout_on_one_instance_is_refused_by_the_other_at_once(
    client, services, other: RunningApp
):
    await make_user(services)
    tokens = await login(client)
    async with client_of(other) as second:
        admin = await admin_headers(second, other.services)
        # The other instance has seen the session live: whatever it caches, it has cached.
        assert (await second.get("/users/me", headers=tokens.headers)).status_code == 200
        assert (await introspect(second, admin, tokens.access_token))["active"] is True
        assert (await introspect(second, admin, tokens.refresh_token))["active"] is True

        assert (await client.post("/logout", headers=tokens.headers)).status_code == 204

        refused = await second.get("/users/me", headers=tokens.headers)
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"] == 'Bearer error="invalid_token"'
        assert await introspect(second, admin, tokens.access_token) == {"active": False}
        assert await introspect(second, admin, tokens.refresh_token) == {"active": False}


async def test_a_revocation_on_one_instance_shows_in_the_others_introspection(
    client, services, other: RunningApp
):
    await make_user(services)
    tokens = await login(client)
    async with client_of(other) as second:
        admin = await admin_headers(second, other.services)
        assert (await introspect(second, admin, tokens.access_token))["active"] is True

        revoked = await client.post("/token/revoke", data={"token": tokens.refresh_token})
        assert revoked.status_code == 200

        assert await introspect(second, admin, tokens.access_token) == {"active": False}


@pytest.mark.parametrize("algorithm", ["ES256", "RS256"])
async def test_asymmetric_instances_with_one_key_share_sessions_and_revocation(
    start_app, keys, algorithm
):
    settings = key_settings(keys(algorithm))
    first, second = await start_app(**settings), await start_app(**settings)
    await make_user(first.services)
    async with client_of(first) as a, client_of(second) as b:
        tokens = await login(a)
        assert (await b.get("/users/me", headers=tokens.headers)).status_code == 200

        assert (await b.post("/logout", headers=tokens.headers)).status_code == 204

        assert (await a.get("/users/me", headers=tokens.headers)).status_code == 401
