"""Cache invalidations that could not reach Redis, kept in PostgreSQL.

Entries are not consumed: every worker applies every recent one to the Redis it uses (deleting
a key twice only costs a cache miss), so no worker, deployment or test app can take an entry
from another. An entry older than the cache's TTL can no longer matter (what it invalidates
has expired from Redis) and is deleted."""

import uuid
from dataclasses import dataclass
from typing import Final

from app.core.db import Database

NOTIFY_CHANNEL: Final = "keygate_cache_invalidations"
# Past the cache TTL, plus this, an entry's keys have expired from Redis anyway.
MARGIN_SECONDS: Final = 60


@dataclass(frozen=True, slots=True)
class PendingInvalidations:
    users: list[tuple[int, str]]
    sessions: list[tuple[int, uuid.UUID]]  # (user id, session id): its key names both
    newest_id: int = 0
    recorded_since: int = 0  # entries newer than the id `recent` was given

    def __bool__(self) -> bool:
        return bool(self.users or self.sessions)


class InvalidationRepository:
    def __init__(self, db: Database, cache_ttl_seconds: int) -> None:
        self._db = db
        self._window_seconds = cache_ttl_seconds + MARGIN_SECONDS

    async def record(
        self, *, users: list[tuple[int, str]], sessions: list[tuple[int, uuid.UUID]]
    ) -> None:
        """Keeps the invalidations and tells every listening worker (delivered at commit).
        A session's row carries its user's id too (its cache key names both)."""
        rows: list[tuple[int, str | None, uuid.UUID | None]] = [
            (u, name, None) for u, name in users
        ]
        rows += [(u, None, s) for u, s in sessions]
        async with self._db.transaction() as conn:
            await conn.executemany(
                "INSERT INTO cache_invalidations (user_id, username, session_id)"
                " VALUES ($1, $2, $3)",
                rows,
            )
            await conn.execute("SELECT pg_notify($1, '')", NOTIFY_CHANNEL)

    async def recent(self, newer_than: int = 0) -> PendingInvalidations:
        """Every recent entry, and how many of them are newer than the id `newer_than`."""
        async with self._db.connection() as conn:
            rows = await conn.fetch(
                "SELECT id, user_id, username, session_id FROM cache_invalidations"
                " WHERE created_at > now() - make_interval(secs => $1)",
                self._window_seconds,
            )
        # Rows without a user id (a session row of an older version) name no current key.
        named = [r for r in rows if r["user_id"] is not None]
        return PendingInvalidations(
            users=sorted({(r["user_id"], r["username"]) for r in named if r["session_id"] is None}),
            sessions=[
                (r["user_id"], r["session_id"]) for r in named if r["session_id"] is not None
            ],
            newest_id=max((r["id"] for r in rows), default=newer_than),
            recorded_since=sum(1 for r in named if r["id"] > newer_than),
        )

    async def delete_expired(self) -> None:
        async with self._db.connection() as conn:
            await conn.execute(
                "DELETE FROM cache_invalidations"
                " WHERE created_at <= now() - make_interval(secs => $1)",
                self._window_seconds,
            )
