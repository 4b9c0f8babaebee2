"""THE password check, shared by the password grant and HTTP Basic: normalise the name, look
the user up (cache first), count the attempt in the account's throttling windows before the
check, run bcrypt off the event loop, and re-hash a hash cheaper than BCRYPT_ROUNDS."""

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from typing import Final

from app.authcache.directory import AuthDirectory, Lookup
from app.core.errors import Unavailable
from app.login.throttle import LoginThrottle, account_of_name, account_of_user
from app.login.windows import Ticket
from app.users.model import User
from app.users.passwords import PasswordHasher
from app.users.repository import UserRepository

# No username is longer (registration refuses it).
MAX_USERNAME_CHARS: Final = 50
# Registration allows only [A-Za-z0-9._-]; letters outside ASCII stay possible in a login
# name because PostgreSQL's case folding may map them onto ASCII ones (as `İ` onto `i`).
_NOT_IN_ANY_USERNAME = re.compile(r"[\x00-\x2c\x2f\x3a-\x40\x5b-\x5e\x60\x7b-\x9f\s]")


@dataclass(frozen=True, slots=True)
class LoginAttempt:
    username: str  # as normalised
    account: str  # the throttling identity: one per account, whatever the spelling
    found: Lookup


@dataclass(frozen=True, slots=True)
class CheckedPassword:
    user: User
    ticket: Ticket  # the attempt's places in the throttle: given back when the login succeeds


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
    ) -> None:
        self._directory = directory
        self._users = users
        self._hasher = hasher
        self._throttle = throttle

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

    async def verify(
        self, attempt: LoginAttempt, password: str, ip: str | None
    ) -> CheckedPassword | None:
        """The user, or None for an unknown name, a wrong password or an inactive user: one
        failed attempt, counted. Raises TooManyAttempts while throttled, whatever the
        password: the attempt is counted before bcrypt runs."""
        ticket = await self._throttle.password_attempt(attempt.account, ip)
        user = attempt.found.user
        try:
            verification = await self._hasher.verify(password, user.password_hash if user else None)
        except Unavailable:  # turned away before bcrypt ran (the login queue is full)
            await self._throttle.give_back(ticket)
            raise
        if user is None or not verification.is_valid or not user.is_active:
            return None
        if verification.needs_rehash:
            user = await self._rehash(user, password)
        return CheckedPassword(user, ticket)

    async def logged_in(
        self, attempt: LoginAttempt, checked: CheckedPassword, ip: str | None
    ) -> None:
        """The login succeeded (second factor included): its attempt is given back and the
        account's window for that address is cleared."""
        await self._throttle.logged_in(checked.ticket, attempt.account, ip)

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
