"""What authentication needs to know about users and sessions: from the Redis cache first,
then from PostgreSQL; and every change published to the cache once PostgreSQL has it."""

import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from redis.asyncio import Redis

from app.auth.cache import AuthCache, AuthRecord, SessionState, keys_of
from app.auth.invalidations import InvalidationRepository
from app.auth.session_repository import SessionRepository, SessionRow
from app.clock import Clock
from app.errors import CredentialsUnavailable, DatabaseUnavailable
from app.ops.metrics import Metrics
from app.redis import CacheUnavailable
from app.users.repository import UserRecord, UserRepository

log = logging.getLogger(__name__)

Source = Literal["cache", "db"]


def session_state(row: SessionRow) -> SessionState:
    return SessionState(
        session_id=row.id,
        user_id=row.user_id,
        expires_at=row.expires_at.timestamp(),
        is_revoked=row.revoked_at is not None,
    )


@dataclass(frozen=True, slots=True)
class Lookup:
    record: AuthRecord | None
    session: SessionState | None
    source: Source

    def live_record(self, now: float) -> AuthRecord | None:
        """The user, if the user is active and the session is theirs, live and not revoked."""
        record, session = self.record, self.session
        if record is None or session is None or not record.is_active:
            return None
        if session.user_id != record.user_id or not session.is_live(now):
            return None
        return record


class AuthDirectory:
    def __init__(
        self,
        *,
        cache: AuthCache,
        users: UserRepository,
        sessions: SessionRepository,
        invalidations: InvalidationRepository,
        metrics: Metrics,
        clock: Clock,
    ) -> None:
        self._cache = cache
        self._users = users
        self._sessions = sessions
        self._invalidations = invalidations
        self._metrics = metrics
        self._clock = clock

    # --- reads ------------------------------------------------------------------------

    async def user_and_session(self, user_id: int, session_id: uuid.UUID) -> Lookup:
        record = session = None
        if self._cache.is_enabled:
            # Redis unavailable (the guard counts it): PostgreSQL answers.
            with contextlib.suppress(CacheUnavailable):
                record, session = await self._cache.get_user_and_session(user_id, session_id)
        if record is not None and session is not None:
            self._metrics.cache_hits.labels("bearer").inc()
            return Lookup(record, session, "cache")
        self._metrics.cache_misses.labels("bearer").inc()
        try:
            if record is None:
                user = await self._users.get(user_id)
                record = AuthRecord.from_user(user) if user else None
                if record is not None:
                    await self._fill_user(record)
            if session is None:
                row = await self._sessions.get(session_id)
                session = session_state(row) if row else None
                if session is not None:
                    await self._fill_session(session)
        except DatabaseUnavailable as exc:
            self._metrics.postgres_fallbacks.inc()
            raise CredentialsUnavailable from exc
        return Lookup(record, session, "db")

    async def login_record(self, username: str) -> Lookup:
        return await self._record(
            "login",
            lambda: self._cache.get_login(username),
            lambda: self._users.get_by_username(username),
        )

    async def user_record(self, user_id: int) -> Lookup:
        return await self._record(
            "user", lambda: self._cache.get_user(user_id), lambda: self._users.get(user_id)
        )

    async def _record(
        self,
        kind: str,
        from_cache: Callable[[], Awaitable[AuthRecord | None]],
        from_database: Callable[[], Awaitable[UserRecord | None]],
    ) -> Lookup:
        if self._cache.is_enabled:
            try:
                record = await from_cache()
            except CacheUnavailable:
                pass  # the guard counts it; PostgreSQL answers below
            else:
                if record is not None:
                    self._metrics.cache_hits.labels(kind).inc()
                    return Lookup(record, None, "cache")
        self._metrics.cache_misses.labels(kind).inc()
        try:
            user = await from_database()
        except DatabaseUnavailable as exc:
            self._metrics.postgres_fallbacks.inc()
            raise CredentialsUnavailable from exc
        if user is None:
            return Lookup(None, None, "db")
        record = AuthRecord.from_user(user)
        await self._fill_user(record)
        return Lookup(record, None, "db")

    async def _fill_user(self, record: AuthRecord) -> None:
        if self._cache.is_enabled:
            with contextlib.suppress(CacheUnavailable):
                await self._cache.fill_user(record)

    async def _fill_session(self, state: SessionState) -> None:
        if self._cache.is_enabled:
            with contextlib.suppress(CacheUnavailable):
                await self._cache.fill_session(state, self._clock())

    # --- changes (called after PostgreSQL committed them) -------------------------------

    async def publish_user(self, user: UserRecord) -> None:
        if not self._cache.is_enabled:
            return
        try:
            await self._cache.replace_user(AuthRecord.from_user(user))
        except CacheUnavailable:
            await self._invalidations.record(users=[(user.id, user.username)], session_ids=[])

    async def publish_sessions(self, rows: list[SessionRow]) -> None:
        if not self._cache.is_enabled or not rows:
            return
        now = self._clock()
        try:
            for row in rows:
                await self._cache.replace_session(session_state(row), now)
        except CacheUnavailable:
            await self._invalidations.record(users=[], session_ids=[r.id for r in rows])

    async def publish_live_session(self, row: SessionRow) -> None:
        """Puts a session's state in Redis or raises CacheUnavailable: for a session that
        PostgreSQL does not have yet, Redis is the only place requests can find it."""
        await self._cache.replace_session(session_state(row), self._clock())

    async def apply_pending_invalidations(self, redis: "Redis") -> None:
        """Runs before a recovered Redis is trusted again (if it fails, Redis stays distrusted)
        and whenever a worker records invalidations (NOTIFY)."""
        pending = await self._invalidations.recent()
        if pending:
            await redis.delete(*keys_of(pending.users, pending.session_ids))
            log.info(
                "applied %d cache invalidations recorded while redis was unreachable",
                len(pending.users) + len(pending.session_ids),
            )
