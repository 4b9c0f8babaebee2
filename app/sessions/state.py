"""What requests need to know of a session, kept by the sessions layer and copied by the auth
cache (app/authcache) for the requests that read it from Redis."""

import uuid
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SessionState:
    session_id: uuid.UUID
    user_id: int
    expires_at: float
    is_revoked: bool

    def is_live(self, now: float) -> bool:
        return not self.is_revoked and now < self.expires_at
