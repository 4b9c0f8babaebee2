"""Token introspection (RFC 7662): what a resource server asks when revocation must count."""

from typing import Any

from app.auth.directory import AuthDirectory
from app.auth.scopes import format_scopes
from app.auth.sessions import SessionService
from app.auth.tokens import TokenCodec
from app.clock import Clock
from app.errors import InvalidToken

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
        record, session = found.record, found.session
        if (
            record is None
            or session is None
            or not record.is_active
            or session.user_id != record.user_id
            or not session.is_live(self._clock())
        ):
            return INACTIVE
        return {
            "active": True,
            "token_type": "access_token",
            "sub": str(record.user_id),
            "username": record.username,
            "scope": format_scopes(claims.scopes & record.scopes),
            "exp": claims.expires_at,
            "iat": claims.issued_at,
            "sid": str(claims.session_id),
        }

    async def _refresh_token(self, token: str) -> dict[str, Any]:
        session = await self._sessions.live_session_of_refresh_token(token)
        if session is None:
            return INACTIVE
        record = (await self._directory.user_record(session.user_id)).record
        if record is None or not record.is_active:
            return INACTIVE
        return {
            "active": True,
            "token_type": "refresh_token",
            "sub": str(record.user_id),
            "username": record.username,
            "scope": format_scopes(frozenset(session.scope.split()) & record.scopes),
            "exp": int(session.expires_at.timestamp()),
            "iat": int(session.created_at.timestamp()),
            "sid": str(session.id),
        }
