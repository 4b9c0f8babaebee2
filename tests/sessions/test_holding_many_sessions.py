"""Whoever holds a password cannot grow a user's sessions without bound: past
MAX_LIVE_SESSIONS_PER_USER live sessions, each login ends the oldest one (its tokens stop
working at once)."""

import asyncio

from app.sessions.service import MAX_LIVE_SESSIONS_PER_USER
from tests.factories import login, make_user


async def add_old_sessions(database, user_id: int, count: int) -> None:
    """Sessions started over the last days, oldest first, as many logins would leave them."""
    async with database.acquire() as conn:
        await conn.execute(
            "INSERT INTO sessions (user_id, scope, created_at, last_used_at, expires_at)"
            " SELECT $1, 'me', now() - make_interval(days => 1, secs => n),"
            " now() - make_interval(days => 1, secs => n), now() + interval '1 day'"
            " FROM generate_series(1, $2) AS n",
            user_id,
            count,
        )


async def live_sessions(database, user_id: int) -> int:
    async with database.acquire() as conn:
        return await conn.fetchval(
            "SELECT count(*) FROM sessions WHERE user_id = $1 AND revoked_at IS NULL", user_id
        )


async def test_a_login_past_the_session_limit_ends_the_oldest_session(client, services, database):
    alice = await make_user(services)
    oldest = await login(client)
    async with database.acquire() as conn:
        await conn.execute(
            "UPDATE sessions SET created_at = now() - interval '2 days' WHERE user_id = $1",
            alice.id,
        )
    await add_old_sessions(database, alice.id, MAX_LIVE_SESSIONS_PER_USER - 2)
    second_oldest = await login(client)
    assert await live_sessions(database, alice.id) == MAX_LIVE_SESSIONS_PER_USER
    assert (await client.get("/users/me", headers=oldest.headers)).status_code == 200

    newest = await login(client)

    assert (await client.get("/users/me", headers=oldest.headers)).status_code == 401
    refreshed = await client.post(
        "/token", data={"grant_type": "refresh_token", "refresh_token": oldest.refresh_token}
    )
    assert refreshed.status_code == 400
    assert (await client.get("/users/me", headers=second_oldest.headers)).status_code == 200
    assert (await client.get("/users/me", headers=newest.headers)).status_code == 200
    assert await live_sessions(database, alice.id) == MAX_LIVE_SESSIONS_PER_USER


async def test_concurrent_logins_overshoot_the_limit_by_their_number_at_most(
    client, services, database
):
    """Concurrent logins do not see each other's new session; the next login trims again."""
    alice = await make_user(services)
    await add_old_sessions(database, alice.id, MAX_LIVE_SESSIONS_PER_USER - 5)
    concurrent = 5  # as many concurrent checks as one address's window allows
    for _ in range(4):
        await asyncio.gather(*(login(client) for _ in range(concurrent)))
        assert await live_sessions(database, alice.id) < MAX_LIVE_SESSIONS_PER_USER + concurrent

    await login(client)

    assert await live_sessions(database, alice.id) == MAX_LIVE_SESSIONS_PER_USER
