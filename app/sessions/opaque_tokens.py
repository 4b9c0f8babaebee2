"""Opaque tokens (refresh tokens, mfa_tokens): 256 random bits, stored only by SHA-256.

256-bit random tokens need no salt or slow hash: SHA-256 of one cannot be inverted or
guessed, and a database leak then yields nothing usable."""

import hashlib
import secrets
from typing import Final

MAX_TOKEN_CHARS: Final = 128  # ours are 43; longer input is not ours


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def is_plausible(token: str) -> bool:
    return 0 < len(token) <= MAX_TOKEN_CHARS
