"""Checks a second-factor code: a TOTP code, each time step once (claimed in Redis and in
PostgreSQL), or an unused recovery code."""

import contextlib
from typing import Final

from app.authcache.keys import totp_step_key
from app.core.clock import Clock
from app.core.errors import DatabaseUnavailable
from app.core.redis import CacheUnavailable, RedisGuard
from app.core.redis_connection import RedisClient
from app.mfa import totp
from app.mfa.repository import TotpRepository
from app.users.model import User

# Kept a little longer than the drift window, so a step cannot be used twice.
STEP_KEY_TTL_SECONDS: Final = totp.STEP_SECONDS * (2 * totp.ALLOWED_DRIFT_STEPS + 2)

# KEYS[1]: the user's last used step; ARGV: the step, the key's TTL. 1 if claimed, else 0.
_CLAIM_STEP = """
local last = redis.call('GET', KEYS[1])
if last and tonumber(last) >= tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return 1
"""


class CodeVerifier:
    def __init__(
        self,
        *,
        repository: TotpRepository,
        cipher: totp.SecretCipher,
        guard: RedisGuard,
        clock: Clock,
    ) -> None:
        self._repository = repository
        self._cipher = cipher
        self._guard = guard
        self._clock = clock
        self._claim_script = guard.redis.register_script(_CLAIM_STEP)

    async def verify(self, user: User, code: str) -> bool:
        """A TOTP code (each time step once) or an unused recovery code."""
        code = code.strip()
        if not code or len(code) > totp.MAX_CODE_CHARS or user.totp_secret_encrypted is None:
            return False
        if totp.is_totp_code(code):
            secret = self._cipher.decrypt(user.totp_secret_encrypted)
            step = totp.matching_step(secret, code, self._clock()) if secret else None
            return step is not None and await self._claim_step(user.id, step)
        return await self._repository.use_recovery_code(user.id, totp.recovery_code_hash(code))

    async def mark_step_used(self, user_id: int, step: int) -> None:
        """The code that confirmed an enrolment is used up too (PostgreSQL records it with
        the enrolment)."""
        with contextlib.suppress(CacheUnavailable):
            await self._guard.run(
                lambda r: r.set(totp_step_key(user_id), step, ex=STEP_KEY_TTL_SECONDS)
            )

    async def _claim_step(self, user_id: int, step: int) -> bool:
        """Claims the step in Redis and in PostgreSQL, each that can be reached: a code used
        while either was away is still refused by the other. Neither reachable: refused."""

        async def claim_in_redis(_: RedisClient) -> int:
            claimed: int = await self._claim_script(
                keys=[totp_step_key(user_id)], args=[step, STEP_KEY_TTL_SECONDS]
            )
            return claimed

        claimed_somewhere = False
        try:
            if not await self._guard.run(claim_in_redis):
                return False
            claimed_somewhere = True
        except CacheUnavailable:
            pass
        try:
            if not await self._repository.claim_step(user_id, step):
                return False
            claimed_somewhere = True
        except DatabaseUnavailable:
            pass
        return claimed_somewhere
