"""The user: one model for every layer. The auth cache serialises it, the API renders it
(without its hash and TOTP secret)."""

from dataclasses import dataclass
from datetime import datetime

from app.users.scopes import scopes_for


@dataclass(frozen=True, slots=True)
class User:
    id: int
    username: str
    email: str | None
    # True once a link sent to this address was opened (docs/contract.md, Account recovery).
    email_verified: bool
    full_name: str | None
    password_hash: str
    is_active: bool
    is_admin: bool
    totp_enabled: bool
    # Encrypted with a key that never leaves the service's settings (not even to Redis).
    totp_secret_encrypted: str | None
    created_at: datetime

    @property
    def scopes(self) -> frozenset[str]:
        return scopes_for(is_active=self.is_active, is_admin=self.is_admin)
