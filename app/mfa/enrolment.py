"""TOTP enrolment: a pending secret, then a confirming code turns TOTP on and hands out the
recovery codes. Beginning one needs the current password, which the caller has checked
(AccountService.begin_totp_enrolment counts it like a login attempt)."""

from dataclasses import dataclass

from app.authcache.directory import AuthDirectory
from app.core.clock import Clock
from app.mfa import totp
from app.mfa.errors import InvalidCode, NoEnrolment, TotpAlreadyEnabled
from app.mfa.repository import TotpRepository
from app.mfa.verification import CodeVerifier
from app.users.repository import UserRepository


@dataclass(frozen=True, slots=True)
class Enrolment:
    secret: str
    otpauth_uri: str
    qr_svg: str


class TotpEnrolment:
    def __init__(
        self,
        *,
        repository: TotpRepository,
        users: UserRepository,
        cipher: totp.SecretCipher,
        codes: CodeVerifier,
        directory: AuthDirectory,
        clock: Clock,
    ) -> None:
        self._repository = repository
        self._users = users
        self._cipher = cipher
        self._codes = codes
        self._directory = directory
        self._clock = clock

    async def begin(self, user_id: int, username: str) -> Enrolment:
        """Only once the user's current password was checked."""
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
        await self._codes.mark_step_used(user_id, step)
        await self._directory.publish_user(user)
        return codes
