"""Who may try a password or a second-factor code now (docs/contract.md, POST /token, 429).

Password attempts count in three windows of LOGIN_LOCKOUT_SECONDS:
- one account from one address: LOGIN_MAX_FAILURES, the lockout users see;
- one account from every address: USERNAME_FACTOR times that, against distributed guessing
  (high enough that an attacker cannot cheaply lock a user out everywhere);
- one address across accounts: ADDRESS_FACTOR times that, against credential stuffing
  (ten failures over different usernames never trip it).
Second-factor codes of one user count in one more window, OTP_MAX_FAILURES, over every
address and mfa_token. An account is one window whatever its spelling: its user id when the
name finds it, else the name as PostgreSQL folds it (so a 429 tells nothing about which names
exist). Every attempt is counted before it is checked (app/login/windows.py)."""

from typing import Final

from app.authcache.keys import (
    code_failures_key,
    failures_from_address_key,
    failures_of_account_from_address_key,
    failures_of_account_key,
)
from app.core.client_address import address_bucket
from app.login.windows import SlidingWindows, Ticket, Window

USERNAME_FACTOR: Final = 20
ADDRESS_FACTOR: Final = 10


def account_of_user(user_id: int) -> str:
    return f"user:{user_id}"


def account_of_name(name: str) -> str:
    return f"name:{name}"


class LoginThrottle:
    def __init__(
        self,
        *,
        windows: SlidingWindows,
        max_failures: int,
        code_max_failures: int,
        window_seconds: int,
    ) -> None:
        self._windows = windows
        self._max_failures = max_failures
        self._code_max_failures = code_max_failures
        self._window_seconds = window_seconds

    def _password_windows(self, account: str, ip: str | None) -> list[Window]:
        address = address_bucket(ip)
        seconds = self._window_seconds
        return [
            Window(
                failures_of_account_from_address_key(account, address), self._max_failures, seconds
            ),
            Window(failures_of_account_key(account), self._max_failures * USERNAME_FACTOR, seconds),
            Window(
                failures_from_address_key(address), self._max_failures * ADDRESS_FACTOR, seconds
            ),
        ]

    async def password_attempt(self, account: str, ip: str | None) -> Ticket:
        """Counts a password check about to run; TooManyAttempts while a window is full,
        whatever the password."""
        return await self._windows.take(self._password_windows(account, ip))

    async def code_attempt(self, user_id: int) -> Ticket:
        """Counts a second-factor check about to run; TooManyAttempts past OTP_MAX_FAILURES."""
        window = Window(code_failures_key(user_id), self._code_max_failures, self._window_seconds)
        return await self._windows.take([window])

    async def give_back(self, ticket: Ticket) -> None:
        """A success (or an attempt that was not checked after all) frees its places."""
        await self._windows.give_back(ticket)

    async def logged_in(self, ticket: Ticket, account: str, ip: str | None) -> None:
        """A login gives its places back and clears that account's window for that address."""
        await self._windows.give_back(ticket)
        await self._windows.forget(self._password_windows(account, ip)[0].key)

    async def unlock(self, user_id: int) -> None:
        """An operator's unlock: forgets the account's failures from every address, and its
        second-factor failures. Raises CacheUnavailable when Redis cannot be reached."""
        account = account_of_user(user_id)
        await self._windows.clear(
            [failures_of_account_key(account), code_failures_key(user_id)],
            prefixes=[failures_of_account_from_address_key(account, "")],
        )
