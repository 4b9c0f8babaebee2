"""The actions on an account that touch credentials. Each is written to PostgreSQL, then
published to the auth cache, then the sessions it affects are ended: so it counts on every
worker from the next request."""

import uuid

from app.authcache.directory import AuthDirectory
from app.core.errors import Forbidden, NotFound, Rejected
from app.mfa.errors import InvalidCode, TotpNotEnabled
from app.mfa.repository import TotpRepository
from app.mfa.verification import CodeVerifier
from app.sessions.service import SessionService
from app.users.model import User
from app.users.password_policy import check_password
from app.users.passwords import PasswordHasher
from app.users.repository import UserRepository


class RegistrationClosed(Forbidden):
    message = "registration is closed"


class WrongPassword(Rejected):
    message = "the current password is wrong"


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
        registration_open: bool,
    ) -> None:
        self._users = users
        self._hasher = hasher
        self._sessions = sessions
        self._directory = directory
        self._totp = totp
        self._codes = codes
        self._registration_open = registration_open

    async def register(
        self, *, username: str, password: str, email: str | None, full_name: str | None
    ) -> User:
        """Self-service registration (POST /users), when REGISTRATION_OPEN."""
        if not self._registration_open:
            raise RegistrationClosed
        return await self.create(
            username=username, password=password, email=email, full_name=full_name
        )

    async def create(
        self,
        *,
        username: str,
        password: str,
        email: str | None = None,
        full_name: str | None = None,
        is_admin: bool = False,
    ) -> User:
        password_hash = await self._hasher.hash(password)
        return await self._users.create(
            username=username,
            password_hash=password_hash,
            email=email,
            full_name=full_name,
            is_admin=is_admin,
        )

    async def change_password(
        self,
        user_id: int,
        *,
        current_password: str,
        new_password: str,
        keep_session: uuid.UUID | None,
    ) -> None:
        user = await self._get(user_id)
        if not (await self._hasher.verify(current_password, user.password_hash)).is_valid:
            raise WrongPassword
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

    async def update_profile(self, user_id: int, changes: dict[str, str | None]) -> User:
        updated = await self._users.update_profile(user_id, changes)
        if updated is None:
            raise NotFound
        await self._directory.publish_user(updated)
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
        self, user_id: int, *, password: str, code: str, keep_session: uuid.UUID | None
    ) -> None:
        """Needs the password and a code (TOTP or recovery); ends the user's other sessions."""
        user = await self._get(user_id)
        if not user.totp_enabled:
            raise TotpNotEnabled
        password_ok = (await self._hasher.verify(password, user.password_hash)).is_valid
        if not password_ok or not await self._codes.verify(user, code):
            raise InvalidCode("the password or the code is wrong")
        await self._publish_and_end_sessions(
            await self._totp.disable(user_id), keep_session=keep_session
        )

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
