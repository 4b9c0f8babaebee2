"""The OAuth2 grants of /token: password (with an optional one-step `otp`), refresh_token,
and the mfa-otp exchange of an mfa_token for tokens."""

import unicodedata
from dataclasses import dataclass
from typing import Final

from app.auth.cache import AuthRecord
from app.auth.directory import AuthDirectory, Source
from app.auth.passwords import PasswordHasher
from app.auth.scopes import Scope, format_scopes
from app.auth.second_factor import SecondFactor
from app.auth.session_repository import SessionRow
from app.auth.sessions import SessionService, StartedSession
from app.auth.throttle import LoginThrottle
from app.auth.tokens import TokenCodec
from app.errors import InvalidGrant, InvalidScope, MfaRequired
from app.ops.metrics import Metrics
from app.users.repository import UserRepository

KNOWN_SCOPES: Final = frozenset(Scope)
MAX_USERNAME_CHARS: Final = 50


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
    """A token never carries a scope its user does not hold (../shared/API.md §4)."""
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
        users: UserRepository,
        hasher: PasswordHasher,
        sessions: SessionService,
        codec: TokenCodec,
        throttle: LoginThrottle,
        second_factor: SecondFactor,
        metrics: Metrics,
    ) -> None:
        self._directory = directory
        self._users = users
        self._hasher = hasher
        self._sessions = sessions
        self._codec = codec
        self._throttle = throttle
        self._second_factor = second_factor
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
        username = unicodedata.normalize("NFKC", username)
        await self._throttle.check(username, client.ip)
        found = await self._directory.login_record(username[:MAX_USERNAME_CHARS])
        record = found.record if len(username) <= MAX_USERNAME_CHARS else None
        verification = await self._hasher.verify(password, record.password_hash if record else None)
        if record is None or not verification.is_valid or not record.is_active:
            raise await self._failure("password", username, client)
        granted = grant_scopes(scope, record.scopes)
        if record.totp_enabled:
            if otp is None:
                mfa_token = await self._second_factor.start_challenge(
                    record.user_id, format_scopes(granted)
                )
                self._metrics.logins.labels("password", "mfa_required").inc()
                raise MfaRequired(mfa_token)
            if not await self._second_factor.verify(record, otp):
                raise await self._failure("password", username, client)
        if verification.needs_rehash:
            await self._rehash(record, password)
        return await self._start(record, granted, client, "password", found.source)

    async def mfa_grant(self, *, mfa_token: str, otp: str, client: Client) -> IssuedTokens:
        challenge = await self._second_factor.challenge(mfa_token)
        if challenge is None:
            self._metrics.logins.labels("mfa_otp", "invalid_grant").inc()
            raise InvalidGrant
        found = await self._directory.user_record(challenge.user_id)
        record = found.record
        if record is None or not record.is_active:
            raise InvalidGrant
        await self._throttle.check(record.username, client.ip)
        if not await self._second_factor.verify(record, otp):
            await self._second_factor.fail_challenge(mfa_token)
            raise await self._failure("mfa_otp", record.username, client)
        if not await self._second_factor.consume_challenge(mfa_token):
            raise InvalidGrant
        granted = frozenset(challenge.scope.split()) & record.scopes
        return await self._start(record, granted, client, "mfa_otp", found.source)

    async def refresh_grant(
        self, *, refresh_token: str, scope: frozenset[str] | None
    ) -> IssuedTokens:
        check_scope_names(scope)

        def within_session_scope(session: SessionRow) -> None:
            grant_scopes(scope, frozenset(session.scope.split()))

        started = await self._sessions.rotate(refresh_token, within_session_scope)
        found = await self._directory.user_record(started.session.user_id)
        if found.record is None or not found.record.is_active:
            self._metrics.logins.labels("refresh_token", "invalid_grant").inc()
            raise InvalidGrant
        session_scopes = frozenset(started.session.scope.split()) & found.record.scopes
        granted = grant_scopes(scope, session_scopes)
        self._metrics.logins.labels("refresh_token", "ok").inc()
        return self._issue(found.record.user_id, granted, started, found.source)

    async def _failure(self, grant: str, username: str, client: Client) -> InvalidGrant:
        """Counts a failed attempt toward throttling; every failure gets the one same answer."""
        self._metrics.logins.labels(grant, "invalid_grant").inc()
        await self._throttle.record_failure(username, client.ip)
        return InvalidGrant()

    async def _start(
        self,
        record: AuthRecord,
        granted: frozenset[str],
        client: Client,
        grant: str,
        source: Source,
    ) -> IssuedTokens:
        await self._throttle.reset(record.username, client.ip)
        started = await self._sessions.start(
            user_id=record.user_id,
            scope=format_scopes(granted),
            user_agent=client.user_agent,
            ip=client.ip,
        )
        self._metrics.logins.labels(grant, "ok").inc()
        return self._issue(record.user_id, granted, started, source)

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

    async def _rehash(self, record: AuthRecord, password: str) -> None:
        """A hash below the current cost is replaced at the current cost (../shared/API.md §3)."""
        new_hash = await self._hasher.hash(password)
        user = await self._users.replace_password_hash(
            record.user_id, old_hash=record.password_hash, new_hash=new_hash
        )
        if user is not None:
            await self._directory.publish_user(user)
