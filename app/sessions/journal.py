"""Sessions started while PostgreSQL was unreachable: kept in Redis (their state, for the
requests that use them, and a journal entry) until PostgreSQL takes them.

A cached user can log in during a PostgreSQL outage (docs/contract.md, The auth cache); the
journal is the one thing Redis holds that PostgreSQL does not have yet. Losing it fails safe:
the session's state expires with the auth cache and its user logs in again."""

import json
import uuid
from datetime import datetime
from typing import Final, cast

from app.authcache.keys import JOURNAL_KEY
from app.core.errors import DatabaseUnavailable
from app.core.redis import RedisGuard
from app.core.redis_connection import RedisClient
from app.sessions.repository import SessionRepository, SessionRow

FLUSH_BATCH: Final = 100


def _entry(row: SessionRow, refresh_token_hash: bytes) -> str:
    return json.dumps(
        {
            "id": str(row.id),
            "user_id": row.user_id,
            "scope": row.scope,
            "user_agent": row.user_agent,
            "ip": row.ip,
            "created_at": row.created_at.isoformat(),
            "expires_at": row.expires_at.isoformat(),
            "refresh_token_hash": refresh_token_hash.hex(),
        }
    )


def _row_and_hash(entry: bytes | str) -> tuple[SessionRow, bytes]:
    data = json.loads(entry)
    created_at = datetime.fromisoformat(data["created_at"])
    row = SessionRow(
        id=uuid.UUID(data["id"]),
        user_id=data["user_id"],
        scope=data["scope"],
        user_agent=data["user_agent"],
        ip=data["ip"],
        created_at=created_at,
        last_used_at=created_at,
        expires_at=datetime.fromisoformat(data["expires_at"]),
        revoked_at=None,
    )
    return row, bytes.fromhex(data["refresh_token_hash"])


class SessionJournal:
    def __init__(self, guard: RedisGuard, repository: SessionRepository) -> None:
        self._guard = guard
        self._repository = repository

    async def add(self, row: SessionRow, refresh_token_hash: bytes) -> None:
        """Raises CacheUnavailable when Redis cannot take it either."""
        entry = _entry(row, refresh_token_hash)
        await self._guard.run(lambda r: r.rpush(JOURNAL_KEY, entry))

    async def flush(self) -> int:
        """Moves journalled sessions into PostgreSQL; returns how many. Popping is atomic, so
        several workers flushing at once never write one entry twice or lose one."""

        async def pop(r: RedisClient) -> list[bytes] | None:
            return cast(list[bytes] | None, await r.lpop(JOURNAL_KEY, FLUSH_BATCH))

        entries = await self._guard.run(pop)
        if not entries:
            return 0
        try:
            await self._repository.insert_journalled([_row_and_hash(e) for e in entries])
        except DatabaseUnavailable:
            await self._guard.run(lambda r: r.rpush(JOURNAL_KEY, *entries))
            raise
        return len(entries)
