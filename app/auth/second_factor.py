"""The TOTP second factor: enrolment, verification with a replay guard, recovery codes and
the mfa_token challenge of the password grant."""

import contextlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from redis.asyncio import Redis

from app.auth import totp
from app.auth.cache import AuthRecord
from app.auth.directory import AuthDirectory
from app.auth.opaque_tokens import is_plausible, new_token, token_hash
from app.auth.passwords import PasswordHasher
from app.auth.sessions import SessionService
from app.auth.totp_repository import Challenge, TotpRepository
from app.clock import Clock
from app.errors import ApiError, Conflict, DatabaseUnavailable, NotFound
from app.redis import CacheUnavailable, RedisGuard
from app.users.repository import UserRepository

MFA_TOKEN_TTL_SECONDS: Final = 300
# Kept a little longer than the drift window, so a step cannot be used twice.
STEP_KEY_TTL_SECONDS: Final = totp.STEP_SECONDS * (2 * totp.ALLOWED_DRIFT_STEPS + 2)

# KEYS[1]: the user's last used step; ARGV: the step, the key's TTL. 1 if claimed, else 0.
_CLAIM_STEP = """
local last = redis.call('GET', KEYS[1])
if last and tonumber(last) >= tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return 1
"""


class InvalidCode(ApiError):
    status_code = 400
    detail = "the code is wrong or was already used"


class TotpAlreadyEnabled(Conflict):
    detail = "TOTP is already enabled"


class TotpNotEnabled(Conflict):
    detail = "TOTP is not enabled"


class NoEnrolment(Conflict):
    detail = "no TOTP enrolment in progress: POST /users/me/totp first"


@dataclass(frozen=True, slots=True)
class Enrolment:
    secret: str
    otpauth_uri: str
    qr_svg: str


def step_key(user_id: int) -> str:
    return f"kg:totp-step:{user_id}"


class SecondFactor:
    def __init__(
        self,
        *,
        repository: TotpRepository,
        users: UserRepository,
        cipher: totp.SecretCipher,
        guard: RedisGuard,
        directory: AuthDirectory,
        sessions: SessionService,
        hasher: PasswordHasher,
        clock: Clock,
        max_failures: int,
    ) -> None:
        self._repository = repository
        self._users = users
        self._cipher = cipher
        self._guard = guard
        self._directory = directory
        self._sessions = sessions
        self._hasher = hasher
        self._clock = clock
        self._max_failures = max_failures
        self._claim_script = guard.redis.register_script(_CLAIM_STEP)

    # --- enrolment --------------------------------------------------------------------

    async def enrol(self, user_id: int, username: str) -> Enrolment:
        secret = totp.new_secret()
        if not await self._repository.set_pending_secret(user_id, self._cipher.encrypt(secret)):
            raise TotpAlreadyEnabled
        uri = totp.provisioning_uri(secret, username)
        return Enrolment(secret, uri, totp.qr_svg(uri))

    async def confirm(self, user_id: int, code: str) -> list[str]:
        encrypted = await self._repository.pending_secret(user_id)
        if encrypted is None:
            user = await self._users.get(user_id)
            raise TotpAlreadyEnabled if user and user.totp_enabled else NoEnrolment
        secret = self._cipher.decrypt(encrypted)
        step = totp.matching_step(secret, code, self._clock()) if secret else None
        if step is None:
            raise InvalidCode
        codes = totp.new_recovery_codes()
        user = await self._repository.enable(
            user_id,
            encrypted=encrypted,
            step=step,
            recovery_code_hashes=[totp.recovery_code_hash(c) for c in codes],
        )
        if user is None:  # a concurrent restart of the enrolment replaced the secret
            raise NoEnrolment
        with contextlib.suppress(CacheUnavailable):  # the confirming code is used up too
            await self._guard.run(lambda r: r.set(step_key(user_id), step, ex=STEP_KEY_TTL_SECONDS))
        await self._directory.publish_user(user)
        return codes

    async def disable(
        self, user_id: int, *, password: str, code: str, keep_session: uuid.UUID | None
    ) -> None:
        user = await self._users.get(user_id)
        if user is None:
            raise NotFound
        if not user.totp_enabled:
            raise TotpNotEnabled
        record = AuthRecord.from_user(user)
        password_ok = (await self._hasher.verify(password, user.password_hash)).is_valid
        if not password_ok or not await self.verify(record, code):
            raise InvalidCode("the password or the code is wrong")
        updated = await self._repository.disable(user_id)
        if updated is None:
            raise NotFound
        await self._directory.publish_user(updated)
        await self._sessions.end_all(user_id, except_session=keep_session)

    # --- verification -----------------------------------------------------------------

    async def verify(self, record: AuthRecord, code: str) -> bool:
        """A TOTP code (each time step once) or an unused recovery code."""
        code = code.strip()
        if not code or len(code) > totp.MAX_CODE_CHARS or record.totp_secret_encrypted is None:
            return False
        if totp.is_totp_code(code):
            secret = self._cipher.decrypt(record.totp_secret_encrypted)
            step = totp.matching_step(secret, code, self._clock()) if secret else None
            return step is not None and await self._claim_step(record.user_id, step)
        return await self._repository.use_recovery_code(
            record.user_id, totp.recovery_code_hash(code)
        )

    async def _claim_step(self, user_id: int, step: int) -> bool:
        """Claims the step in Redis and in PostgreSQL, each that can be reached: a code used
        while either was away is still refused by the other. Neither reachable: refused."""

        async def claim_in_redis(_: Redis) -> int:
            claimed: int = await self._claim_script(
                keys=[step_key(user_id)], args=[step, STEP_KEY_TTL_SECONDS]
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

    # --- the mfa_token challenge ---------------------------------------------------------

    async def start_challenge(self, user_id: int, scope: str) -> str:
        token = new_token()
        await self._repository.create_challenge(
            token_hash=token_hash(token),
            user_id=user_id,
            scope=scope,
            expires_at=self._now() + timedelta(seconds=MFA_TOKEN_TTL_SECONDS),
        )
        return token

    async def challenge(self, mfa_token: str) -> Challenge | None:
        if not is_plausible(mfa_token):
            return None
        return await self._repository.live_challenge(
            token_hash(mfa_token), now=self._now(), max_failures=self._max_failures
        )

    async def fail_challenge(self, mfa_token: str) -> None:
        await self._repository.fail_challenge(token_hash(mfa_token))

    async def consume_challenge(self, mfa_token: str) -> bool:
        return await self._repository.consume_challenge(
            token_hash(mfa_token), now=self._now(), max_failures=self._max_failures
        )

    async def delete_ended_challenges(self) -> None:
        await self._repository.delete_ended_challenges(before=self._now())

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)
