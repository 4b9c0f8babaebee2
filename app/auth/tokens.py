"""Access tokens: JWTs (RFC 9068 `at+jwt`) issued and verified with one pinned algorithm."""

import secrets
import uuid
from dataclasses import dataclass
from typing import Any, Final

from jose import JWTError, jwt

from app.clock import Clock
from app.errors import InvalidToken

ACCESS_TOKEN_TYPE: Final = "at+jwt"  # noqa: S105 (a media type)
# Refused before any decoding work (RFC 8725 §3.1: do not let input size drive cost).
MAX_TOKEN_CHARS: Final = 4096
LEEWAY_SECONDS: Final = 10


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: int
    scopes: frozenset[str]
    session_id: uuid.UUID
    jti: str
    expires_at: int


class TokenCodec:
    def __init__(
        self,
        *,
        secret: str,
        issuer: str,
        audience: str,
        ttl_seconds: int,
        clock: Clock,
        algorithm: str = "HS256",
    ) -> None:
        self._secret = secret
        self._issuer = issuer
        self._audience = audience
        self._algorithm = algorithm
        self.ttl_seconds = ttl_seconds
        self._clock = clock

    def issue_access_token(self, *, user_id: int, scopes: str, session_id: uuid.UUID) -> str:
        now = int(self._clock())
        claims = {
            "sub": str(user_id),
            "scope": scopes,
            "iat": now,
            "exp": now + self.ttl_seconds,
            "jti": secrets.token_urlsafe(16),
            "iss": self._issuer,
            "aud": self._audience,
            "sid": str(session_id),
        }
        return jwt.encode(
            claims, self._secret, algorithm=self._algorithm, headers={"typ": ACCESS_TOKEN_TYPE}
        )

    def verify_access_token(self, token: str, *, allow_expired: bool = False) -> AccessClaims:
        if len(token) > MAX_TOKEN_CHARS:
            raise InvalidToken
        try:
            header = jwt.get_unverified_header(token)
            if header.get("typ") != ACCESS_TOKEN_TYPE or header.get("alg") != self._algorithm:
                raise InvalidToken
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[self._algorithm],
                audience=self._audience,
                issuer=self._issuer,
                # exp and iat are checked below against the injectable clock.
                options={
                    "verify_exp": False,
                    "verify_iat": False,
                    "require_aud": True,
                    "require_iss": True,
                    "require_sub": True,
                    "require_jti": True,
                },
            )
            return self._checked_claims(claims, allow_expired=allow_expired)
        except (JWTError, ValueError, TypeError, KeyError, AttributeError) as exc:
            raise InvalidToken from exc

    def _checked_claims(self, claims: dict[str, Any], *, allow_expired: bool) -> AccessClaims:
        exp, iat = claims["exp"], claims["iat"]
        if not isinstance(exp, int) or not isinstance(iat, int):
            raise InvalidToken
        now = self._clock()
        if (exp + LEEWAY_SECONDS < now and not allow_expired) or iat - LEEWAY_SECONDS > now:
            raise InvalidToken
        scope = claims["scope"]
        if not isinstance(scope, str):
            raise InvalidToken
        return AccessClaims(
            user_id=int(claims["sub"]),
            scopes=frozenset(scope.split()),
            session_id=uuid.UUID(claims["sid"]),
            jti=str(claims["jti"]),
            expires_at=exp,
        )
