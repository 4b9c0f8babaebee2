"""Sessions: started by a login, kept alive by refresh-token rotation, ended by revocation."""

import contextlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from app.core.clock import Clock
from app.core.errors import DatabaseUnavailable, InvalidGrant
from app.core.redis import CacheUnavailable
from app.sessions.events import SessionEvents
from app.sessions.journal import SessionJournal
from app.sessions.opaque_tokens import is_plausible, new_token, token_hash
from app.sessions.repository import RotationOutcome, SessionRepository, SessionRow

USER_AGENT_MAX_CHARS: Final = 512
# A user's live sessions beyond this end, oldest first, as new ones start: whoever holds the
# password cannot grow the sessions table (or the sessions list) without bound.
MAX_LIVE_SESSIONS_PER_USER: Final = 1000
# Ended sessions are kept this long (visible to the admin in SQL), then deleted.
ENDED_SESSION_RETENTION: Final = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class StartedSession:
    session: SessionRow
    refresh_token: str


class SessionService:
    def __init__(
        self,
        *,
        repository: SessionRepository,
        journal: SessionJournal,
        events: SessionEvents,
        clock: Clock,
        refresh_ttl_seconds: int,
    ) -> None:
        self._repository = repository
        self._journal = journal
        self._events = events
        self._clock = clock
        self._refresh_ttl_seconds = refresh_ttl_seconds

    async def start(
        self, *, user_id: int, scope: str, user_agent: str | None, ip: str | None
    ) -> StartedSession:
        refresh_token = new_token()
        refresh_hash = token_hash(refresh_token)
        user_agent = user_agent[:USER_AGENT_MAX_CHARS] if user_agent else None
        expires_at = datetime.fromtimestamp(self._clock() + self._refresh_ttl_seconds, UTC)
        try:
            session, pushed_out = await self._repository.create(
                user_id=user_id,
                scope=scope,
                user_agent=user_agent,
                ip=ip,
                expires_at=expires_at,
                refresh_token_hash=refresh_hash,
                max_live_sessions=MAX_LIVE_SESSIONS_PER_USER,
            )
        except DatabaseUnavailable:
            now = datetime.fromtimestamp(self._clock(), UTC)
            session = SessionRow(
                id=uuid.uuid4(),
                user_id=user_id,
                scope=scope,
                user_agent=user_agent,
                ip=ip,
                created_at=now,
                last_used_at=now,
                expires_at=expires_at,
                revoked_at=None,
            )
            await self._journal_while_database_is_down(session, refresh_hash)
        else:
            await self._events.changed([s.state for s in (session, *pushed_out)])
        return StartedSession(session, refresh_token)

    async def _journal_while_database_is_down(
        self, session: SessionRow, refresh_hash: bytes
    ) -> None:
        try:
            await self._events.started_without_database(session.state)
            await self._journal.add(session, refresh_hash)
        except CacheUnavailable as exc:
            raise DatabaseUnavailable from exc

    async def flush_journal(self) -> None:
        """Moves sessions started during a PostgreSQL outage into PostgreSQL. Runs in the
        background, and before anything that reads or ends sessions in PostgreSQL."""
        with contextlib.suppress(CacheUnavailable):
            await self._journal.flush()

    async def rotate(
        self, refresh_token: str, accept: Callable[[SessionRow], None]
    ) -> StartedSession:
        """A new refresh token for the same session; a rotated token presented again ends
        the session (RFC 9700 §4.14), so a stolen token is worth at most one use. `accept`
        may refuse the request (by raising) before the old token is used up."""
        if not is_plausible(refresh_token):
            raise InvalidGrant
        rotated_token = new_token()
        old_hash, new_hash = token_hash(refresh_token), token_hash(rotated_token)
        rotation = await self._repository.rotate_refresh_token(old_hash, new_hash, accept)
        if rotation.outcome is RotationOutcome.UNKNOWN:  # perhaps a journalled session
            with contextlib.suppress(CacheUnavailable):
                await self._journal.take(old_hash)
            rotation = await self._repository.rotate_refresh_token(old_hash, new_hash, accept)
        if rotation.outcome is RotationOutcome.REUSED and rotation.session is not None:
            await self._events.changed([rotation.session.state])
        if rotation.outcome is not RotationOutcome.ROTATED or rotation.session is None:
            raise InvalidGrant
        if not self._is_live(rotation.session):
            raise InvalidGrant
        return StartedSession(rotation.session, rotated_token)

    async def end(self, session_id: uuid.UUID, *, user_id: int | None = None) -> bool:
        await self.flush_journal()
        return await self._revoke(session_id, user_id=user_id)

    async def end_by_refresh_token(self, refresh_token: str) -> None:
        if not is_plausible(refresh_token):
            return
        await self.flush_journal()
        session = await self._repository.session_of_refresh_token(token_hash(refresh_token))
        if session is not None:
            await self._revoke(session.id)

    async def _revoke(self, session_id: uuid.UUID, *, user_id: int | None = None) -> bool:
        session = await self._repository.revoke(session_id, user_id=user_id)
        if session is None:
            return False
        await self._events.changed([session.state])
        return True

    async def live_session_of_refresh_token(self, refresh_token: str) -> SessionRow | None:
        if not is_plausible(refresh_token):
            return None
        session = await self._repository.current_refresh_token_session(token_hash(refresh_token))
        return session if session is not None and self._is_live(session) else None

    async def end_all(self, user_id: int, *, except_session: uuid.UUID | None = None) -> int:
        await self.flush_journal()
        ended = await self._repository.revoke_all_for_user(user_id, except_session=except_session)
        await self._events.changed([s.state for s in ended])
        return len(ended)

    async def list_live(self, user_id: int) -> list[SessionRow]:
        await self.flush_journal()
        return await self._repository.list_live(user_id)

    async def delete_ended(self) -> int:
        cutoff = datetime.fromtimestamp(self._clock(), UTC) - ENDED_SESSION_RETENTION
        return await self._repository.delete_ended(older_than=cutoff)

    def _is_live(self, session: SessionRow) -> bool:
        return session.revoked_at is None and session.expires_at.timestamp() > self._clock()
