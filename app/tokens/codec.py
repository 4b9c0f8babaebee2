"""Access tokens: JWTs (RFC 9068 `at+jwt`) issued and verified with one pinned algorithm."""

import json
import secrets
import uuid
from dataclasses import dataclass
from typing import Any, Final

from jose import JWSError, JWTError, jwk, jws, jwt
from jose.backends.base import Key

from app.core.clock import Clock
from app.core.errors import InvalidToken
from app.core.settings import Settings
from app.tokens.keys import SigningKey, VerificationKey, load_public_key, load_signing_key
from app.tokens.memo import VerifiedTokenMemo

ACCESS_TOKEN_TYPE: Final = "at+jwt"  # noqa: S105 (a media type)
# Refused before any decoding work (RFC 8725 §3.1: do not let input size drive cost).
MAX_TOKEN_CHARS: Final = 4096
MAX_ID: Final = 2**63  # PostgreSQL bigint


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: int
    scopes: frozenset[str]
    session_id: uuid.UUID
    jti: str
    expires_at: int
    issued_at: int


@dataclass(frozen=True)
class KeySet:
    """What signs new tokens and what verifies them: with HS256 one shared secret; with ES256
    or RS256 the current private key, and the current and previous public keys by kid."""

    algorithm: str
    signing_key: str
    signing_kid: str | None
    verification_keys: dict[str | None, Key | str]
    published: list[dict[str, str]]

    @classmethod
    def shared_secret(cls, secret: str) -> "KeySet":
        # A key object built once: jose would rebuild it from the string on every verify.
        return cls("HS256", secret, None, {None: jwk.construct(secret, "HS256")}, [])

    @classmethod
    def asymmetric(
        cls, algorithm: str, signing: SigningKey, public_keys: list[VerificationKey]
    ) -> "KeySet":
        return cls(
            algorithm,
            signing.private_pem,
            signing.kid,
            {key.kid: key.key for key in public_keys},
            [key.public_jwk for key in public_keys],
        )


def load_key_set(settings: Settings, signing_secret: str) -> KeySet:
    if settings.jwt_algorithm == "HS256" or settings.jwt_private_key_file is None:
        return KeySet.shared_secret(signing_secret)
    signing, current = load_signing_key(settings.jwt_private_key_file, settings.jwt_algorithm)
    previous = [
        load_public_key(path, settings.jwt_algorithm) for path in settings.previous_public_key_paths
    ]
    return KeySet.asymmetric(settings.jwt_algorithm, signing, [current, *previous])


class TokenCodec:
    def __init__(
        self,
        *,
        keys: KeySet,
        issuer: str,
        audience: str,
        ttl_seconds: int,
        leeway_seconds: int,
        clock: Clock,
    ) -> None:
        self._verified: VerifiedTokenMemo[AccessClaims] = VerifiedTokenMemo()
        self.keys = keys
        self._issuer = issuer
        self._audience = audience
        self.ttl_seconds = ttl_seconds
        self._leeway_seconds = leeway_seconds
        self._clock = clock

    @property
    def keys(self) -> KeySet:
        return self._keys

    @keys.setter
    def keys(self, keys: KeySet) -> None:
        # What the old keys verified is no proof under the new ones.
        self._keys = keys
        self._algorithm = keys.algorithm
        self._verified.clear()

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
        headers = {"typ": ACCESS_TOKEN_TYPE}
        if self.keys.signing_kid is not None:
            headers["kid"] = self.keys.signing_kid
        return jwt.encode(claims, self.keys.signing_key, algorithm=self._algorithm, headers=headers)

    def verify_access_token(self, token: str, *, allow_expired: bool = False) -> AccessClaims:
        if len(token) > MAX_TOKEN_CHARS:
            raise InvalidToken
        claims = self._verified.get(token)
        if claims is None:
            claims = self._verify_signature_and_claims(token)
            self._verified.remember(token, claims)
        # The clock moves: the times are judged on every use, remembered or not.
        now = self._clock()
        leeway = self._leeway_seconds
        if now >= claims.expires_at + leeway and not allow_expired:
            self._verified.forget(token)  # kept until it expires, not after
            raise InvalidToken
        if claims.issued_at - leeway > now:
            raise InvalidToken
        return claims

    def _verify_signature_and_claims(self, token: str) -> AccessClaims:
        try:
            header = jws.get_unverified_header(token)
            if header.get("typ") != ACCESS_TOKEN_TYPE or header.get("alg") != self._algorithm:
                raise InvalidToken
            # Only the configured algorithm, with the key its kid names (a shared secret has
            # none): an HS256 token "signed" with a public key finds no key here.
            kid = header.get("kid") if self.keys.signing_kid is not None else None
            key = self.keys.verification_keys.get(kid)
            if key is None:
                raise InvalidToken
            # jws.verify checks the signature only; the claims are checked below, against the
            # injectable clock. (jwt.decode re-validates more generically at 3x the cost.)
            claims = json.loads(jws.verify(token, key, algorithms=[self._algorithm]))
            return self._checked_claims(claims)
        # RecursionError: JSON nested thousands deep in the header or payload.
        except (
            JWTError,
            JWSError,
            ValueError,
            TypeError,
            KeyError,
            AttributeError,
            RecursionError,
        ) as exc:
            raise InvalidToken from exc

    def _checked_claims(self, claims: dict[str, Any]) -> AccessClaims:
        """RFC 8725 §3.8-3.9 and RFC 9068 §4: iss, aud, exp, iat, sub, jti all required (the
        times are judged by the caller, on every use)."""
        exp, iat, scope = claims["exp"], claims["iat"], claims["scope"]
        if not _is_int(exp) or not _is_int(iat) or not isinstance(scope, str):
            raise InvalidToken
        if claims["iss"] != self._issuer or not _audience_matches(claims["aud"], self._audience):
            raise InvalidToken
        user_id = int(claims["sub"])
        if not 0 < user_id < MAX_ID:
            raise InvalidToken
        return AccessClaims(
            user_id=user_id,
            scopes=frozenset(scope.split()),
            session_id=uuid.UUID(claims["sid"]),
            jti=str(claims["jti"]),
            expires_at=exp,
            issued_at=iat,
        )


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _audience_matches(aud: object, audience: str) -> bool:
    if isinstance(aud, str):
        return aud == audience
    return isinstance(aud, list) and audience in aud
