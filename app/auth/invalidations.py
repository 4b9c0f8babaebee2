"""Cache invalidations that could not reach Redis, kept in PostgreSQL until they can."""

import uuid
from dataclasses import dataclass

from app.db import Database


@dataclass(frozen=True, slots=True)
class PendingInvalidations:
    users: list[tuple[int, str]]
    session_ids: list[uuid.UUID]

    def __bool__(self) -> bool:
        return bool(self.users or self.session_ids)


class InvalidationRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def record(self, *, users: list[tuple[int, str]], session_ids: list[uuid.UUID]) -> None:
        rows = [(u, name, None) for u, name in users] + [(None, None, s) for s in session_ids]
        async with self._db.connection() as conn:
            await conn.executemany(
                "INSERT INTO cache_invalidations (user_id, username, session_id)"
                " VALUES ($1, $2, $3)",
                rows,
            )

    async def take_all(self) -> PendingInvalidations:
        """Removes and returns every pending invalidation (the caller re-records on failure)."""
        async with self._db.connection() as conn:
            rows = await conn.fetch(
                "DELETE FROM cache_invalidations RETURNING user_id, username, session_id"
            )
        return PendingInvalidations(
            users=sorted({(r["user_id"], r["username"]) for r in rows if r["user_id"] is not None}),
            session_ids=[r["session_id"] for r in rows if r["session_id"] is not None],
        )
