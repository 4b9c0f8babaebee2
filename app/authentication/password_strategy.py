"""A username and password (HTTP Basic) -> Principal, through the same password check as the
password grant: counted and throttled the same, so Basic is no way around the lockout."""

import time
from collections.abc import Callable

from app.authentication.principal import Principal
from app.authentication.transports import UsernamePassword
from app.authentication.verified_passwords import VerifiedPasswords
from app.core.errors import InvalidBasicCredentials
from app.login.password_check import LoginAttempt, PasswordCheck, PasswordRefused
from app.users.model import User

ClientIp = Callable[[], str | None]

# The hash a pair of an unknown name is remembered and locked under: no bcrypt hash is empty,
# so it can never be taken for an accepted pair of a real user.
NO_HASH = ""


class PasswordStrategy:
    def __init__(self, *, passwords: PasswordCheck, verified: VerifiedPasswords) -> None:
        self._passwords = passwords
        self.verified = verified

    async def authenticate(self, credentials: UsernamePassword, client_ip: ClientIp) -> Principal:
        """`client_ip` is asked only when bcrypt must run (attempts are counted by address)."""
        started = time.perf_counter()
        password = credentials.password
        attempt = await self._passwords.find(credentials.username)
        user = attempt.found.user
        password_hash = user.password_hash if user is not None else NO_HASH
        if user is None or not self.verified.is_known(attempt.username, password, password_hash):
            # Concurrent requests with one pair wait for each other, for a known name as for
            # an unknown one: how they queue tells nothing about which names exist.
            async with self.verified.one_check_at_a_time(
                attempt.username, password, password_hash
            ) as known:
                if not known or user is None:
                    user = await self._checked(attempt, password, client_ip())
        # Basic cannot carry a second factor, so TOTP users must use /token.
        if not user.is_active or user.totp_enabled:
            raise InvalidBasicCredentials
        elapsed_ms = (time.perf_counter() - started) * 1000
        return Principal(user, user.scopes, None, attempt.found.source, elapsed_ms)

    async def _checked(self, attempt: LoginAttempt, password: str, ip: str | None) -> User:
        """Only a pair bcrypt has not accepted before can be a guess: those are checked and
        throttled like /token attempts. A TOTP user's right password stays a counted attempt
        here (no oracle for it)."""
        try:
            async with self._passwords.checked(attempt, password, ip) as user:
                if user.totp_enabled:
                    raise InvalidBasicCredentials
        except PasswordRefused as exc:
            raise InvalidBasicCredentials from exc
        await self._passwords.logged_in(attempt, ip)
        self.verified.remember(attempt.username, password, user.password_hash)
        return user
