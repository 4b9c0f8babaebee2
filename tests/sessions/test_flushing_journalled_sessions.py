"""Sessions journalled in Redis during a PostgreSQL outage reach PostgreSQL even when the
journal holds one whose user is gone: that one is dropped, the others are not lost."""

import json
import uuid
from datetime import UTC, datetime, timedelta

from app.sessions.journal import JOURNAL_KEY
from tests.factories import login, make_user


def journal_entry(user_id: int) -> tuple[uuid.UUID, str, str]:
    session_id = uuid.uuid4()
    now = datetime.now(UTC)
    entry = {
        "id": str(session_id),
        "user_id": user_id,
        "scope": "me",
        "user_agent": "journalled",
        "ip": "203.0.113.9",
        "created_at": now.isoformat(),
        "expires_at": (now + timedelta(days=1)).isoformat(),
        "refresh_token_hash": uuid.uuid4().bytes.hex() * 2,
    }
    return session_id, entry["refresh_token_hash"], json.dumps(entry)


async def test_a_journalled_session_of_a_deleted_user_does_not_sink_the_others(
    client, services, redis, database
):
    alice = await make_user(services)
    tokens = await login(client)
    gone_id, gone_field, gone = journal_entry(alice.id + 1000)
    kept_id, kept_field, kept = journal_entry(alice.id)
    await redis.hset(JOURNAL_KEY, mapping={gone_field: gone, kept_field: kept})

    listed = await client.get("/users/me/sessions", headers=tokens.headers)

    assert listed.status_code == 200
    assert str(kept_id) in {s["id"] for s in listed.json()}
    assert await redis.hlen(JOURNAL_KEY) == 0
    async with database.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM sessions WHERE id = $1", gone_id) == 0
