"""The auth cache's Redis operations. Fills use SET NX and changes overwrite: a reader that
loaded a row just before a write committed can then never put the old row back over the
change, and a change must reach a replica (where Redis has one) before it counts as
published (RedisGuard.change). Keys and their TTLs: app/authcache/keys.py."""

import uuid

from app.authcache.keys import login_key, session_key, user_key
from app.authcache.read_batcher import ReadBatcher
from app.authcache.records import (
    NoSuchUser,
    decode_login,
    decode_session,
    decode_user,
    encode_no_such_user,
    encode_session,
    encode_user,
)
from app.core.redis import AnyPipeline, RedisGuard
from app.core.redis_connection import RedisClient
from app.sessions.state import SessionState
from app.users.model import User


class AuthCache:
    """Raises CacheUnavailable (from the guard) when Redis cannot be used."""

    def __init__(self, guard: RedisGuard, ttl_seconds: int) -> None:
        self._guard = guard
        self._batcher = ReadBatcher(guard)
        self._ttl_seconds = ttl_seconds

    @property
    def is_enabled(self) -> bool:
        return self._ttl_seconds > 0

    async def get_user_and_session(
        self, user_id: int, session_id: uuid.UUID
    ) -> tuple[User | None, SessionState | None]:
        raw_user, raw_session = await self._batcher.mget(
            [user_key(user_id), session_key(user_id, session_id)]
        )
        return decode_user(raw_user), decode_session(raw_session)

    async def get_user(self, user_id: int) -> User | None:
        (raw_user,) = await self._batcher.mget([user_key(user_id)])
        return decode_user(raw_user)

    async def get_login(self, username: str) -> User | NoSuchUser | None:
        """HTTP Basic asks for this on every request: it joins the bearer requests' reads."""
        (raw_user,) = await self._batcher.mget([login_key(username)])
        return decode_login(raw_user)

    async def fill_no_such_user(self, username: str, entry: NoSuchUser) -> None:
        """SET NX like every fill: a user registered meanwhile (whose entry overwrites this
        one) is never hidden by it."""
        key, value = login_key(username), encode_no_such_user(entry)

        async def write(r: RedisClient) -> None:
            await r.set(key, value, ex=self._ttl_seconds, nx=True)

        await self._guard.run(write)

    async def fill_user(self, user: User) -> None:
        value = encode_user(user)

        async def write(r: RedisClient) -> None:
            async with r.pipeline(transaction=False) as pipe:
                self._queue_user(pipe, user, value, only_if_absent=True)
                await pipe.execute()

        await self._guard.run(write)

    async def replace_user(self, user: User) -> None:
        """Raises UnreplicatedChange when no replica confirmed it (see RedisGuard.change)."""
        value = encode_user(user)
        await self._guard.change(
            [user_key(user.id), login_key(user.username)],
            lambda pipe: self._queue_user(pipe, user, value, only_if_absent=False),
        )

    async def forget_login(self, username: str) -> None:
        """Raises UnreplicatedChange when no replica confirmed it (see RedisGuard.change)."""
        key = login_key(username)
        await self._guard.change([key], lambda pipe: pipe.delete(key))

    def _queue_user(
        self, pipe: AnyPipeline, user: User, value: bytes, *, only_if_absent: bool
    ) -> None:
        # Two hash slots: a non-transactional pipeline, which a cluster client splits per node.
        pipe.set(user_key(user.id), value, ex=self._ttl_seconds, nx=only_if_absent)
        pipe.set(login_key(user.username), value, ex=self._ttl_seconds, nx=only_if_absent)

    async def fill_session(self, state: SessionState, now: float) -> None:
        await self._put_session(state, now, only_if_absent=True)

    async def replace_session(self, state: SessionState, now: float, *, confirm: bool) -> None:
        """With `confirm`, raises UnreplicatedChange when no replica confirmed it."""
        await self._put_session(state, now, only_if_absent=False, confirm=confirm)

    async def _put_session(
        self, state: SessionState, now: float, *, only_if_absent: bool, confirm: bool = False
    ) -> None:
        ttl = (
            self._ttl_seconds
            if state.is_revoked
            else min(self._ttl_seconds, int(state.expires_at - now))
        )
        if ttl <= 0:
            return
        value = encode_session(state)
        key = session_key(state.user_id, state.session_id)
        if confirm:
            await self._guard.change([key], lambda pipe: pipe.set(key, value, ex=ttl))
            return

        async def write(r: RedisClient) -> None:
            await r.set(key, value, ex=ttl, nx=only_if_absent)

        await self._guard.run(write)
