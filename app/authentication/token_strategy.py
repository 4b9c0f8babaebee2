"""Bearer access tokens -> Principal: the signature and claims by the codec, then the user
and the session from the auth directory (Redis first, then PostgreSQL)."""

import time

from app.authcache.directory import AuthDirectory
from app.authentication.principal import Principal
from app.core.clock import Clock
from app.core.errors import InvalidToken
from app.tokens.codec import TokenCodec


class TokenStrategy:
    def __init__(self, *, codec: TokenCodec, directory: AuthDirectory, clock: Clock) -> None:
        self._codec = codec
        self._directory = directory
        self._clock = clock

    async def authenticate(self, token: str) -> Principal:
        started = time.perf_counter()
        claims = self._codec.verify_access_token(token)
        found = await self._directory.user_and_session(claims.user_id, claims.session_id)
        user = found.live_user(self._clock())
        if user is None:
            raise InvalidToken
        # A scope the user lost since the token was issued (admin removed) stops working now.
        scopes = claims.scopes & user.scopes
        elapsed_ms = (time.perf_counter() - started) * 1000
        return Principal(user, scopes, claims.session_id, found.source, elapsed_ms)
