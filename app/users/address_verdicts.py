"""What the last login check from each client address said, so that the next check can run
on the lane that address has earned (app/users/passwords.py).

An address not seen before is unproven: its first check runs alone and its other checks wait
for that verdict, so a crowd that opens with many concurrent failing logins from new addresses
gets one check each on the login threads, not a queue full each. At most `max_waiting` checks
of one address wait; past that the next is refused, as a full queue refuses it."""

import asyncio
from collections import Counter, OrderedDict
from typing import Final

from app.users.fair_queue import QueueFull

# Addresses remembered, the least recently checked forgotten first.
MAX_ADDRESSES: Final = 10_000


class AddressVerdicts:
    def __init__(self, *, max_waiting: int) -> None:
        self._max_waiting = max_waiting
        self._failed: OrderedDict[str, bool] = OrderedDict()
        self._first_check: dict[str, asyncio.Event] = {}
        self._waiting: Counter[str] = Counter()

    def known_failed(self, address: str) -> bool | None:
        """What `address`'s last check said, without waiting; None while unproven."""
        return None if address in self._first_check else self._failed.get(address, False)

    def waiting_is_full(self, address: str) -> bool:
        """Whether the next check of `address` would be refused for want of a place to wait."""
        return address in self._first_check and self._waiting[address] >= self._max_waiting

    async def last_failed(self, address: str) -> bool:
        """Whether `address`'s last check failed; while its first check runs, waits for its
        verdict. Raises QueueFull when `max_waiting` checks of it wait already. Every call
        must be followed by `settle`."""
        while (first := self._first_check.get(address)) is not None:
            if self.waiting_is_full(address):
                raise QueueFull
            self._waiting[address] += 1
            try:
                await first.wait()
            finally:
                self._waiting[address] -= 1
                if not self._waiting[address]:
                    del self._waiting[address]
        failed = self._failed.get(address)
        if failed is None:
            self._first_check[address] = asyncio.Event()
            return False
        return failed

    def settle(self, address: str, *, failed: bool | None) -> None:
        """The check's verdict (None: it ended without one, as when refused or cancelled)."""
        if failed is not None:
            self._failed.pop(address, None)
            self._failed[address] = failed
            if len(self._failed) > MAX_ADDRESSES:
                self._failed.popitem(last=False)
        first = self._first_check.pop(address, None)
        if first is not None:
            first.set()
