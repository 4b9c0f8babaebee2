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

from app.core.errors import AccountQueueFull, LoginQueueFull, Unavailable
from app.users.address_verdicts import AddressVerdicts
from app.users.fair_queue import FairQueue, QueueFull

T = TypeVar("T")

MIN_PASSWORD_BYTES: Final = 8
# bcrypt reads at most 72 bytes; longer passwords are refused, never silently truncated.
MAX_PASSWORD_BYTES: Final = 72
# Login checks run at a lower priority than the event loop, so a login storm never starves
# bearer requests and /health; registrations and password changes lower still, so that no
# number of them slows logins down (docs/contract.md, Hardening).
LOGIN_THREAD_NICENESS: Final = 5
ACCOUNT_THREAD_NICENESS: Final = 15
# Checks from an address whose last check failed run on a thread of their own at the lowest
# priority: a crowd of failing logins uses the cores only as far as logins leave them idle.
SUSPECT_THREAD_NICENESS: Final = 19
# Registrations and password changes allowed to wait for their one bcrypt thread.
ACCOUNT_QUEUE_SIZE: Final = 32
DUMMY_PASSWORD: Final = "keygate-dummy-password"  # noqa: S105 (public by design)


def password_length_ok(password: str) -> bool:
    return (
        MIN_PASSWORD_BYTES <= len(password.encode("utf-8", "surrogatepass")) <= MAX_PASSWORD_BYTES
    )


def password_acceptable(password: str) -> bool:
    """What bcrypt can take whole: the byte bounds, no NUL (C strings end there), and text
    that is UTF-8 at all (a lone surrogate from JSON is not)."""
    if "\0" in password or not password_length_ok(password):
        return False
    try:
        password.encode()
    except UnicodeEncodeError:
        return False
    return True


def _lower_priority(niceness: int) -> None:
    """Lowers this bcrypt thread's scheduling priority (Linux schedules threads one by one)."""
    with contextlib.suppress(OSError, AttributeError):  # not permitted, or not Linux
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), niceness)


@dataclass(frozen=True, slots=True)
class Verification:
    is_valid: bool
    needs_rehash: bool


class Lane:
    """Threads for one kind of bcrypt work, taking turns between queues (client addresses)
    in a FairQueue: a queue holding `threads + queue_size` calls has its next one refused
    with `full` at once (503 + Retry-After beats making every caller wait many seconds)."""

    def __init__(
        self, *, threads: int, queue_size: int, niceness: int, name: str, full: type[Unavailable]
    ) -> None:
        self._executor = ThreadPoolExecutor(
            threads, thread_name_prefix=name, initializer=_lower_priority, initargs=(niceness,)
        )
        # Only as many calls as threads reach the executor, so its own line (first come,
        # first served) never forms and the turns decide who runs next.
        self._turns = FairQueue(slots=threads, per_queue=queue_size)
        self._full = full

    def is_full(self, queue: str) -> bool:
        return self._turns.is_full(queue)

    async def run(
        self, fn: Callable[..., T], *args: str, queue: str = "", shed_when_busy: bool = True
    ) -> T:
        try:
            async with self._turns.turn(queue, may_refuse=shed_when_busy):
                return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)
        except QueueFull:
            raise self._full from None

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


class PasswordHasher:
    """Hashes use the `$2a$` ident so pgcrypto's crypt() can verify them in SQL. Logins have
    their own threads, taking turns between client addresses, each address holding at most
    the threads plus LOGIN_QUEUE_SIZE checks. A login from an address whose last check
    failed runs on the suspect lane instead: one thread at the lowest priority, with the same
    turns and shares, so a crowd of failing logins never holds a login thread and gets only
    the CPU that logins leave (docs/contract.md, Hardening: a user cannot be crowded out).
    The checks of an address not seen before wait for its first one's verdict.
    Registrations and password changes share one thread of their own, so they never take a
    login's place."""

    def __init__(self, rounds: int, queue_size: int, threads: int | None = None) -> None:
        # min_rounds marks cheaper hashes for upgrade; a costlier one (set by an operator) is
        # left as it is rather than weakened.
        self._context = CryptContext(
            schemes=["bcrypt"],
            bcrypt__ident="2a",
            bcrypt__default_rounds=rounds,
            bcrypt__min_rounds=rounds,
        )
        login_threads = threads or os.cpu_count() or 1
        self._login = Lane(
            threads=login_threads,
            queue_size=queue_size,
            niceness=LOGIN_THREAD_NICENESS,
            name="bcrypt-login",
            full=LoginQueueFull,
        )
        self._suspect = Lane(
            threads=1,
            queue_size=queue_size,
            niceness=SUSPECT_THREAD_NICENESS,
            name="bcrypt-suspect",
            full=LoginQueueFull,
        )
        # As many as the address could hold in a lane: its share of it.
        self._verdicts = AddressVerdicts(max_waiting=login_threads + queue_size)
        self._account = Lane(
            threads=1,
            queue_size=ACCOUNT_QUEUE_SIZE,
            niceness=ACCOUNT_THREAD_NICENESS,
            name="bcrypt-account",
            full=AccountQueueFull,
        )
        # Verified when a user is unknown, so an unknown name costs as long as a wrong password;
        # made (in a worker thread) by warm_up, at startup.
        self._dummy_hash: str | None = None

    async def warm_up(self) -> None:
        await self._dummy()

    async def _dummy(self) -> str:
        if self._dummy_hash is None:
            self._dummy_hash = await self._login.run(
                self._context.hash, DUMMY_PASSWORD, shed_when_busy=False
            )
        return self._dummy_hash

    async def hash(self, password: str) -> str:
        """For registrations and password changes, on their own lane."""
        return await self._account.run(self._context.hash, password)

    async def verify(
        self, password: str, password_hash: str | None, *, queue: str = ""
    ) -> Verification:
        """A login's check, in `queue`'s turn (the client's address) on the login lane, or on
        the suspect lane when that address's last check failed: shed with LoginQueueFull
        when that queue holds its share."""
        try:
            failed_last = await self._verdicts.last_failed(queue)
        except QueueFull:
            raise LoginQueueFull from None
        verification = None
        try:
            lane = self._suspect if failed_last else self._login
            verification = await self._verify(lane, password, password_hash, queue)
        finally:
            failed = None if verification is None else not verification.is_valid
            self._verdicts.settle(queue, failed=failed)
        return verification

    def would_refuse(self, queue: str) -> bool:
        """Whether a login check from `queue` would be refused now (LoginQueueFull)."""
        if self._verdicts.waiting_is_full(queue):
            return True
        lane = self._suspect if self._verdicts.known_failed(queue) else self._login
        return lane.is_full(queue)

    async def verify_current(self, password: str, password_hash: str) -> Verification:
        """A check of the current password before an account change, on the account lane."""
        return await self._verify(self._account, password, password_hash, "")

    async def _verify(
        self, lane: Lane, password: str, password_hash: str | None, queue: str
    ) -> Verification:
        if password_hash is None or not password_acceptable(password):
            await self._verify_dummy(lane, queue)
            return Verification(is_valid=False, needs_rehash=False)
        try:
            is_valid = await lane.run(self._context.verify, password, password_hash, queue=queue)
            cheaper = self._context.needs_update(password_hash)
        except ValueError:  # not a bcrypt hash (for example written by hand in SQL)
            is_valid, cheaper = False, True
        if not is_valid and cheaper:
            # A hash cheaper than BCRYPT_ROUNDS (or none at all) would refuse faster than
            # an unknown user: the refusal pays the full cost too.
            await self._verify_dummy(lane, queue)
        return Verification(is_valid, is_valid and cheaper)

    async def _verify_dummy(self, lane: Lane, queue: str) -> None:
        # bcrypt's cost does not depend on the input: any fixed input times the same.
        await lane.run(self._context.verify, DUMMY_PASSWORD, await self._dummy(), queue=queue)

    def close(self) -> None:
        self._login.close()
        self._suspect.close()
        self._account.close()
