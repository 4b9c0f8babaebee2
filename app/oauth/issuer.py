"""What the grants share: the services they use, and how a granted login becomes a session
and tokens."""

from dataclasses import dataclass

from app.authcache.directory import AuthDirectory, Source
from app.core.errors import InvalidGrant, InvalidScope
from app.login.device_tokens import DeviceTokens
from app.login.password_check import PasswordCheck
from app.login.request_origin import RequestOrigin
from app.login.throttle import LoginThrottle
from app.mfa.challenges import Challenges
from app.mfa.verification import CodeVerifier
from app.ops.metrics import Metrics
from app.sessions.service import SessionService, StartedSession
from app.tokens.codec import TokenCodec
from app.users.model import User
from app.users.scopes import format_scopes


@dataclass(frozen=True, slots=True)
class IssuedTokens:
    access_token: str
    refresh_token: str
    expires_in: int
    scope: str
    source: Source
    device_token: str | None = None

    def body(self) -> dict[str, str | int]:
        body: dict[str, str | int] = {
            "access_token": self.access_token,
            "token_type": "bearer",
            "expires_in": self.expires_in,
            "refresh_token": self.refresh_token,
            "scope": self.scope,
        }
        if self.device_token is not None:
            body["device_token"] = self.device_token
        return body


def grant_scopes(requested: frozenset[str] | None, allowed: frozenset[str]) -> frozenset[str]:
    """A token never carries a scope its user does not hold (docs/contract.md, Scopes)."""
    if requested is None:
        return allowed
    if not requested <= allowed:
        raise InvalidScope("scope not granted: " + " ".join(sorted(requested - allowed)))
    return requested


@dataclass(frozen=True, slots=True)
class GrantServices:
    directory: AuthDirectory
    passwords: PasswordCheck
    throttle: LoginThrottle
    devices: DeviceTokens
    codes: CodeVerifier
    challenges: Challenges
    sessions: SessionService
    codec: TokenCodec
    metrics: Metrics

    def failed(self, grant: str) -> InvalidGrant:
        """Every failure gets the one same answer."""
        self.metrics.logins.labels(grant, "invalid_grant").inc()
        return InvalidGrant()

    async def start(
        self,
        user: User,
        granted: frozenset[str],
        origin: RequestOrigin,
        grant: str,
        source: Source,
        *,
        device_token: str | None = None,
    ) -> IssuedTokens:
        """A new session for a login, and its tokens."""
        started = await self.sessions.start(
            user_id=user.id,
            scope=format_scopes(granted),
            user_agent=origin.user_agent,
            ip=origin.ip,
        )
        self.metrics.logins.labels(grant, "ok").inc()
        return self.issue(user.id, granted, started, source, device_token=device_token)

    def issue(
        self,
        user_id: int,
        scopes: frozenset[str],
        started: StartedSession,
        source: Source,
        *,
        device_token: str | None = None,
    ) -> IssuedTokens:
        scope = format_scopes(scopes)
        access_token = self.codec.issue_access_token(
            user_id=user_id, scopes=scope, session_id=started.session.id
        )
        return IssuedTokens(
            access_token,
            started.refresh_token,
            self.codec.ttl_seconds,
            scope,
            source,
            device_token,
        )
