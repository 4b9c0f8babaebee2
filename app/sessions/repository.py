"""Sessions and their refresh tokens in PostgreSQL, the source of truth for both."""

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Final

import asyncpg

from app.core.db import Database
from app.sessions.state import SessionState

# Spent refresh tokens a session keeps for reuse detection (docs/contract.md §8): a token
# older than this many rotations no longer ends the session when it comes back, it is unknown.
KEPT_SPENT_REFRESH_TOKENS: Final = 100

SESSION_COLUMNS = (
    "id, user_id, scope, user_agent, ip, created_at, last_used_at, expires_at, revoked_at"
)


@dataclass(frozen=True, slots=True)
class SessionRow:
    id: uuid.UUID
    user_id: int
    scope: str
    user_agent: str | None
    ip: str | None
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    revoked_at: datetime | None

    @property
    def state(self) -> SessionState:
        """What the auth cache keeps of it."""
        return SessionState(
            session_id=self.id,
            user_id=self.user_id,
            expires_at=self.expires_at.timestamp(),
            is_revoked=self.revoked_at is not None,
        )


def _session(row: asyncpg.Record) -> SessionRow:
    return SessionRow(**dict(row))


class RotationOutcome(Enum):
    ROTATED = "rotated"
    REUSED = "reused"  # a rotated token came back: the session has been ended
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Rotation:
    outcome: RotationOutcome
    session: SessionRow | None


class SessionRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(
        self,
        *,
        user_id: int,
        scope: str,
        user_agent: str | None,
        ip: str | None,
        expires_at: datetime,
        refresh_token_hash: bytes,
        max_live_sessions: int,
    ) -> tuple[SessionRow, list[SessionRow]]:
        """The new session, and the user's oldest live sessions it pushed past
        `max_live_sessions` (ended in the same statement)."""
        async with self._db.connection() as conn:
            rows = await conn.fetch(
                "WITH s AS (INSERT INTO sessions (user_id, scope, user_agent, ip, expires_at)"
                f" VALUES ($1, $2, $3, $4, $5) RETURNING {SESSION_COLUMNS}),"
                " t AS (INSERT INTO refresh_tokens (token_hash, session_id) SELECT $6, id FROM s),"
                " ended AS (UPDATE sessions SET revoked_at = now() WHERE id IN (SELECT id"
                " FROM sessions WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > now()"
                f" ORDER BY created_at DESC, id OFFSET $7) RETURNING {SESSION_COLUMNS})"
                " SELECT true AS is_new, * FROM s UNION ALL SELECT false, * FROM ended",
                user_id,
                scope,
                user_agent,
                ip,
                expires_at,
                refresh_token_hash,
                max_live_sessions - 1,  # the statement does not see its own new session
            )
        new: list[SessionRow] = []
        pushed_out: list[SessionRow] = []
        for row in rows:
            fields = dict(row)
            (new if fields.pop("is_new") else pushed_out).append(SessionRow(**fields))
        (created,) = new
        return created, pushed_out

    async def insert_journalled(self, sessions: list[tuple[SessionRow, bytes]]) -> None:
        """Idempotent: a session already there is left as it is. A session whose user is not
        there (deleted meanwhile) is dropped, not allowed to fail the others."""
        async with self._db.transaction() as conn:
            await conn.executemany(
                "INSERT INTO sessions (id, user_id, scope, user_agent, ip, created_at,"
                " last_used_at, expires_at) SELECT $1, $2, $3, $4, $5, $6, $6, $7"
                " WHERE EXISTS (SELECT FROM users WHERE id = $2)"
                " ON CONFLICT (id) DO NOTHING",
                [
                    (s.id, s.user_id, s.scope, s.user_agent, s.ip, s.created_at, s.expires_at)
                    for s, _ in sessions
                ],
            )
            await conn.executemany(
                "INSERT INTO refresh_tokens (token_hash, session_id) SELECT $1, $2"
                " WHERE EXISTS (SELECT FROM sessions WHERE id = $2)"
                " ON CONFLICT (token_hash) DO NOTHING",
                [(token_hash, s.id) for s, token_hash in sessions],
            )

    async def get(self, session_id: uuid.UUID) -> SessionRow | None:
        async with self._db.connection() as conn:
            row = await conn.fetchrow(
                f"SELECT {SESSION_COLUMNS} FROM sessions WHERE id = $1", session_id
            )
        return _session(row) if row else None

    async def get_state(self, session_id: uuid.UUID) -> SessionState | None:
        row = await self.get(session_id)
        return row.state if row else None

    async def rotate_refresh_token(
        self, old_hash: bytes, new_hash: bytes, accept: Callable[[SessionRow], None]
    ) -> Rotation:
        """Single use by a conditional update: of two concurrent rotations only one matches.
        `accept` may refuse the rotated session by raising; the rotation is then undone, so a
        refused request does not use up the client's refresh token."""
        async with self._db.transaction() as conn:
            session_id = await conn.fetchval(
                "UPDATE refresh_tokens SET rotated_at = now()"
                " WHERE token_hash = $1 AND rotated_at IS NULL RETURNING session_id",
                old_hash,
            )
            if session_id is not None:
                await conn.execute(
                    "INSERT INTO refresh_tokens (token_hash, session_id) VALUES ($1, $2)",
                    new_hash,
                    session_id,
                )
                (rotated,) = await conn.fetch(
                    "UPDATE sessions SET last_used_at = now() WHERE id = $1"
                    f" RETURNING {SESSION_COLUMNS}",
                    session_id,
                )
                await conn.execute(
                    "DELETE FROM refresh_tokens WHERE token_hash IN (SELECT token_hash"
                    " FROM refresh_tokens WHERE session_id = $1 AND rotated_at IS NOT NULL"
                    " ORDER BY rotated_at DESC, token_hash OFFSET $2)",
                    session_id,
                    KEPT_SPENT_REFRESH_TOKENS,
                )
                session = _session(rotated)
                accept(session)
                return Rotation(RotationOutcome.ROTATED, session)
            # Reuse means a spent token. An unspent one found here was committed after the
            # UPDATE above looked (a journalled session copied in by another worker): it is
            # UNKNOWN to this try, not reused.
            reused = await conn.fetchrow(
                "UPDATE sessions SET revoked_at = coalesce(revoked_at, now())"
                " WHERE id = (SELECT session_id FROM refresh_tokens"
                " WHERE token_hash = $1 AND rotated_at IS NOT NULL)"
                f" RETURNING {SESSION_COLUMNS}",
                old_hash,
            )
        if reused is None:
            return Rotation(RotationOutcome.UNKNOWN, None)
        return Rotation(RotationOutcome.REUSED, _session(reused))

    async def current_refresh_token_session(self, token_hash: bytes) -> SessionRow | None:
        """The session whose current (not yet rotated) refresh token this is."""
        async with self._db.connection() as conn:
            row = await conn.fetchrow(
                f"SELECT {SESSION_COLUMNS} FROM sessions WHERE id = (SELECT session_id"
                " FROM refresh_tokens WHERE token_hash = $1 AND rotated_at IS NULL)",
                token_hash,
            )
        return _session(row) if row else None

    async def session_of_refresh_token(self, token_hash: bytes) -> SessionRow | None:
        async with self._db.connection() as conn:
            row = await conn.fetchrow(
                f"SELECT {SESSION_COLUMNS} FROM sessions"
                " WHERE id = (SELECT session_id FROM refresh_tokens WHERE token_hash = $1)",
                token_hash,
            )
        return _session(row) if row else None

    async def revoke(
        self, session_id: uuid.UUID, *, user_id: int | None = None
    ) -> SessionRow | None:
        """Ends one session (only if it belongs to `user_id`, when given); None if not found."""
        async with self._db.connection() as conn:
            row = await conn.fetchrow(
                "UPDATE sessions SET revoked_at = coalesce(revoked_at, now())"
                " WHERE id = $1 AND ($2::bigint IS NULL OR user_id = $2)"
                f" RETURNING {SESSION_COLUMNS}",
                session_id,
                user_id,
            )
        return _session(row) if row else None

    async def revoke_all_for_user(
        self, user_id: int, *, except_session: uuid.UUID | None = None
    ) -> list[SessionRow]:
        async with self._db.connection() as conn:
            rows = await conn.fetch(
                "UPDATE sessions SET revoked_at = now()"
                " WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > now()"
                " AND ($2::uuid IS NULL OR id <> $2)"
                f" RETURNING {SESSION_COLUMNS}",
                user_id,
                except_session,
            )
        return [_session(r) for r in rows]

    async def list_live(self, user_id: int) -> list[SessionRow]:
        async with self._db.connection() as conn:
            rows = await conn.fetch(
                f"SELECT {SESSION_COLUMNS} FROM sessions"
                " WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > now()"
                " ORDER BY created_at DESC",
                user_id,
            )
        return [_session(r) for r in rows]

    async def delete_ended(self, *, older_than: datetime) -> int:
        """Removes sessions that expired or were revoked before `older_than`."""
        async with self._db.connection() as conn:
            status: str = await conn.execute(
                "DELETE FROM sessions WHERE expires_at < $1 OR revoked_at < $1", older_than
            )
        return int(status.split()[-1])
