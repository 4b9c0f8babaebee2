"""Sliding windows of attempts, each counted BEFORE it is checked: taking a place in every
window is one atomic step per window, so N concurrent attempts never get more checks than a
window allows.

An attempt holds its places while it is checked: a success gives them back, a failure settles
them as failures. While a window is full only because of places held by attempts still being
checked, a new attempt waits (at most ATTEMPT_WAIT_SECONDS) for them to settle instead of
being refused: only failures that have happened refuse (docs/contract.md, Hardening).

Redis keeps the windows (app/login/redis_windows.py); while it is unreachable PostgreSQL does
(app/login/failure_repository.py), where a held place counts as a failure until given back:
limits never fail open. Times come from the app's clock, so tests move time instead of
sleeping."""

import asyncio
import contextlib
import secrets
import time
from collections.abc import Sequence
from typing import Final

from app.core.clock import Clock
from app.core.errors import DatabaseUnavailable, TooManyAttempts, Unavailable
from app.core.redis import CacheUnavailable, RedisGuard
from app.login.failure_repository import FailureRepository
from app.login.redis_windows import HELD_BY_OTHERS, TAKEN, RedisWindows
from app.login.window import Places, Window

# How long an attempt waits for places held by attempts being checked: several bcrypt
# checks behind a busy login queue, and short enough that a client does not time out first.
ATTEMPT_WAIT_SECONDS: Final = 10.0
# Places held in another worker settle without telling this one: look again this often.
RECHECK_SECONDS: Final = 0.05


class AttemptsInProgress(Unavailable):
    """The window stayed full of attempts still being checked for ATTEMPT_WAIT_SECONDS."""

    message = "too many logins in progress; try again shortly"
    retry_after_seconds = 1


class SlidingWindows:
    def __init__(
        self,
        *,
        guard: RedisGuard,
        failures: FailureRepository,
        clock: Clock,
        wait_seconds: float = ATTEMPT_WAIT_SECONDS,
    ) -> None:
        self._redis = RedisWindows(guard)
        self._failures = failures
        self._clock = clock
        self._wait_seconds = wait_seconds
        self._settled = asyncio.Event()

    async def take(self, windows: Sequence[Window]) -> None:
        """Counts one event (a registration) in every window at once, or raises
        TooManyAttempts (counting nothing) while any of them is full."""
        await self._take(windows, held=False)

    async def hold(self, windows: Sequence[Window]) -> Places:
        """Places for an attempt about to be checked: waits while the windows are full of
        places held by other attempts; raises TooManyAttempts while failures fill one, and
        AttemptsInProgress when the wait runs out."""
        deadline = time.monotonic() + self._wait_seconds
        while True:
            places = await self._take(windows, held=True)
            if places is not None:
                return places
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AttemptsInProgress
            settled = self._settled
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(settled.wait(), min(remaining, RECHECK_SECONDS))

    async def give_back(self, places: Places) -> None:
        """A success (or an attempt not checked after all) frees its places. Where the store
        cannot be reached, they stay: that errs towards throttling, never away from it."""
        try:
            if places.in_database:
                with contextlib.suppress(DatabaseUnavailable):
                    await self._failures.give_back(places.windows, places.at)
            else:
                with contextlib.suppress(CacheUnavailable):
                    await self._redis.give_back(places)
        finally:
            self._wake_waiters()

    async def settle_as_failed(self, places: Places) -> None:
        """A failure keeps its places, now as failures (in PostgreSQL they already are)."""
        try:
            if not places.in_database:
                with contextlib.suppress(CacheUnavailable):
                    await self._redis.settle_as_failed(places)
        finally:
            self._wake_waiters()

    async def forget(self, key: str) -> None:
        """Empties one window where attempts are being counted now: Redis, or PostgreSQL while
        Redis is unreachable."""
        try:
            await self._redis.forget(key)
        except CacheUnavailable:
            await self._failures.forget(key)

    async def clear(self, keys: Sequence[str], prefixes: Sequence[str] = ()) -> None:
        """Forgets every attempt in these windows (and in every window whose key starts with
        one of `prefixes`), in Redis and in PostgreSQL. Raises CacheUnavailable when Redis
        cannot be reached."""
        await self._redis.clear(keys, prefixes)
        await self._failures.clear(keys, prefixes)

    async def delete_expired(self, older_than_seconds: int) -> None:
        """Rows kept while Redis was away outlive their windows; the clean-up drops them."""
        await self._failures.delete_older_than(self._clock() - older_than_seconds)

    async def _take(self, windows: Sequence[Window], *, held: bool) -> Places | None:
        now = self._clock()
        member = f"{now}:{secrets.token_hex(6)}"
        try:
            outcome = await self._redis.take(windows, now, member, held=held)
            in_database = False
        except CacheUnavailable:
            outcome = await self._failures.take(windows, now)
            in_database = True
        if outcome == HELD_BY_OTHERS:
            return None
        if outcome != TAKEN:
            raise TooManyAttempts(int(outcome) + 1)
        return Places(tuple(windows), now, member, in_database)

    def _wake_waiters(self) -> None:
        self._settled.set()
        self._settled = asyncio.Event()
