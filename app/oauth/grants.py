"""The OAuth2 grants of /token: password (with an optional one-step `otp`), refresh_token,
and the mfa-otp exchange of an mfa_token for tokens."""

from dataclasses import dataclass
from typing import Final

from app.authcache.directory import AuthDirectory, Source
from app.core.errors import InvalidGrant, InvalidScope, MfaRequired, TooManyAttempts
from app.login.password_check import PasswordCheck
from app.login.throttle import LoginThrottle, account_of_user
from app.mfa.challenges import Challenges
from app.mfa.verification import CodeVerifier
from app.ops.metrics import Metrics
from app.sessions.repository import SessionRow
from app.sessions.service import SessionService, StartedSession
from app.tokens.codec import TokenCodec
from app.users.model import User
from app.users.scopes import Scope, format_scopes

KNOWN_SCOPES: Final = frozenset(Scope)


@dataclass(frozen=True, slots=True)
class Client:
    """Who asked: throttling counts by address, and sessions show it to their user."""

    ip: str | None
    user_agent: str | None


@dataclass(frozen=True, slots=True)
class IssuedTokens:
    access_token: str
    refresh_token: str
    expires_in: int
    scope: str
    source: Source

    def body(self) -> dict[str, str | int]:
        return {
            "access_token": self.access_token,
            "token_type": "bearer",
            "expires_in": self.expires_in,
            "refresh_token": self.refresh_token,
            "scope": self.scope,
        }


def check_scope_names(requested: frozenset[str] | None) -> None:
    if requested is not None and not requested <= KNOWN_SCOPES:
        raise InvalidScope("unknown scope: " + " ".join(sorted(requested - KNOWN_SCOPES)))


def grant_scopes(requested: frozenset[str] | None, allowed: frozenset[str]) -> frozenset[str]:
    """A token never carries a scope its user does not hold (docs/contract.md, Scopes)."""
    if requested is None:
        return allowed
    if not requested <= allowed:
        raise InvalidScope("scope not granted: " + " ".join(sorted(requested - allowed)))
    return requested


class GrantService:
    def __init__(
        self,
        *,
        directory: AuthDirectory,
        passwords: PasswordCheck,
        throttle: LoginThrottle,
        codes: CodeVerifier,
        challenges: Challenges,
        sessions: SessionService,
        codec: TokenCodec,
        metrics: Metrics,
    ) -> None:
        self._directory = directory
        self._passwords = passwords
        self._throttle = throttle
        self._codes = codes
        self._challenges = challenges
        self._sessions = sessions
        self._codec = codec
        self._metrics = metrics

    async def password_grant(
        self,
        *,
        username: str,
        password: str,
        scope: frozenset[str] | None,
        otp: str | None,
        client: Client,
    ) -> IssuedTokens:
        check_scope_names(scope)
        attempt = await self._passwords.find(username)
        checked = await self._passwords.verify(attempt, password, client.ip)
        if checked is None:
            raise self._failed("password")
        user = checked.user
        granted = grant_scopes(scope, user.scopes)
        if user.totp_enabled:
            if otp is None:
                # The password was right (the 403 says so): its place is given back, and the
                # mfa-otp exchange counts its own attempts.
                await self._throttle.give_back(checked.ticket)
                mfa_token = await self._challenges.start(user.id, format_scopes(granted))
                self._metrics.logins.labels("password", "mfa_required").inc()
                raise MfaRequired(mfa_token)
            code_ticket = await self._throttle.code_attempt(user.id)
            if not await self._codes.verify(user, otp):
                raise self._failed("password")  # both attempts stay counted
            await self._throttle.give_back(code_ticket)
        await self._passwords.logged_in(attempt, checked, client.ip)
        return await self._start(user, granted, client, "password", attempt.found.source)

    async def mfa_grant(self, *, mfa_token: str, otp: str, client: Client) -> IssuedTokens:
        challenge = await self._challenges.live(mfa_token)
        if challenge is None:
            raise self._failed("mfa_otp")
        found = await self._directory.user_record(challenge.user_id)
        user = found.user
        if user is None or not user.is_active:
            raise self._failed("mfa_otp")
        account = account_of_user(user.id)
        code_ticket = await self._throttle.code_attempt(user.id)
        try:
            ticket = await self._throttle.password_attempt(account, client.ip)
        except TooManyAttempts:
            await self._throttle.give_back(code_ticket)  # not checked: not counted
            raise
        if not await self._codes.verify(user, otp):
            await self._challenges.fail(mfa_token)
            raise self._failed("mfa_otp")  # both attempts stay counted
        if not await self._challenges.consume(mfa_token):
            raise InvalidGrant
        await self._throttle.give_back(code_ticket)
        await self._throttle.logged_in(ticket, account, client.ip)
        granted = frozenset(challenge.scope.split()) & user.scopes
        return await self._start(user, granted, client, "mfa_otp", found.source)

    async def refresh_grant(
        self, *, refresh_token: str, scope: frozenset[str] | None
    ) -> IssuedTokens:
        check_scope_names(scope)

        def within_session_scope(session: SessionRow) -> None:
            grant_scopes(scope, frozenset(session.scope.split()))

        started = await self._sessions.rotate(refresh_token, within_session_scope)
        found = await self._directory.user_record(started.session.user_id)
        if found.user is None or not found.user.is_active:
            raise self._failed("refresh_token")
        session_scopes = frozenset(started.session.scope.split()) & found.user.scopes
        granted = grant_scopes(scope, session_scopes)
        self._metrics.logins.labels("refresh_token", "ok").inc()
        return self._issue(found.user.id, granted, started, found.source)

    def _failed(self, grant: str) -> InvalidGrant:
        """Every failure gets the one same answer."""
        self._metrics.logins.labels(grant, "invalid_grant").inc()
        return InvalidGrant()

    async def _start(
        self, user: User, granted: frozenset[str], client: Client, grant: str, source: Source
    ) -> IssuedTokens:
        started = await self._sessions.start(
            user_id=user.id,
            scope=format_scopes(granted),
            user_agent=client.user_agent,
            ip=client.ip,
        )
        self._metrics.logins.labels(grant, "ok").inc()
        return self._issue(user.id, granted, started, source)

    def _issue(
        self, user_id: int, scopes: frozenset[str], started: StartedSession, source: Source
    ) -> IssuedTokens:
        scope = format_scopes(scopes)
        access_token = self._codec.issue_access_token(
            user_id=user_id, scopes=scope, session_id=started.session.id
        )
        return IssuedTokens(
            access_token, started.refresh_token, self._codec.ttl_seconds, scope, source
        )
