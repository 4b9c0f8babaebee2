"""The refresh_token grant (RFC 6749 §6): each use rotates the token within its session."""

from typing import ClassVar

from app.oauth.grant import Grant, GrantRequest
from app.oauth.issuer import IssuedTokens, grant_scopes
from app.sessions.repository import SessionRow


class RefreshTokenGrant(Grant):
    grant_type: ClassVar[str] = "refresh_token"
    summary: ClassVar[str] = (
        "`refresh_token`, optional narrower `scope`. Each use returns a new refresh token;"
        " presenting a used one again ends the session."
    )
    fields: ClassVar[dict[str, str]] = {"refresh_token": "refresh_token grant"}

    async def issue(self, request: GrantRequest) -> IssuedTokens:
        services = self.services
        scope = request.scope

        def within_session_scope(session: SessionRow) -> None:
            grant_scopes(scope, frozenset(session.scope.split()))

        started = await services.sessions.rotate(
            request.required("refresh_token"), within_session_scope
        )
        found = await services.directory.user_record(started.session.user_id)
        if found.user is None or not found.user.is_active:
            raise services.failed("refresh_token")
        session_scopes = frozenset(started.session.scope.split()) & found.user.scopes
        granted = grant_scopes(scope, session_scopes)
        services.metrics.logins.labels("refresh_token", "ok").inc()
        return services.issue(found.user.id, granted, started, found.source)
