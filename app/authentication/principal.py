"""What authentication says about a request's caller."""

import uuid
from dataclasses import dataclass

from app.authcache.directory import Source
from app.users.model import User


@dataclass(frozen=True, slots=True)
class Principal:
    user: User
    scopes: frozenset[str]
    session_id: uuid.UUID | None  # None for HTTP Basic, which has no session
    source: Source  # where the credentials were checked from: the cache or PostgreSQL
    duration_ms: float  # how long checking them took

    @property
    def user_id(self) -> int:
        return self.user.id
