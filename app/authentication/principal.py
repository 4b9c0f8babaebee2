"""What authentication says about a request's caller."""

import uuid
from typing import NamedTuple

from app.authcache.directory import Source
from app.users.model import User


# A NamedTuple rather than a frozen dataclass, as the other values made on every authenticated
# request: as immutable, and a frozen dataclass's __init__ sets each field through
# object.__setattr__, at several times the cost.
class Principal(NamedTuple):
    user: User
    scopes: frozenset[str]
    session_id: uuid.UUID | None  # None for HTTP Basic, which has no session
    source: Source  # where the credentials were checked from: the cache or PostgreSQL
    duration_ms: float  # how long checking them took

    @property
    def user_id(self) -> int:
        return self.user.id
