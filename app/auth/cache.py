"""Every Redis key, value shape and TTL of the auth cache, in one place.

Keys (all prefixed `kg:`):
- `user:{id}` and `login:{lower(username)}`: the AuthRecord that login and the security
  dependency need (JSON), AUTH_CACHE_TTL_SECONDS.
- `session:{uuid}`: SessionState (JSON), for min(AUTH_CACHE_TTL_SECONDS, time to expiry);
  a revoked session is kept as a tombstone rather than deleted.

Fills use SET NX and changes overwrite: a reader that loaded a row just before a write
committed can then never put the old row back over the change.
"""

import json
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Final

from redis.asyncio import Redis

from app.auth.read_batcher import ReadBatcher
from app.auth.scopes import scopes_for
from app.redis import RawValue, RedisGuard
from app.users.repository import UserRecord

PREFIX: Final = "kg:"


@dataclass(frozen=True, slots=True)
class AuthRecord:
    """A user as login, the security dependency and GET /users/me need it."""

    user_id: int
    username: str
    password_hash: str
    is_active: bool
    is_admin: bool
    totp_enabled: bool
    # Encrypted with a key that never goes to Redis; lets a cached TOTP user log in.
    totp_secret_encrypted: str | None
    email: str | None
    full_name: str | None
    created_at: datetime

    @classmethod
    def from_user(cls, user: UserRecord) -> "AuthRecord":
        return cls(
            user_id=user.id,
            username=user.username,
            password_hash=user.password_hash,
            is_active=user.is_active,
            is_admin=user.is_admin,
            totp_enabled=user.totp_enabled,
            totp_secret_encrypted=user.totp_secret_encrypted,
            email=user.email,
            full_name=user.full_name,
            created_at=user.created_at,
        )

    @property
    def scopes(self) -> frozenset[str]:
        return scopes_for(is_active=self.is_active, is_admin=self.is_admin)


@dataclass(frozen=True, slots=True)
class SessionState:
    session_id: uuid.UUID
    user_id: int
    expires_at: float
    is_revoked: bool

    def is_live(self, now: float) -> bool:
        return not self.is_revoked and now < self.expires_at


def user_key(user_id: int) -> str:
    return f"{PREFIX}user:{user_id}"


def login_key(username: str) -> str:
    return f"{PREFIX}login:{username.lower()}"


def session_key(session_id: uuid.UUID) -> str:
    return f"{PREFIX}session:{session_id}"


def _encode_record(record: AuthRecord) -> bytes:
    fields = asdict(record)
    fields["created_at"] = record.created_at.isoformat()
    return json.dumps(fields, separators=(",", ":")).encode()


def _decode_record(raw: RawValue) -> AuthRecord | None:
    if not raw:
        return None
    fields = json.loads(raw)
    fields["created_at"] = datetime.fromisoformat(fields["created_at"])
    return AuthRecord(**fields)


def _encode_session(state: SessionState) -> bytes:
    return json.dumps(
        [str(state.session_id), state.user_id, state.expires_at, state.is_revoked]
    ).encode()


def _decode_session(raw: RawValue) -> SessionState | None:
    if not raw:
        return None
    session_id, user_id, expires_at, is_revoked = json.loads(raw)
    return SessionState(uuid.UUID(session_id), user_id, expires_at, is_revoked)


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
    ) -> tuple[AuthRecord | None, SessionState | None]:
        raw_user, raw_session = await self._batcher.mget(
            [user_key(user_id), session_key(session_id)]
        )
        return _decode_record(raw_user), _decode_session(raw_session)

    async def get_user(self, user_id: int) -> AuthRecord | None:
        async def read(r: "Redis") -> RawValue:
            return await r.get(user_key(user_id))

        return _decode_record(await self._guard.run(read))

    async def get_login(self, username: str) -> AuthRecord | None:
        async def read(r: "Redis") -> RawValue:
            return await r.get(login_key(username))

        return _decode_record(await self._guard.run(read))

    async def fill_user(self, record: AuthRecord) -> None:
        await self._put_user(record, only_if_absent=True)

    async def replace_user(self, record: AuthRecord) -> None:
        await self._put_user(record, only_if_absent=False)

    async def _put_user(self, record: AuthRecord, *, only_if_absent: bool) -> None:
        value = _encode_record(record)

        async def write(r: "Redis") -> None:
            async with r.pipeline(transaction=False) as pipe:
                pipe.set(user_key(record.user_id), value, ex=self._ttl_seconds, nx=only_if_absent)
                pipe.set(login_key(record.username), value, ex=self._ttl_seconds, nx=only_if_absent)
                await pipe.execute()

        await self._guard.run(write)

    async def fill_session(self, state: SessionState, now: float) -> None:
        await self._put_session(state, now, only_if_absent=True)

    async def replace_session(self, state: SessionState, now: float) -> None:
        await self._put_session(state, now, only_if_absent=False)

    async def _put_session(self, state: SessionState, now: float, *, only_if_absent: bool) -> None:
        ttl = (
            self._ttl_seconds
            if state.is_revoked
            else min(self._ttl_seconds, int(state.expires_at - now))
        )
        if ttl <= 0:
            return
        value = _encode_session(state)

        async def write(r: "Redis") -> None:
            await r.set(session_key(state.session_id), value, ex=ttl, nx=only_if_absent)

        await self._guard.run(write)


def keys_of(users: list[tuple[int, str]], session_ids: list[uuid.UUID]) -> list[str]:
    keys = [user_key(u) for u, _ in users] + [login_key(name) for _, name in users]
    return keys + [session_key(s) for s in session_ids]
