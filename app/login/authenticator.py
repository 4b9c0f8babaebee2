"""Bearer or Basic credentials -> Principal, checked from the cache first, then PostgreSQL."""

import base64
import binascii
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from app.authcache.directory import AuthDirectory, Source
from app.core.clock import Clock
from app.core.errors import InvalidToken, MissingCredentials
from app.login.basic_verifier import BasicVerifierCache
from app.login.password_check import LoginAttempt, PasswordCheck, PasswordRefused
from app.tokens.codec import TokenCodec
from app.users.model import User

MAX_BASIC_CREDENTIALS_CHARS: Final = 512

ClientIp = Callable[[], str | None]


@dataclass(frozen=True, slots=True)
class Principal:
    user: User
    scopes: frozenset[str]
    session_id: uuid.UUID | None  # None for HTTP Basic, which has no session
    source: Source
    duration_ms: float

    @property
    def user_id(self) -> int:
        return self.user.id

    @property
    def server_timing(self) -> str:
        return f'auth;desc="{self.source}";dur={self.duration_ms:.2f}'


class Authenticator:
    def __init__(
        self,
        *,
        codec: TokenCodec,
        directory: AuthDirectory,
        passwords: PasswordCheck,
        basic_verifier: BasicVerifierCache,
        basic_enabled: bool,
        clock: Clock,
    ) -> None:
        self._codec = codec
        self._directory = directory
        self._passwords = passwords
        self._basic_verifier = basic_verifier
        self.basic_enabled = basic_enabled
        self._clock = clock

    async def authenticate(self, authorization: str | None, client_ip: ClientIp) -> Principal:
        """`client_ip` is asked only when a password must be checked (attempts are counted
        by address): a warm request needs no address."""
        scheme, _, credentials = (authorization or "").partition(" ")
        scheme = scheme.lower()
        credentials = credentials.strip()
        if scheme == "bearer" and credentials:
            return await self.from_bearer(credentials)
        if scheme == "basic" and credentials and self.basic_enabled:
            return await self.from_basic(credentials, client_ip)
        if scheme in ("bearer", "basic") and credentials:
            raise InvalidToken
        raise MissingCredentials(self.basic_enabled)

    async def from_bearer(self, token: str) -> Principal:
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

    async def from_basic(self, credentials: str, client_ip: ClientIp) -> Principal:
        started = time.perf_counter()
        username, password = _decode_basic(credentials)
        attempt = await self._passwords.find(username)
        user = attempt.found.user
        if user is None:
            user = await self._checked(attempt, password, client_ip())
        elif not self._basic_verifier.is_known(attempt.username, password, user.password_hash):
            async with self._basic_verifier.one_check_at_a_time(
                attempt.username, password, user.password_hash
            ) as known:
                if not known:
                    user = await self._checked(attempt, password, client_ip())
        # Basic cannot carry a second factor, so TOTP users must use /token.
        if not user.is_active or user.totp_enabled:
            raise InvalidToken
        elapsed_ms = (time.perf_counter() - started) * 1000
        return Principal(user, user.scopes, None, attempt.found.source, elapsed_ms)

    async def _checked(self, attempt: LoginAttempt, password: str, ip: str | None) -> User:
        """Only a pair bcrypt has not accepted before can be a guess: those are checked and
        throttled like /token attempts, so Basic is no way around the lockout. Basic cannot
        carry a second factor: a TOTP user's right password stays a counted attempt here (no
        oracle for it)."""
        try:
            async with self._passwords.checked(attempt, password, ip) as user:
                if user.totp_enabled:
                    raise InvalidToken
        except PasswordRefused as exc:
            raise InvalidToken from exc
        await self._passwords.logged_in(attempt, ip)
        self._basic_verifier.remember(attempt.username, password, user.password_hash)
        return user


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
