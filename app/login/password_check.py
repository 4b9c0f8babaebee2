"""THE password check, shared by the password grant and HTTP Basic: normalise the name, look
the user up (cache first), respect and feed the throttle, run bcrypt off the event loop, and
re-hash a hash cheaper than BCRYPT_ROUNDS."""

import unicodedata
from dataclasses import dataclass
from typing import Final

from app.authcache.directory import AuthDirectory, Lookup
from app.login.throttle import LoginThrottle
from app.users.model import User
from app.users.passwords import PasswordHasher
from app.users.repository import UserRepository

# No username is longer (registration refuses it): a longer name is an unknown user.
MAX_USERNAME_CHARS: Final = 50


@dataclass(frozen=True, slots=True)
class LoginAttempt:
    username: str  # as normalised: the spelling throttling counts
    found: Lookup


class PasswordCheck:
    def __init__(
        self,
        *,
        directory: AuthDirectory,
        users: UserRepository,
        hasher: PasswordHasher,
        throttle: LoginThrottle,
    ) -> None:
        self._directory = directory
        self._users = users
        self._hasher = hasher
        self._throttle = throttle

    async def find(self, username: str) -> LoginAttempt:
        """NFKC folds look-alike forms (full-width letters, ligatures) as registration did."""
        username = unicodedata.normalize("NFKC", username)
        found = await self._directory.login_record(username[:MAX_USERNAME_CHARS])
        if len(username) > MAX_USERNAME_CHARS:
            found = Lookup(None, None, found.source)
        return LoginAttempt(username, found)

    async def verify(self, attempt: LoginAttempt, password: str, ip: str | None) -> User | None:
        """The user, or None for an unknown name, a wrong password or an inactive user: one
        failed attempt, counted. Raises TooManyAttempts while throttled, whatever the password."""
        await self._throttle.check(attempt.username, ip)
        user = attempt.found.user
        verification = await self._hasher.verify(password, user.password_hash if user else None)
        if user is None or not verification.is_valid or not user.is_active:
            await self._throttle.record_failure(attempt.username, ip)
            return None
        if verification.needs_rehash:
            return await self._rehash(user, password)
        return user

    async def _rehash(self, user: User, password: str) -> User:
        """A hash below the current cost is replaced at the current cost (docs/contract.md,
        Data operators may write with SQL)."""
        new_hash = await self._hasher.hash(password)
        updated = await self._users.replace_password_hash(
            user.id, old_hash=user.password_hash, new_hash=new_hash
        )
        if updated is None:  # changed meanwhile: the new password's hash stays
            return user
        await self._directory.publish_user(updated)
        return updated
