"""Device tokens (OWASP's "device cookies"): a device that logged in before has a throttling
window of its own, so failures from elsewhere never lock it out (docs/contract.md, Hardening).

A token is 256 random bits, bound to one user, valid REFRESH_TOKEN_TTL_SECONDS. PostgreSQL
keeps its SHA-256 digest only; the throttle names the device's window by that digest."""

import contextlib
import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from typing import Final

from app.core.clock import Clock
from app.core.errors import DatabaseUnavailable
from app.login.device_repository import DeviceTokenRepository

TOKEN_BYTES: Final = 32
# token_urlsafe(32) is 43 characters: anything much longer is not a device token.
MAX_TOKEN_CHARS: Final = 64


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


class DeviceTokens:
    def __init__(self, *, repository: DeviceTokenRepository, clock: Clock, ttl_seconds: int):
        self._repository = repository
        self._clock = clock
        self._ttl_seconds = ttl_seconds

    async def device_of(self, token: str | None, user_id: int | None) -> str | None:
        """The name of the device's window when `token` is a live device token of `user_id`;
        None for no token, an unknown, expired or another user's one (looked up all the same,
        so that the answer takes as long whoever the name belongs to)."""
        if not token or len(token) > MAX_TOKEN_CHARS:
            return None
        digest = _digest(token)
        owner = None
        with contextlib.suppress(DatabaseUnavailable):  # counted as if it had none
            owner = await self._repository.owner(digest, self._now())
        if owner is None or owner != user_id:
            return None
        return digest.hex()

    async def issue(self, user_id: int) -> str | None:
        """A new device token of `user_id`; None while PostgreSQL, which keeps them, cannot be
        reached (a cached user's login still succeeds, without one)."""
        token = secrets.token_urlsafe(TOKEN_BYTES)
        expires_at = self._now() + timedelta(seconds=self._ttl_seconds)
        try:
            await self._repository.add(_digest(token), user_id, expires_at)
        except DatabaseUnavailable:
            return None
        return token

    async def delete_expired(self) -> None:
        await self._repository.delete_expired(self._clock())

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)
