"""Whoever holds a password cannot grow a user's sessions without bound: past 100 live
sessions, each login ends the oldest one (its tokens stop working at once)."""

import asyncio

from app.sessions.service import MAX_LIVE_SESSIONS_PER_USER
from tests.factories import login, make_user


async def test_a_login_past_the_session_limit_ends_the_oldest_session(client, services):
    await make_user(services)
    oldest = await login(client)
    others = [await login(client) for _ in range(MAX_LIVE_SESSIONS_PER_USER - 1)]

    assert (await client.get("/users/me", headers=oldest.headers)).status_code == 200
    newest = await login(client)

    assert (await client.get("/users/me", headers=oldest.headers)).status_code == 401
    refreshed = await client.post(
        "/token", data={"grant_type": "refresh_token", "refresh_token": oldest.refresh_token}
    )
    assert refreshed.status_code == 400
    assert (await client.get("/users/me", headers=others[0].headers)).status_code == 200
    listed = await client.get("/users/me/sessions", headers=newest.headers)
    assert len(listed.json()) == MAX_LIVE_SESSIONS_PER_USER


async def test_concurrent_logins_never_leave_more_than_the_limit(client, services):
    await make_user(services)
    # Five at a time: as many concurrent checks as one address's window allows.
    for _ in range(MAX_LIVE_SESSIONS_PER_USER // 5 + 4):
        await asyncio.gather(*(login(client) for _ in range(5)))

    newest = await login(client)

    listed = await client.get("/users/me/sessions", headers=newest.headers)
    assert len(listed.json()) == MAX_LIVE_SESSIONS_PER_USER
