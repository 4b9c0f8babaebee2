"""User changes that touch credentials: each is written to PostgreSQL, then published to the
auth cache, then the sessions it affects are ended."""

import uuid

from app.auth.directory import AuthDirectory
from app.auth.passwords import PasswordHasher
from app.auth.sessions import SessionService
from app.errors import ApiError, NotFound
from app.users.password_policy import check_password
from app.users.repository import UserRecord, UserRepository


class WrongPassword(ApiError):
    status_code = 400
    detail = "the current password is wrong"


class UserService:
    def __init__(
        self,
        *,
        users: UserRepository,
        hasher: PasswordHasher,
        sessions: SessionService,
        directory: AuthDirectory,
    ) -> None:
        self._users = users
        self._hasher = hasher
        self._sessions = sessions
        self._directory = directory

    async def register(
        self,
        *,
        username: str,
        password: str,
        email: str | None = None,
        full_name: str | None = None,
        is_admin: bool = False,
    ) -> UserRecord:
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
        user = await self._users.get(user_id)
        if user is None:
            raise NotFound
        verification = await self._hasher.verify(current_password, user.password_hash)
        if not verification.is_valid:
            raise WrongPassword
        check_password(new_password, user.username, field="new_password")
        updated = await self._users.set_password_hash(
            user_id, await self._hasher.hash(new_password)
        )
        if updated is None:
            raise NotFound
        await self._directory.publish_user(updated)
        await self._sessions.end_all(user_id, except_session=keep_session)

    async def set_password(self, user_id: int, new_password: str) -> None:
        """An operator's reset: no current password asked, the policy applied, every session
        ended, and the old password refused at once everywhere (the cache holds the new hash)."""
        user = await self._users.get(user_id)
        if user is None:
            raise NotFound
        check_password(new_password, user.username)
        updated = await self._users.set_password_hash(
            user_id, await self._hasher.hash(new_password)
        )
        if updated is None:
            raise NotFound
        await self._directory.publish_user(updated)
        await self._sessions.end_all(user_id)

    async def update_profile(self, user_id: int, changes: dict[str, str | None]) -> UserRecord:
        updated = await self._users.update_profile(user_id, changes)
        if updated is None:
            raise NotFound
        await self._directory.publish_user(updated)
        return updated

    async def set_flags(
        self, user_id: int, *, is_active: bool | None, is_admin: bool | None
    ) -> UserRecord:
        updated = await self._users.update_flags(user_id, is_active=is_active, is_admin=is_admin)
        if updated is None:
            raise NotFound
        await self._directory.publish_user(updated)
        if not updated.is_active:
            await self._sessions.end_all(user_id)
        return updated
