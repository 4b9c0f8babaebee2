"""bcrypt hashing and verification, always in worker threads, behind a bounded login queue."""

import asyncio
import contextlib
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Final, TypeVar

from passlib.context import CryptContext

from app.core.errors import LoginQueueFull

T = TypeVar("T")

MIN_PASSWORD_BYTES: Final = 8
# bcrypt reads at most 72 bytes; longer passwords are refused, never silently truncated.
MAX_PASSWORD_BYTES: Final = 72
BCRYPT_THREAD_NICENESS: Final = 5
DUMMY_PASSWORD: Final = "keygate-dummy-password"  # noqa: S105 (public by design)


def password_length_ok(password: str) -> bool:
    return MIN_PASSWORD_BYTES <= len(password.encode()) <= MAX_PASSWORD_BYTES


def password_acceptable(password: str) -> bool:
    """What bcrypt can take whole: the byte bounds, and no NUL (C strings end there)."""
    return password_length_ok(password) and "\0" not in password


def _yield_cpu_to_the_event_loop() -> None:
    """Lowers this bcrypt thread's scheduling priority (Linux schedules threads one by one).
    In a login storm the event loops then keep the CPU they need, so bearer requests and
    /health stay fast, while logins still get every cycle nothing else wants."""
    with contextlib.suppress(OSError, AttributeError):  # not permitted, or not Linux
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), BCRYPT_THREAD_NICENESS)


@dataclass(frozen=True, slots=True)
class Verification:
    is_valid: bool
    needs_rehash: bool


class PasswordHasher:
    """Hashes use the `$2a$` ident so pgcrypto's crypt() can verify them in SQL."""

    def __init__(self, rounds: int, queue_size: int, threads: int | None = None) -> None:
        # min_rounds marks cheaper hashes for upgrade; a costlier one (set by an operator) is
        # left as it is rather than weakened.
        self._context = CryptContext(
            schemes=["bcrypt"],
            bcrypt__ident="2a",
            bcrypt__default_rounds=rounds,
            bcrypt__min_rounds=rounds,
        )
        self._threads = threads or os.cpu_count() or 1
        self._executor = ThreadPoolExecutor(
            self._threads, thread_name_prefix="bcrypt", initializer=_yield_cpu_to_the_event_loop
        )
        self._queue_size = queue_size
        self._in_flight = 0
        # Verified when a user is unknown, so an unknown name costs as long as a wrong password;
        # made (in a worker thread) by warm_up, at startup.
        self._dummy_hash: str | None = None

    async def warm_up(self) -> None:
        await self._dummy()

    async def _dummy(self) -> str:
        if self._dummy_hash is None:
            self._dummy_hash = await self._run(
                self._context.hash, DUMMY_PASSWORD, shed_when_busy=False
            )
        return self._dummy_hash

    async def hash(self, password: str) -> str:
        """Registration and password changes wait their turn: they are not what a storm is."""
        return await self._run(self._context.hash, password, shed_when_busy=False)

    async def verify(self, password: str, password_hash: str | None) -> Verification:
        if password_hash is None or not password_acceptable(password):
            # bcrypt's cost does not depend on the input: any fixed input times the same.
            await self._run(self._context.verify, DUMMY_PASSWORD, await self._dummy())
            return Verification(is_valid=False, needs_rehash=False)
        try:
            is_valid = await self._run(self._context.verify, password, password_hash)
        except ValueError:  # not a bcrypt hash (for example written by hand in SQL)
            return Verification(is_valid=False, needs_rehash=False)
        return Verification(is_valid, is_valid and self._context.needs_update(password_hash))

    async def _run(self, fn: Callable[..., T], *args: str, shed_when_busy: bool = True) -> T:
        # Each waiting login holds a request open; past the queue's size, turning the login
        # away at once (503 + Retry-After) beats making every login wait many seconds.
        if shed_when_busy and self._in_flight >= self._threads + self._queue_size:
            raise LoginQueueFull
        self._in_flight += 1
        try:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._executor, fn, *args)
        finally:
            self._in_flight -= 1

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
