"""Token introspection (RFC 7662): what a resource server asks when revocation must count."""

from typing import Any

from app.authcache.directory import AuthDirectory
from app.core.clock import Clock
from app.core.errors import InvalidToken
from app.sessions.service import SessionService
from app.tokens.codec import TokenCodec
from app.users.model import User
from app.users.scopes import format_scopes

INACTIVE: dict[str, Any] = {"active": False}


class Introspector:
    def __init__(
        self,
        *,
        codec: TokenCodec,
        directory: AuthDirectory,
        sessions: SessionService,
        clock: Clock,
    ) -> None:
        self._codec = codec
        self._directory = directory
        self._sessions = sessions
        self._clock = clock

    async def introspect(self, token: str) -> dict[str, Any]:
        try:
            claims = self._codec.verify_access_token(token)
        except InvalidToken:
            return await self._refresh_token(token)
        # Answered from the auth cache when warm, like any bearer request.
        found = await self._directory.user_and_session(claims.user_id, claims.session_id)
        user = found.live_user(self._clock())
        if user is None:
            return INACTIVE
        return _active(
            "access_token",
            user,
            claims.scopes,
            claims.expires_at,
            claims.issued_at,
            str(claims.session_id),
        )

    async def _refresh_token(self, token: str) -> dict[str, Any]:
        session = await self._sessions.live_session_of_refresh_token(token)
        if session is None:
            return INACTIVE
        user = (await self._directory.user_record(session.user_id)).user
        if user is None or not user.is_active:
            return INACTIVE
        return _active(
            "refresh_token",
            user,
            frozenset(session.scope.split()),
            int(session.expires_at.timestamp()),
            int(session.created_at.timestamp()),
            str(session.id),
        )


def _active(
    token_type: str,
    user: User,
    scopes: frozenset[str],
    expires_at: int,
    issued_at: int,
    session_id: str,
) -> dict[str, Any]:
    return {
        "active": True,
        "token_type": token_type,
        "sub": str(user.id),
        "username": user.username,
        # Never more than the user holds now (an admin flag removed since issuance).
        "scope": format_scopes(scopes & user.scopes),
        "exp": expires_at,
        "iat": issued_at,
        "sid": session_id,
    }
