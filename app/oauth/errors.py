"""The one map from domain errors to RFC 6749 §5.2 error responses, for /token and its
sibling endpoints. Anything not listed here is not an OAuth error and is rendered as
{"detail"} like everywhere else."""

from dataclasses import dataclass, field
from typing import Final

from app.core.errors import (
    InvalidGrant,
    InvalidRequest,
    InvalidScope,
    KeygateError,
    MfaRequired,
    TooManyAttempts,
    Unavailable,
    UnsupportedGrantType,
)

# RFC 6749 §5.1: token responses, and so their errors, must not be cached.
NO_STORE: Final = {"Cache-Control": "no-store", "Pragma": "no-cache"}

# Most specific first: the first class the error is an instance of decides.
CODES: Final[tuple[tuple[type[KeygateError], int, str], ...]] = (
    (InvalidRequest, 400, "invalid_request"),
    (InvalidGrant, 400, "invalid_grant"),
    (UnsupportedGrantType, 400, "unsupported_grant_type"),
    (InvalidScope, 400, "invalid_scope"),
    (MfaRequired, 403, "mfa_required"),
    (TooManyAttempts, 429, "too_many_attempts"),
    (Unavailable, 503, "temporarily_unavailable"),
)


@dataclass(frozen=True, slots=True)
class OAuthError:
    status_code: int
    body: dict[str, str]
    headers: dict[str, str] = field(default_factory=lambda: dict(NO_STORE))


def oauth_error(exc: KeygateError) -> OAuthError | None:
    for kind, status_code, code in CODES:
        if isinstance(exc, kind):
            body = {"error": code, "error_description": exc.message}
            headers = dict(NO_STORE)
            if isinstance(exc, MfaRequired):
                body["mfa_token"] = exc.mfa_token
            if isinstance(exc, TooManyAttempts | Unavailable):
                headers["Retry-After"] = str(exc.retry_after_seconds)
            return OAuthError(status_code, body, headers)
    return None
