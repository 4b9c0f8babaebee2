"""Ended and expired sessions are deleted once their retention passes (the lifespan's
periodic clean-up calls SessionService.delete_ended), so the table does not grow without
bound; live sessions are never touched."""

import httpx
from jose import jwt

from tests.factories import login, make_user

DAY_SECONDS = 24 * 3600
REFRESH_TOKEN_TTL_SECONDS = 1_209_600


async def me_status(client: httpx.AsyncClient, headers: dict[str, str]) -> int:
    return (await client.get("/users/me", headers=headers)).status_code


async def session_ids(database) -> set[str]:
    return {str(r["id"]) for r in await database.fetch("SELECT id FROM sessions")}


def sid(access_token: str) -> str:
    return str(jwt.get_unverified_claims(access_token)["sid"])


async def test_the_clean_up_deletes_long_ended_sessions_and_keeps_live_ones(
    client, services, database, clock
):
    await make_user(services)
    ended = await login(client)
    live = await login(client)
    await client.post("/logout", headers=ended.headers)
    clock.advance(8 * DAY_SECONDS)

    await services.sessions.delete_ended()

    assert await session_ids(database) == {sid(live.access_token)}
    refreshed = await client.post(
        "/token", data={"grant_type": "refresh_token", "refresh_token": live.refresh_token}
    )
    assert refreshed.status_code == 200, refreshed.text
    tokens_left = await database.fetchval(
        "SELECT count(*) FROM refresh_tokens WHERE session_id <> $1::uuid",
        sid(live.access_token),
    )
    assert tokens_left == 0


async def test_the_clean_up_deletes_long_expired_sessions(client, services, database, clock):
    await make_user(services)
    await login(client)
    clock.advance(REFRESH_TOKEN_TTL_SECONDS + 8 * DAY_SECONDS)

    await services.sessions.delete_ended()

    assert await session_ids(database) == set()


async def test_a_deleted_sessions_tokens_stay_refused(client, services, clock):
    await make_user(services)
    tokens = await login(client)
    await client.post("/token/revoke", data={"token": tokens.refresh_token})
    clock.advance(8 * DAY_SECONDS)
    await services.sessions.delete_ended()
    clock.advance(-8 * DAY_SECONDS)

    assert await me_status(client, tokens.headers) == 401
    refreshed = await client.post(
        "/token", data={"grant_type": "refresh_token", "refresh_token": tokens.refresh_token}
    )
    assert refreshed.status_code == 400
    assert refreshed.json()["error"] == "invalid_grant"
