"""Domain errors: one class per meaning, each carrying what a renderer needs. How they become
HTTP answers is decided at the edge (app/api/errors.py, and app/oauth/errors.py for /token)."""


class KeygateError(Exception):
    """Base of the errors a service may let escape to a route."""

    message = "bad request"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.message)
        if message is not None:
            self.message = message


# --- the OAuth2 token endpoint (RFC 6749 §5.2) -----------------------------------------


class InvalidRequest(KeygateError):
    message = "the request is malformed"


class InvalidGrant(KeygateError):
    """Unknown user, wrong password or code, inactive user, dead token: one same answer."""

    message = "invalid username, password or token"


class UnsupportedGrantType(KeygateError):
    message = "the grant type is not supported"


class InvalidScope(KeygateError):
    message = "the scope is unknown or not granted"


class MfaRequired(KeygateError):
    message = "a one-time code from the authenticator app is required"

    def __init__(self, mfa_token: str) -> None:
        super().__init__()
        self.mfa_token = mfa_token


# --- credentials --------------------------------------------------------------------------


class InvalidToken(KeygateError):
    """Bad, expired, revoked or wrongly signed bearer token."""

    message = "invalid or expired credentials"


class InvalidBasicCredentials(KeygateError):
    """HTTP Basic credentials that do not decode, or name an unknown, inactive or TOTP user,
    or a wrong password. Answered as InvalidToken is (docs/contract.md): the client learns
    only that the credentials did not work."""

    message = InvalidToken.message


class MissingCredentials(KeygateError):
    message = "not authenticated"

    def __init__(self, basic_enabled: bool) -> None:
        super().__init__()
        self.basic_enabled = basic_enabled


class InsufficientScope(KeygateError):
    message = "the token lacks the scope this request needs"

    def __init__(self, scope: str) -> None:
        super().__init__()
        self.scope = scope


class TooManyAttempts(KeygateError):
    message = "too many failed attempts; try again later"

    def __init__(self, retry_after_seconds: int, message: str | None = None) -> None:
        super().__init__(message)
        self.retry_after_seconds = max(1, retry_after_seconds)


# --- availability -------------------------------------------------------------------------


class Unavailable(KeygateError):
    """The request cannot be served now; the client may retry after `retry_after_seconds`."""

    message = "temporarily unavailable"
    retry_after_seconds = 5


class DatabaseUnavailable(Unavailable):
    """PostgreSQL cannot be reached (and what was asked is not in the cache)."""

    message = "the database is unavailable"


class LoginQueueFull(Unavailable):
    """More logins wait for bcrypt than the login queue holds (LOGIN_QUEUE_SIZE)."""

    message = "too many logins in progress; try again shortly"
    retry_after_seconds = 1


class AccountQueueFull(Unavailable):
    """More registrations and password changes wait for bcrypt than their queue holds."""

    message = "too many registrations and password changes in progress; try again shortly"
    retry_after_seconds = 1


# --- resources ----------------------------------------------------------------------------


class Forbidden(KeygateError):
    message = "forbidden"


class NotFound(KeygateError):
    message = "not found"


class Conflict(KeygateError):
    message = "conflict"


class Rejected(KeygateError):
    """A well-formed request the service refuses (a wrong current password or code)."""

    message = "the request was refused"


class InvalidField(KeygateError):
    """One field's value breaks a rule only the service can check (the password policy);
    rendered like request validation errors, so clients parse one 422 shape."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(problem)
        self.field = field
