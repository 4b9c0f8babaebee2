"""THE password check, shared by the password grant and HTTP Basic: normalise the name, look
the user up (cache first), count the attempt in the account's throttling windows (or its
device's) before the check, run bcrypt off the event loop in the client address's turn of the
login queue, and re-hash a hash cheaper than BCRYPT_ROUNDS."""

import hashlib
import re
import unicodedata
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Final, NamedTuple

from app.authcache.directory import AuthDirectory, Lookup
from app.core.client_address import address_bucket
from app.core.errors import KeygateError, LoginQueueFull
from app.login.device_tokens import DeviceTokens
from app.login.throttle import LoginThrottle, account_of_name, account_of_user
from app.users.model import User
from app.users.passwords import PasswordHasher
from app.users.repository import UserRepository

# No username is longer (registration refuses it).
MAX_USERNAME_CHARS: Final = 50
# Registration allows only [A-Za-z0-9._-]; letters outside ASCII stay possible in a login
# name because PostgreSQL's case folding may map them onto ASCII ones (as `İ` onto `i`).
_NOT_IN_ANY_USERNAME = re.compile(r"[\x00-\x2c\x2f\x3a-\x40\x5b-\x5e\x60\x7b-\x9f\s]")


class PasswordRefused(KeygateError):
    """An unknown name, a wrong password or an inactive user: one failed attempt. Each caller
    answers it in its own protocol's words."""

    message = "invalid username or password"


class LoginAttempt(NamedTuple):
    """(A NamedTuple: made on every Basic request; see Principal.)"""

    username: str  # as normalised
    account: str  # the throttling identity: one per account, whatever the spelling
    found: Lookup


def could_be_username(name: str) -> bool:
    return 0 < len(name) <= MAX_USERNAME_CHARS and not _NOT_IN_ANY_USERNAME.search(name)


class PasswordCheck:
    def __init__(
        self,
        *,
        directory: AuthDirectory,
        users: UserRepository,
        hasher: PasswordHasher,
        throttle: LoginThrottle,
        devices: DeviceTokens,
    ) -> None:
        self._directory = directory
        self._users = users
        self._hasher = hasher
        self._throttle = throttle
        self._devices = devices

    def ensure_room(self, ip: str | None) -> None:
        """Raises LoginQueueFull at once when the login queue would refuse a check from `ip`:
        a client past its share pays for no look-up before its 503."""
        if self._hasher.would_refuse(address_bucket(ip)):
            raise LoginQueueFull

    async def find(self, username: str) -> LoginAttempt:
        """NFKC folds look-alike forms (full-width letters, ligatures) as registration did. A
        name no username can be is an unknown user, counted under its own spelling."""
        username = unicodedata.normalize("NFKC", username)
        if not could_be_username(username):
            digest = hashlib.sha256(username.encode("utf-8", "surrogatepass")).hexdigest()
            return LoginAttempt(username, account_of_name(digest[:32]), Lookup(None, None, "db"))
        found = await self._directory.login_record(username)
        if found.user is not None:
            account = account_of_user(found.user.id)
        else:
            account = account_of_name(found.folded_name or username.lower())
        return LoginAttempt(username, account, found)

    async def device_of(self, attempt: LoginAttempt, device_token: str | None) -> str | None:
        """The device whose window counts this attempt: `device_token`'s, when it is a live
        device token of the user the name finds (else None, looked up all the same)."""
        user = attempt.found.user
        return await self._devices.device_of(device_token, user.id if user else None)

    @asynccontextmanager
    async def checked(
        self,
        attempt: LoginAttempt,
        password: str,
        ip: str | None,
        *,
        device: str | None = None,
    ) -> AsyncIterator[User]:
        """Yields the user whose password this is, for the caller's further checks (a second
        factor) to run inside the attempt, counted in `device`'s window (from device_of) when
        one is given: leaving the block normally gives the attempt's
        places back, an exception keeps it counted. Raises PasswordRefused (counted), and
        TooManyAttempts while throttled, whatever the password."""
        user = attempt.found.user
        async with self._throttle.password_attempt(attempt.account, ip, device=device):
            verification = await self._hasher.verify(
                password, user.password_hash if user else None, queue=address_bucket(ip)
            )
            if user is None or not verification.is_valid or not user.is_active:
                raise PasswordRefused
            if verification.needs_rehash:
                user = await self._rehash(user, password)
            yield user

    async def logged_in(self, attempt: LoginAttempt, ip: str | None) -> None:
        """The login succeeded (second factor included): the account's window for that
        address starts afresh."""
        await self._throttle.logged_in(attempt.account, ip)

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
