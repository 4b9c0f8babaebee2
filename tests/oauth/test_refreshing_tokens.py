"""grant_type=refresh_token: rotation, reuse detection, scope narrowing and expiry."""

import asyncio

import httpx
import pytest
from jose import jwt

from tests.factories import login, make_user

ACCESS_TOKEN_TTL_SECONDS = 900  # the defaults of make_settings()
REFRESH_TOKEN_TTL_SECONDS = 1_209_600


async def refresh(
    client: httpx.AsyncClient, refresh_token: str, scope: str | None = None
) -> httpx.Response:
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    if scope is not None:
        form["scope"] = scope
    return await client.post("/token", data=form)


async def me_status(client: httpx.AsyncClient, access_token: str) -> int:
    response = await client.get("/users/me", headers={"Authorization": f"Bearer {access_token}"})
    return response.status_code


def oauth_error(response: httpx.Response) -> str:
    assert response.status_code == 400, response.text
    return str(response.json()["error"])


async def test_refresh_returns_a_new_token_pair_in_the_same_session(client, services):
    await make_user(services)
    first = await login(client)

    response = await refresh(client, first.refresh_token)

    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["access_token"] != first.access_token
    assert body["refresh_token"] != first.refresh_token
    assert body["scope"] == first.scope
    assert (
        jwt.get_unverified_claims(body["access_token"])["sid"]
        == jwt.get_unverified_claims(first.access_token)["sid"]
    )
    assert await me_status(client, body["access_token"]) == 200


async def test_each_rotated_refresh_token_can_be_refreshed_again(client, services):
    await make_user(services)
    refresh_token = (await login(client)).refresh_token

    for _ in range(3):
        response = await refresh(client, refresh_token)
        assert response.status_code == 200, response.text
        refresh_token = response.json()["refresh_token"]

    assert await me_status(client, response.json()["access_token"]) == 200


async def test_reused_refresh_token_revokes_the_session(client, services):
    await make_user(services)
    first = await login(client)
    rotated = (await refresh(client, first.refresh_token)).json()

    reuse = await refresh(client, first.refresh_token)

    assert oauth_error(reuse) == "invalid_grant"
    assert reuse.headers["cache-control"] == "no-store"
    assert oauth_error(await refresh(client, rotated["refresh_token"])) == "invalid_grant"
    current = await client.get(
        "/users/me", headers={"Authorization": f"Bearer {rotated['access_token']}"}
    )
    assert current.status_code == 401
    assert current.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    assert await me_status(client, first.access_token) == 401


async def test_reuse_in_one_session_leaves_the_users_other_sessions_alone(client, services):
    await make_user(services)
    victim = await login(client)
    other = await login(client)
    await refresh(client, victim.refresh_token)

    assert oauth_error(await refresh(client, victim.refresh_token)) == "invalid_grant"

    assert await me_status(client, other.access_token) == 200
    assert (await refresh(client, other.refresh_token)).status_code == 200


@pytest.mark.parametrize("concurrent_refreshes", [2, 10])
async def test_concurrent_refreshes_with_one_token_succeed_at_most_once(
    client, services, concurrent_refreshes
):
    await make_user(services)
    tokens = await login(client)

    responses = await asyncio.gather(
        *(refresh(client, tokens.refresh_token) for _ in range(concurrent_refreshes))
    )

    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(200) <= 1, statuses
    assert all(oauth_error(r) == "invalid_grant" for r in responses if r.status_code != 200)


async def test_refresh_may_narrow_the_scope(client, services):
    await make_user(services)
    tokens = await login(client)

    response = await refresh(client, tokens.refresh_token, scope="me")

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["scope"] == "me"
    assert jwt.get_unverified_claims(body["access_token"])["scope"] == "me"
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    assert (await client.get("/users/me", headers=headers)).status_code == 200
    assert (await client.get("/products", headers=headers)).status_code == 403


async def test_refresh_asking_for_a_scope_wider_than_the_session_is_invalid_scope(client, services):
    await make_user(services)
    tokens = await login(client, scope="me")

    response = await refresh(client, tokens.refresh_token, scope="products:read")

    assert oauth_error(response) == "invalid_scope"


async def test_refresh_asking_for_a_scope_the_user_lacks_is_invalid_scope(client, services):
    await make_user(services)
    tokens = await login(client)

    assert oauth_error(await refresh(client, tokens.refresh_token, scope="admin")) == (
        "invalid_scope"
    )


async def test_a_refused_wider_scope_does_not_use_up_the_refresh_token(client, services):
    """The client got no new refresh token, so the one it holds must still be good (and
    presenting it again is not a reuse that ends the session)."""
    await make_user(services)
    tokens = await login(client, scope="me")
    await refresh(client, tokens.refresh_token, scope="products:read")

    response = await refresh(client, tokens.refresh_token)

    assert response.status_code == 200, response.text
    assert await me_status(client, tokens.access_token) == 200


@pytest.mark.parametrize(
    "garbage",
    ["not-a-token", "x" * 43, "x" * 5000, "ünïcödé", "' OR 1=1 --"],
    ids=["word", "token-sized", "huge", "unicode", "sql"],
)
async def test_an_unknown_refresh_token_is_invalid_grant(client, garbage):
    assert oauth_error(await refresh(client, garbage)) == "invalid_grant"


@pytest.mark.parametrize("form", [{}, {"refresh_token": ""}], ids=["absent", "empty"])
async def test_a_refresh_without_a_refresh_token_is_invalid_request(client, form):
    response = await client.post("/token", data={"grant_type": "refresh_token", **form})

    assert oauth_error(response) == "invalid_request"


async def test_a_refresh_token_past_its_lifetime_is_invalid_grant(client, services, clock):
    await make_user(services)
    tokens = await login(client)

    clock.advance(REFRESH_TOKEN_TTL_SECONDS + 1)

    assert oauth_error(await refresh(client, tokens.refresh_token)) == "invalid_grant"


async def test_a_refresh_token_within_its_lifetime_outlives_the_access_token(
    client, services, clock
):
    await make_user(services)
    tokens = await login(client)

    clock.advance(REFRESH_TOKEN_TTL_SECONDS - 60)

    response = await refresh(client, tokens.refresh_token)
    assert response.status_code == 200, response.text
    assert await me_status(client, response.json()["access_token"]) == 200


async def test_an_access_token_past_its_lifetime_is_refused(client, services, clock):
    await make_user(services)
    tokens = await login(client)
    assert await me_status(client, tokens.access_token) == 200

    clock.advance(ACCESS_TOKEN_TTL_SECONDS + 60)

    response = await client.get("/users/me", headers=tokens.headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    refreshed = await refresh(client, tokens.refresh_token)
    assert refreshed.status_code == 200, refreshed.text
    assert await me_status(client, refreshed.json()["access_token"]) == 200


async def test_an_access_token_stops_working_when_its_session_expires(client, services, clock):
    """A token refreshed just before the session's end outlives it on paper, not in use."""
    await make_user(services)
    tokens = await login(client)
    clock.advance(REFRESH_TOKEN_TTL_SECONDS - 100)
    late = (await refresh(client, tokens.refresh_token)).json()
    assert await me_status(client, late["access_token"]) == 200

    clock.advance(200)

    assert await me_status(client, late["access_token"]) == 401
    assert oauth_error(await refresh(client, late["refresh_token"])) == "invalid_grant"


async def test_a_refresh_of_an_ended_session_is_invalid_grant(client, services):
    await make_user(services)
    tokens = await login(client)
    assert (await client.post("/logout", headers=tokens.headers)).status_code == 204

    assert oauth_error(await refresh(client, tokens.refresh_token)) == "invalid_grant"


async def test_refresh_tokens_are_stored_only_as_hashes(client, services, database, redis):
    await make_user(services)
    first = await login(client)
    rotated = (await refresh(client, first.refresh_token)).json()["refresh_token"]

    stored = [
        r["row"]
        for table in ("sessions", "refresh_tokens")
        for r in await database.fetch(f"SELECT row_to_json(t)::text AS row FROM {table} t")  # noqa: S608
    ]
    cached = [await redis.dump(key) or b"" for key in await redis.keys("*")]

    assert stored
    for token in (first.refresh_token, rotated):
        assert all(token not in row for row in stored)
        assert all(token.encode() not in value for value in cached)
