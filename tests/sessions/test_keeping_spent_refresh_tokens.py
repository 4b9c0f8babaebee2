"""A session keeps the 100 most recent spent refresh tokens for reuse detection and deletes
older ones (docs/contract.md §8), so a long-lived session does not grow the table."""

import uuid

from tests.factories import login, make_user

ROTATIONS = 150
KEPT_SPENT = 100


async def test_a_session_keeps_its_last_100_spent_refresh_tokens_and_detects_their_reuse(
    client, services, database
):
    await make_user(services)
    tokens = await login(client)
    spent = []
    refresh_token = tokens.refresh_token
    for _ in range(ROTATIONS):
        response = await client.post(
            "/token", data={"grant_type": "refresh_token", "refresh_token": refresh_token}
        )
        assert response.status_code == 200, response.text
        spent.append(refresh_token)
        refresh_token = response.json()["refresh_token"]
    session_id = uuid.UUID(
        await database.fetchval("SELECT id::text FROM sessions ORDER BY created_at LIMIT 1")
    )

    rows = await database.fetchval(
        "SELECT count(*) FROM refresh_tokens WHERE session_id = $1", session_id
    )
    assert rows == KEPT_SPENT + 1  # and the current one

    reused = await client.post(
        "/token", data={"grant_type": "refresh_token", "refresh_token": spent[-KEPT_SPENT]}
    )
    assert reused.status_code == 400
    current = await client.post(
        "/token", data={"grant_type": "refresh_token", "refresh_token": refresh_token}
    )
    assert current.status_code == 400  # the reuse ended the session
    assert await database.fetchval(
        "SELECT revoked_at IS NOT NULL FROM sessions WHERE id = $1", session_id
    )
