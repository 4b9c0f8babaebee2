"""The changes to an account that touch credentials. Each is written to PostgreSQL, then
published to the auth cache, then the sessions it affects are ended: so it counts on every
worker from the next request."""

import uuid

from app.authcache.directory import AuthDirectory
from app.core.errors import KeygateError, NotFound, Rejected
from app.login.throttle import LoginThrottle, account_of_user
from app.mail.outbox import MailKind, MailOutbox, NewEntry
from app.mfa.enrolment import Enrolment, TotpEnrolment
from app.mfa.errors import InvalidCode, TotpNotEnabled
from app.mfa.repository import TotpRepository
from app.mfa.verification import CodeVerifier
from app.sessions.service import SessionService
from app.users.model import User
from app.users.password_policy import check_password
from app.users.passwords import PasswordHasher
from app.users.repository import UserRepository


class WrongPassword(Rejected):
    message = "the current password is wrong"


class PasswordMissing(Rejected):
    message = "the current password is required"


class AccountService:
    def __init__(
        self,
        *,
        users: UserRepository,
        hasher: PasswordHasher,
        sessions: SessionService,
        directory: AuthDirectory,
        totp: TotpRepository,
        codes: CodeVerifier,
        throttle: LoginThrottle,
        outbox: MailOutbox,
        enrolment: TotpEnrolment,
    ) -> None:
        self._users = users
        self._hasher = hasher
        self._sessions = sessions
        self._directory = directory
        self._totp = totp
        self._codes = codes
        self._throttle = throttle
        self._outbox = outbox
        self._enrolment = enrolment

    async def change_password(
        self,
        user_id: int,
        *,
        current_password: str,
        new_password: str,
        keep_session: uuid.UUID | None,
        ip: str | None,
    ) -> None:
        user = await self._get(user_id)
        await self._check_current_password(user, current_password, ip, WrongPassword())
        check_password(new_password, user.username, field="new_password")
        updated = await self._users.set_password_hash(
            user_id, await self._hasher.hash(new_password)
        )
        await self._publish_and_end_sessions(updated, keep_session=keep_session)

    async def set_password(self, user_id: int, new_password: str) -> None:
        """An operator's reset: no current password asked, the policy applied, every session
        ended, and the old password refused at once everywhere (the cache holds the new hash)."""
        user = await self._get(user_id)
        check_password(new_password, user.username)
        updated = await self._users.set_password_hash(
            user_id, await self._hasher.hash(new_password)
        )
        await self._publish_and_end_sessions(updated, keep_session=None)

    async def password_was_reset(self, updated: User) -> None:
        """After a reset by email link: as after an operator's reset, every session ends and
        the old password is refused at once everywhere."""
        await self._publish_and_end_sessions(updated, keep_session=None)

    async def update_profile(
        self,
        user_id: int,
        changes: dict[str, str | None],
        *,
        current_password: str | None = None,
        ip: str | None = None,
    ) -> User:
        """A new email address needs the current password (a stolen access token must not
        redirect password resets), starts unverified, and the old address, if verified, is
        told."""
        notice: NewEntry | None = None
        if "email" in changes:
            user = await self._get(user_id)
            if changes["email"] == user.email:
                del changes["email"]
            else:
                if current_password is None:
                    raise PasswordMissing
                await self._check_current_password(user, current_password, ip, WrongPassword())
                if user.email is not None and user.email_verified:
                    notice = NewEntry(MailKind.EMAIL_CHANGED, user_id=user.id, recipient=user.email)
                    self._outbox.require_enabled()  # refused, not made silently
        updated = await self._users.update_profile(user_id, changes)
        if updated is None:
            raise NotFound
        await self._directory.publish_user(updated)
        if notice is not None:
            await self._outbox.add(notice)
        return updated

    async def set_flags(
        self, user_id: int, *, is_active: bool | None, is_admin: bool | None
    ) -> User:
        updated = await self._users.update_flags(user_id, is_active=is_active, is_admin=is_admin)
        if updated is None:
            raise NotFound
        await self._directory.publish_user(updated)
        if not updated.is_active:
            await self._sessions.end_all(user_id)
        return updated

    async def disable_totp(
        self,
        user_id: int,
        *,
        password: str,
        code: str,
        keep_session: uuid.UUID | None,
        ip: str | None,
    ) -> None:
        """Needs the password and a code (TOTP or recovery); ends the user's other sessions."""
        user = await self._get(user_id)
        if not user.totp_enabled:
            raise TotpNotEnabled
        refused = InvalidCode("the password or the code is wrong")
        await self._check_current_password(user, password, ip, refused)
        async with self._throttle.code_attempt(user.id):
            if not await self._codes.verify(user, code):
                raise refused
        await self._publish_and_end_sessions(
            await self._totp.disable(user_id), keep_session=keep_session
        )

    async def reset_totp(self, user_id: int) -> User:
        """An operator's reset for a user who lost their device: no password or code asked;
        TOTP off, its secret and recovery codes gone, every session ended, the cached record
        replaced, so the password alone logs in again from the next request."""
        user = await self._get(user_id)
        if not user.totp_enabled:
            raise TotpNotEnabled
        updated = await self._totp.disable(user_id)
        if updated is None:
            raise NotFound
        await self._publish_and_end_sessions(updated, keep_session=None)
        return updated

    async def begin_totp_enrolment(
        self, user_id: int, *, password: str | None, ip: str | None
    ) -> Enrolment:
        """Turning a second factor on needs the current password, so that a stolen access
        token alone cannot lock the owner out by enrolling an authenticator of its own."""
        user = await self._get(user_id)
        if not password:
            raise PasswordMissing
        await self._check_current_password(user, password, ip, WrongPassword())
        return await self._enrolment.begin(user.id, user.username)

    async def _check_current_password(
        self, user: User, password: str, ip: str | None, refused: KeygateError
    ) -> None:
        """Raises `refused` for a wrong current password: a failed attempt of that user, like
        a wrong login (a stolen access token is no way to guess the password at bcrypt
        speed)."""
        async with self._throttle.password_attempt(account_of_user(user.id), ip):
            verification = await self._hasher.verify_current(password, user.password_hash)
            if not verification.is_valid:
                raise refused

    async def _get(self, user_id: int) -> User:
        user = await self._users.get(user_id)
        if user is None:
            raise NotFound
        return user

    async def _publish_and_end_sessions(
        self, updated: User | None, *, keep_session: uuid.UUID | None
    ) -> None:
        if updated is None:
            raise NotFound
        await self._directory.publish_user(updated)
        await self._sessions.end_all(updated.id, except_session=keep_session)
