"""Who may try a password or a second-factor code now (docs/contract.md, POST /token, 429).

Password attempts count in three windows of LOGIN_LOCKOUT_SECONDS:
- one account from one address: LOGIN_MAX_FAILURES, the lockout users see;
- one account from every address: USERNAME_FACTOR times that, against distributed guessing
  (high enough that an attacker cannot cheaply lock a user out everywhere);
- one address across accounts: ADDRESS_FACTOR times that, against credential stuffing
  (ten failures over different usernames never trip it).
An attempt that brings a device token of the account counts in that device's own window
instead (LOGIN_MAX_FAILURES), so failures from elsewhere never lock out a device that logged in
before; once that window is full the token is ignored. Second-factor codes of one user count
in one more window, OTP_MAX_FAILURES, over every address and mfa_token. An account is one
window whatever its spelling: its user id when the name finds it, else the name as PostgreSQL
folds it (so a 429 tells nothing about which names exist).

Every attempt is one `async with throttle.password_attempt(...)`: places are taken (waiting
for attempts still being checked) before the check runs inside the block; leaving the block
normally is a success and gives them back, an exception is a failure and keeps them counted,
except Unavailable and TooManyAttempts (the check never ran)."""

from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Final

from app.core.client_address import address_bucket
from app.core.errors import TooManyAttempts, Unavailable
from app.login.keys import (
    code_failures_key,
    failures_from_address_key,
    failures_of_account_from_address_key,
    failures_of_account_key,
    failures_of_device_key,
)
from app.login.window import Window
from app.login.windows import SlidingWindows

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

    def password_attempt(
        self, account: str, ip: str | None, *, device: str | None = None
    ) -> AbstractAsyncContextManager[None]:
        """A password check about to run, counted in the account's and the address's windows,
        or in the window of `device` (a device token's digest, known to belong to the account)
        while that one has room. Raises TooManyAttempts while a window holds
        LOGIN_MAX_FAILURES failures, whatever the password."""
        return self._attempt(self._password_windows(account, ip), device=device)

    def code_attempt(self, user_id: int) -> AbstractAsyncContextManager[None]:
        """A second-factor check about to run; TooManyAttempts past OTP_MAX_FAILURES."""
        window = Window(code_failures_key(user_id), self._code_max_failures, self._window_seconds)
        return self._attempt([window])

    @asynccontextmanager
    async def _attempt(
        self, windows: Sequence[Window], *, device: str | None = None
    ) -> AsyncIterator[None]:
        places = None
        if device is not None:
            device_window = Window(
                failures_of_device_key(device), self._max_failures, self._window_seconds
            )
            try:
                places = await self._windows.hold([device_window])
            except TooManyAttempts:  # a device past its limit is a device like any other
                places = None
        if places is None:
            places = await self._windows.hold(windows)
        try:
            yield
        except (Unavailable, TooManyAttempts):
            # Turned away before the check ran (a full login queue, or a nested attempt that
            # was throttled): not an attempt.
            await self._windows.give_back(places)
            raise
        except BaseException:
            await self._windows.settle_as_failed(places)
            raise
        await self._windows.give_back(places)

    async def logged_in(self, account: str, ip: str | None) -> None:
        """A whole login succeeded: that account's window for that address starts afresh."""
        await self._windows.forget(self._password_windows(account, ip)[0].key)

    async def unlock(self, user_id: int) -> None:
        """An operator's unlock: forgets the account's failures from every address, and its
        second-factor failures. Raises CacheUnavailable when Redis cannot be reached."""
        account = account_of_user(user_id)
        await self._windows.clear(
            [failures_of_account_key(account), code_failures_key(user_id)],
            prefixes=[failures_of_account_from_address_key(account, "")],
        )
