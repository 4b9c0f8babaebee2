"""Sessions started while PostgreSQL was unreachable: kept in Redis (their state, for the
requests that use them, and a journal entry) until PostgreSQL takes them.

A cached user can log in during a PostgreSQL outage (docs/contract.md, The auth cache); the
journal is the one thing Redis holds that PostgreSQL does not have yet. Losing it fails safe:
the session's state expires with the auth cache and its user logs in again.

The journal is a hash, one entry per session under its refresh token's hash, and an entry
leaves it only after PostgreSQL committed it. Copying is idempotent, so the background flush
and a refresh that meets a session PostgreSQL does not have yet (`take`) may copy the same
entry, in either order and on any worker: the refresh then always finds its session, and a
copy that comes after a rotation never undoes it (docs/contract.md §6)."""

import json
import uuid
from datetime import datetime
from typing import Final, cast

from app.core.redis import RedisGuard
from app.core.redis_connection import RedisClient
from app.sessions.repository import SessionRepository, SessionRow

# A hash: refresh token hash (hex) -> the session, until PostgreSQL has it.
JOURNAL_KEY: Final = "kg:journalled-sessions"
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
        await self._guard.run(lambda r: r.hset(JOURNAL_KEY, refresh_token_hash.hex(), entry))

    async def flush(self) -> int:
        """Copies journalled sessions into PostgreSQL, then drops them from the journal;
        returns how many. Raises CacheUnavailable or DatabaseUnavailable (nothing is lost)."""

        async def read(r: RedisClient) -> dict[bytes, bytes]:
            _, found = await r.hscan(JOURNAL_KEY, 0, count=FLUSH_BATCH)
            return cast(dict[bytes, bytes], found)

        entries = await self._guard.run(read)
        if not entries:
            return 0
        await self._repository.insert_journalled([_row_and_hash(e) for e in entries.values()])
        await self._guard.run(lambda r: r.hdel(JOURNAL_KEY, *entries))
        return len(entries)

    async def take(self, refresh_token_hash: bytes) -> None:
        """Copies the session of this refresh token into PostgreSQL if it is journalled."""
        field = refresh_token_hash.hex()
        entry = await self._guard.run(lambda r: r.hget(JOURNAL_KEY, field))
        if entry is None:
            return
        await self._repository.insert_journalled([_row_and_hash(entry)])
        await self._guard.run(lambda r: r.hdel(JOURNAL_KEY, field))
