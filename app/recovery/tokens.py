"""Recovery tokens: 256 random bits, shown once (in a link), stored only as SHA-256. With that
much entropy an unkeyed digest cannot be inverted or guessed, and a stolen copy of the table
opens nothing."""

import hashlib
import secrets
from typing import Final

TOKEN_BYTES: Final = 32
# A longer string is no token keygate made: refused before it is hashed or looked up.
MAX_TOKEN_CHARS: Final = 128


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()
