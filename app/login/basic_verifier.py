"""Remembers, in this process only, which (password, hash) pairs bcrypt has already accepted,
so a repeated HTTP Basic request does not pay bcrypt again.

Entries are HMACs under a random key that never leaves the process, bound to the current hash:
a password change (a new hash) makes every old entry useless, and nothing here can be turned
back into a password without the key. Redis never sees any of it."""

import hashlib
import hmac
import secrets
from collections import OrderedDict
from typing import Final

MAX_ENTRIES: Final = 10_000


class BasicVerifierCache:
    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self._key = secrets.token_bytes(32)
        self._entries: OrderedDict[bytes, None] = OrderedDict()
        self._max_entries = max_entries

    def _digest(self, username: str, password: str, password_hash: str) -> bytes:
        message = b"\0".join((username.lower().encode(), password_hash.encode(), password.encode()))
        return hmac.digest(self._key, message, hashlib.sha256)

    def is_known(self, username: str, password: str, password_hash: str) -> bool:
        digest = self._digest(username, password, password_hash)
        if digest in self._entries:
            self._entries.move_to_end(digest)
            return True
        return False

    def remember(self, username: str, password: str, password_hash: str) -> None:
        self._entries[self._digest(username, password, password_hash)] = None
        if len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)
