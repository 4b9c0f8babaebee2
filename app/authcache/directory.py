"""The read-through: what authentication needs to know about users and sessions, from the
Redis cache first, then from PostgreSQL; and every change published to the cache once
PostgreSQL has it (or, when Redis cannot take it, recorded as an invalidation)."""

import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Literal, NamedTuple, get_args

from app.authcache.cache import AuthCache
from app.authcache.invalidations import InvalidationRepository
from app.authcache.keys import keys_of
from app.authcache.records import NoSuchUser
from app.core.clock import Clock
from app.core.errors import DatabaseUnavailable
from app.core.redis import CacheUnavailable
from app.core.redis_connection import RedisClient
from app.ops.metrics import Metrics
from app.sessions.repository import SessionRepository
from app.sessions.state import SessionState
from app.users.model import User
from app.users.repository import UserRepository

log = logging.getLogger(__name__)

Source = Literal["cache", "db"]
CacheKind = Literal["bearer", "login", "user"]
CACHE_KINDS: tuple[CacheKind, ...] = get_args(CacheKind)


class Lookup(NamedTuple):
    """(A NamedTuple: made on every authenticated request; see Principal.)"""

    user: User | None
    session: SessionState | None
    source: Source
    # For a login name looked up in PostgreSQL: the name as PostgreSQL folds it.
    folded_name: str | None = None

    def live_user(self, now: float) -> User | None:
        """The user, if the user is active and the session is theirs, live and not revoked."""
        user, session = self.user, self.session
        if user is None or session is None or not user.is_active:
            return None
        if session.user_id != user.id or not session.is_live(now):
            return None
        return user


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
        # The newest invalidation this worker has applied; None until its first catch-up.
        self._applied_up_to: int | None = None
        # labels() takes a lock and builds a tuple: the hot paths' counters are looked up once.
        self._hits = {kind: metrics.cache_hits.labels(kind) for kind in CACHE_KINDS}
        self._misses = {kind: metrics.cache_misses.labels(kind) for kind in CACHE_KINDS}

    # --- reads (DatabaseUnavailable when PostgreSQL is needed and down) -----------------

    async def user_and_session(self, user_id: int, session_id: uuid.UUID) -> Lookup:
        user = session = None
        if self._cache.is_enabled:
            # Not contextlib.suppress: a context manager per warm request costs more.
            try:  # noqa: SIM105
                user, session = await self._cache.get_user_and_session(user_id, session_id)
            except CacheUnavailable:
                pass  # the guard counts it; PostgreSQL answers below
        if user is not None and session is not None:
            self._hits["bearer"].inc()
            return Lookup(user, session, "cache")
        self._misses["bearer"].inc()
        try:
            if user is None:
                user = await self._users.get(user_id)
                if user is not None:
                    await self._fill_user(user)
            if session is None:
                session = await self._sessions.get_state(session_id)
                if session is not None:
                    await self._fill_session(session)
        except DatabaseUnavailable:
            self._metrics.postgres_fallbacks.inc()
            raise
        return Lookup(user, session, "db")

    async def login_record(self, username: str) -> Lookup:
        """The user a login name finds. An unknown name is cached as such, for as long as a
        known one, so a name is answered the same way (cache or PostgreSQL, and counted the
        same in /metrics) whether or not it exists (docs/contract.md §8)."""
        if self._cache.is_enabled:
            try:
                entry = await self._cache.get_login(username)
            except CacheUnavailable:
                entry = None  # the guard counts it; PostgreSQL answers below
            if isinstance(entry, NoSuchUser):
                self._hits["login"].inc()
                return Lookup(None, None, "cache", folded_name=entry.folded_name)
            if entry is not None:
                self._hits["login"].inc()
                return Lookup(entry, None, "cache")
        self._misses["login"].inc()
        try:
            user, folded_name = await self._users.find_login(username)
        except DatabaseUnavailable:
            self._metrics.postgres_fallbacks.inc()
            raise
        if user is not None:
            await self._fill_user(user)
        elif folded_name == username.lower():
            # A known user is cached under the key of their own name, which a spelling that
            # PostgreSQL folds otherwise than Python (`İ`) never reads: such a spelling is
            # then never cached, known or not, and a registration's entry for the name it
            # folds to always replaces this one.
            await self._fill_no_such_user(username, NoSuchUser(folded_name))
        return Lookup(user, None, "db", folded_name=folded_name)

    async def user_record(self, user_id: int) -> Lookup:
        return await self._user(
            "user", lambda: self._cache.get_user(user_id), lambda: self._users.get(user_id)
        )

    async def _user(
        self,
        kind: CacheKind,
        from_cache: Callable[[], Awaitable[User | None]],
        from_database: Callable[[], Awaitable[User | None]],
    ) -> Lookup:
        if self._cache.is_enabled:
            try:
                user = await from_cache()
            except CacheUnavailable:
                pass  # the guard counts it; PostgreSQL answers below
            else:
                if user is not None:
                    self._hits[kind].inc()
                    return Lookup(user, None, "cache")
        self._misses[kind].inc()
        try:
            user = await from_database()
        except DatabaseUnavailable:
            self._metrics.postgres_fallbacks.inc()
            raise
        if user is not None:
            await self._fill_user(user)
        return Lookup(user, None, "db")

    async def _fill_user(self, user: User) -> None:
        if self._cache.is_enabled:
            with contextlib.suppress(CacheUnavailable):
                await self._cache.fill_user(user)

    async def _fill_no_such_user(self, username: str, entry: NoSuchUser) -> None:
        """A registration that commits between the look-up and this fill deletes the name's
        entry before the fill lands, so the name is looked up once more after it: the new
        user is then written over the entry, and no user is hidden for a TTL."""
        if not self._cache.is_enabled:
            return
        with contextlib.suppress(CacheUnavailable, DatabaseUnavailable):
            await self._cache.fill_no_such_user(username, entry)
            user, _ = await self._users.find_login(username)
            if user is not None:
                await self._cache.replace_user(user)

    async def _fill_session(self, state: SessionState) -> None:
        if self._cache.is_enabled:
            with contextlib.suppress(CacheUnavailable):
                await self._cache.fill_session(state, self._clock())

    # --- changes (called after PostgreSQL committed them) -------------------------------

    async def publish_user(self, user: User) -> None:
        """The change reaches Redis (and a replica, where there is one), or is recorded in
        PostgreSQL, to be applied before Redis is trusted again (also after a failover)."""
        if not self._cache.is_enabled:
            return
        try:
            await self._cache.replace_user(user)
        except CacheUnavailable:  # UnreplicatedChange too
            await self._invalidations.record(users=[(user.id, user.username)], sessions=[])

    async def publish_new_user(self, user: User) -> None:
        """Drops what the cache holds for the new user's name (a failed login cached it as a
        name with no user), so the user logs in at once; or records it, as publish_user does."""
        if not self._cache.is_enabled:
            return
        try:
            await self._cache.forget_login(user.username)
        except CacheUnavailable:  # UnreplicatedChange too
            await self._invalidations.record(users=[(user.id, user.username)], sessions=[])

    async def publish_sessions(self, states: list[SessionState]) -> None:
        if not self._cache.is_enabled or not states:
            return
        now = self._clock()
        try:
            for state in states:
                await self._cache.replace_session(state, now, confirm=True)
        except CacheUnavailable:  # UnreplicatedChange too
            await self._invalidations.record(
                users=[], sessions=[(s.user_id, s.session_id) for s in states]
            )

    async def publish_live_session(self, state: SessionState) -> None:
        """Puts a session's state in Redis or raises CacheUnavailable: for a session that
        PostgreSQL does not have yet, Redis is the only place requests can find it. Not
        confirmed by a replica: a new session lost in a failover only means a new login."""
        await self._cache.replace_session(state, self._clock(), confirm=False)

    async def apply_pending_invalidations(self, redis: RedisClient) -> None:
        """Runs before a recovered Redis is trusted again (if it fails, Redis stays distrusted)
        and whenever a worker records invalidations (NOTIFY). Every recent entry is applied
        (deleting a key twice costs only a miss); only those recorded since this worker's
        first catch-up are logged: at start they were, in all likelihood, applied already,
        and a start is no recovery."""
        pending = await self._invalidations.recent(self._applied_up_to or 0)
        if pending:
            # Split per hash slot by a cluster client (DEL is not atomic there; need not be).
            await redis.delete(*keys_of(pending.users, pending.sessions))
            if self._applied_up_to is not None and pending.recorded_since:
                log.info(
                    "applied %d cache invalidations recorded while redis was unreachable",
                    pending.recorded_since,
                )
        self._applied_up_to = max(self._applied_up_to or 0, pending.newest_id)
