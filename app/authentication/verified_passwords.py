"""Remembers, in this process only, which (password, hash) pairs bcrypt has already accepted,
so a repeated HTTP Basic request does not pay bcrypt again; and lets one check of a pair run
at a time, so that concurrent requests with the same credentials on a fresh worker cost one
bcrypt, not one each (which overflowed the login queue into 503s). Unknown names take the
same lock as known ones, so concurrent identical attempts cost the same for both.

Entries are MACs (keyed BLAKE2b) under a random key that never leaves the process, bound to
the current hash: a password change (a new hash) makes every old entry useless, and nothing
here can be turned back into a password without the key. Redis never sees any of it."""

import asyncio
import hashlib
import secrets
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Final

MAX_ENTRIES: Final = 10_000
DIGEST_BYTES: Final = 32


@dataclass
class _Check:
    """The check of one pair that is running, and how many requests hold or await it."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    holders: int = 0


class VerifiedPasswords:
    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self._key = secrets.token_bytes(32)
        self._entries: OrderedDict[bytes, None] = OrderedDict()
        self._max_entries = max_entries
        self._checks: dict[bytes, _Check] = {}

    def _digest(self, username: str, password: str, password_hash: str) -> bytes:
        message = b"\0".join((username.lower().encode(), password_hash.encode(), password.encode()))
        # Keyed BLAKE2b is a MAC as HMAC is (RFC 7693), and cheaper: this runs on every Basic
        # request.
        return hashlib.blake2b(message, key=self._key, digest_size=DIGEST_BYTES).digest()

    def is_known(self, username: str, password: str, password_hash: str) -> bool:
        return self._is_known_digest(self._digest(username, password, password_hash))

    def remember(self, username: str, password: str, password_hash: str) -> None:
        self._entries[self._digest(username, password, password_hash)] = None
        if len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    @asynccontextmanager
    async def one_check_at_a_time(
        self, username: str, password: str, password_hash: str
    ) -> AsyncIterator[bool]:
        """Yields whether the pair is known, once no other request of this process is checking
        the same pair. The first request checks it (and remembers it when bcrypt accepts it);
        the others wait, then find it known and pay nothing. A pair bcrypt refused stays
        unknown: each waiting request then makes its own attempt, counted and throttled like
        any other, one at a time."""
        digest = self._digest(username, password, password_hash)
        check = self._checks.setdefault(digest, _Check())
        check.holders += 1
        try:
            async with check.lock:
                yield self._is_known_digest(digest)
        finally:
            check.holders -= 1
            if not check.holders:
                del self._checks[digest]

    def _is_known_digest(self, digest: bytes) -> bool:
        if digest in self._entries:
            self._entries.move_to_end(digest)
            return True
        return False

    @property
    def checks_running(self) -> int:
        return len(self._checks)
