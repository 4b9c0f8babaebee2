"""Bearer or Basic credentials -> Principal, checked from the cache first, then PostgreSQL."""

import base64
import binascii
import time
import unicodedata
import uuid
from dataclasses import dataclass

from app.auth.basic_verifier import BasicVerifierCache
from app.auth.cache import AuthRecord
from app.auth.directory import AuthDirectory, Source
from app.auth.passwords import PasswordHasher
from app.auth.throttle import LoginThrottle
from app.auth.tokens import TokenCodec
from app.clock import Clock
from app.errors import InvalidToken, MissingCredentials, TooManyAttempts, TooManyFailedLogins

MAX_BASIC_CREDENTIALS_CHARS = 512


@dataclass(frozen=True, slots=True)
class Principal:
    user: AuthRecord
    scopes: frozenset[str]
    session_id: uuid.UUID | None  # None for HTTP Basic, which has no session
    source: Source
    duration_ms: float

    @property
    def user_id(self) -> int:
        return self.user.user_id

    @property
    def server_timing(self) -> str:
        return f'auth;desc="{self.source}";dur={self.duration_ms:.2f}'


class Authenticator:
    def __init__(
        self,
        *,
        codec: TokenCodec,
        directory: AuthDirectory,
        hasher: PasswordHasher,
        basic_verifier: BasicVerifierCache,
        throttle: LoginThrottle,
        basic_enabled: bool,
        clock: Clock,
    ) -> None:
        self.codec = codec
        self._directory = directory
        self._hasher = hasher
        self._basic_verifier = basic_verifier
        self._throttle = throttle
        self.basic_enabled = basic_enabled
        self._clock = clock

    async def authenticate(self, authorization: str | None, ip: str | None) -> Principal:
        scheme, _, credentials = (authorization or "").partition(" ")
        scheme = scheme.lower()
        credentials = credentials.strip()
        if scheme == "bearer" and credentials:
            return await self.from_bearer(credentials)
        if scheme == "basic" and credentials and self.basic_enabled:
            return await self.from_basic(credentials, ip)
        if scheme in ("bearer", "basic") and credentials:
            raise InvalidToken
        raise MissingCredentials(self.basic_enabled)

    async def from_bearer(self, token: str) -> Principal:
        started = time.perf_counter()
        claims = self.codec.verify_access_token(token)
        found = await self._directory.user_and_session(claims.user_id, claims.session_id)
        record = found.live_record(self._clock())
        if record is None:
            raise InvalidToken
        # A scope the user lost since the token was issued (admin removed) stops working now.
        scopes = claims.scopes & record.scopes
        return Principal(
            record,
            scopes,
            claims.session_id,
            found.source,
            (time.perf_counter() - started) * 1000,
        )

    async def from_basic(self, credentials: str, ip: str | None) -> Principal:
        started = time.perf_counter()
        username, password = _decode_basic(credentials)
        username = unicodedata.normalize("NFKC", username)
        found = await self._directory.login_record(username)
        record = found.record
        if record is None or not self._basic_verifier.is_known(
            username, password, record.password_hash
        ):
            # Only a pair bcrypt has not accepted before can be a guess: those are throttled
            # like /token attempts, so Basic is no way around the lockout.
            try:
                await self._throttle.check(username, ip)
            except TooManyAttempts as exc:
                raise TooManyFailedLogins(exc.retry_after_seconds) from exc
            verification = await self._hasher.verify(
                password, record.password_hash if record else None
            )
            if record is None or not verification.is_valid:
                await self._throttle.record_failure(username, ip)
                raise InvalidToken
            self._basic_verifier.remember(username, password, record.password_hash)
        # Basic cannot carry a second factor, so TOTP users must use /token.
        if not record.is_active or record.totp_enabled:
            raise InvalidToken
        return Principal(
            record,
            record.scopes,
            None,
            found.source,
            (time.perf_counter() - started) * 1000,
        )


def _decode_basic(credentials: str) -> tuple[str, str]:
    if len(credentials) > MAX_BASIC_CREDENTIALS_CHARS:
        raise InvalidToken
    try:
        decoded = base64.b64decode(credentials, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise InvalidToken from exc
    username, separator, password = decoded.partition(":")
    if not separator or not username:
        raise InvalidToken
    return username, password
