"""Domain exceptions and the two renderers: OAuth error bodies for /token, {"detail"} elsewhere."""

from typing import cast

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
FASTAPI_BODY_PARSE_ERROR = "There was an error parsing the body"


class KeygateError(Exception):
    """Base of the errors a route may let escape; each knows how it is rendered."""


# --- /token errors (RFC 6749 §5.2) -------------------------------------------------------


class OAuthError(KeygateError):
    status_code = 400
    error = "invalid_request"

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}

    def headers(self) -> dict[str, str]:
        return dict(NO_STORE)


class InvalidRequest(OAuthError):
    error = "invalid_request"


class InvalidGrant(OAuthError):
    error = "invalid_grant"

    def __init__(self, description: str = "invalid username, password or token") -> None:
        super().__init__(description)


class UnsupportedGrantType(OAuthError):
    error = "unsupported_grant_type"


class InvalidScope(OAuthError):
    error = "invalid_scope"


class MfaRequired(OAuthError):
    status_code = 403
    error = "mfa_required"

    def __init__(self, mfa_token: str) -> None:
        super().__init__("a one-time code from the authenticator app is required")
        self.mfa_token = mfa_token

    def body(self) -> dict[str, str]:
        return {**super().body(), "mfa_token": self.mfa_token}


class TooManyAttempts(OAuthError):
    status_code = 429
    error = "too_many_attempts"

    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__("too many failed attempts; try again later")
        self.retry_after_seconds = max(1, retry_after_seconds)

    def headers(self) -> dict[str, str]:
        return {**super().headers(), "Retry-After": str(self.retry_after_seconds)}


class TemporarilyUnavailable(OAuthError):
    status_code = 503
    error = "temporarily_unavailable"

    def __init__(self, description: str, retry_after_seconds: int | None = None) -> None:
        super().__init__(description)
        self.retry_after_seconds = retry_after_seconds

    def headers(self) -> dict[str, str]:
        headers = super().headers()
        if self.retry_after_seconds is not None:
            headers["Retry-After"] = str(self.retry_after_seconds)
        return headers


# --- errors outside /token ----------------------------------------------------------------


class ApiError(KeygateError):
    status_code = 400
    detail: str | list[dict[str, object]] = "bad request"

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail or str(self.detail))
        if detail is not None:
            self.detail = detail

    def headers(self) -> dict[str, str] | None:
        return None


class InvalidToken(ApiError):
    status_code = 401
    detail = "invalid or expired credentials"

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Bearer error="invalid_token"'}


class MissingCredentials(ApiError):
    status_code = 401
    detail = "not authenticated"

    def __init__(self, basic_enabled: bool) -> None:
        super().__init__()
        self.basic_enabled = basic_enabled

    def headers(self) -> dict[str, str]:
        challenge = 'Bearer, Basic realm="keygate"' if self.basic_enabled else "Bearer"
        return {"WWW-Authenticate": challenge}


class InsufficientScope(ApiError):
    status_code = 403
    detail = "the token lacks the scope this request needs"

    def __init__(self, scope: str) -> None:
        super().__init__()
        self.scope = scope

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{self.scope}"'}


class TooManyFailedLogins(ApiError):
    status_code = 429
    detail = "too many failed attempts; try again later"

    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__()
        self.retry_after_seconds = retry_after_seconds

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_seconds)}


class Forbidden(ApiError):
    status_code = 403
    detail = "forbidden"


class NotFound(ApiError):
    status_code = 404
    detail = "not found"


class Conflict(ApiError):
    status_code = 409
    detail = "conflict"


class UsernameTaken(Conflict):
    detail = "username is already taken"


class CredentialsUnavailable(ApiError):
    """The credentials cannot be checked now: PostgreSQL is down and the user is not cached."""

    status_code = 503
    detail = "temporarily unavailable"

    def headers(self) -> dict[str, str]:
        return {"Retry-After": "5"}


class LoginQueueFull(CredentialsUnavailable):
    """More logins wait for bcrypt than the login queue holds (LOGIN_QUEUE_SIZE)."""

    detail = "too many logins in progress; try again shortly"

    def headers(self) -> dict[str, str]:
        return {"Retry-After": "1"}


class DatabaseUnavailable(CredentialsUnavailable):
    detail = "the database is unavailable"


# --- renderers ----------------------------------------------------------------------------


async def _render_oauth_error(_: Request, raised: Exception) -> JSONResponse:
    exc = cast(OAuthError, raised)
    return JSONResponse(exc.body(), status_code=exc.status_code, headers=exc.headers())


async def _render_api_error(request: Request, raised: Exception) -> JSONResponse:
    exc = cast(ApiError, raised)
    return JSONResponse(
        {"detail": exc.detail},
        status_code=exc.status_code,
        headers=_with_timing(request, exc.headers()),
    )


def _with_timing(request: Request, headers: dict[str, str] | None) -> dict[str, str] | None:
    """A request that failed after authentication still says how it was authenticated."""
    timing = getattr(request.state, "server_timing", None)
    if timing is None:
        return headers
    return {**(headers or {}), "Server-Timing": timing}


async def _render_validation_error(_: Request, raised: Exception) -> JSONResponse:
    exc = cast(RequestValidationError, raised)
    # Pydantic echoes the rejected input; a password must never come back in a response.
    errors = [
        {k: v for k, v in e.items() if k not in ("input", "ctx", "url")} for e in exc.errors()
    ]
    return JSONResponse({"detail": errors}, status_code=422)


async def _render_http_error(_: Request, raised: Exception) -> JSONResponse:
    exc = cast(StarletteHTTPException, raised)
    if exc.status_code == 400 and exc.detail == FASTAPI_BODY_PARSE_ERROR:
        # A body that is not UTF-8 is as invalid as malformed JSON: one 422 for both.
        errors = [
            {"loc": ["body"], "msg": "the body is not valid UTF-8 JSON", "type": "json_invalid"}
        ]
        return JSONResponse({"detail": errors}, status_code=422)
    return JSONResponse(
        {"detail": exc.detail}, status_code=exc.status_code, headers=getattr(exc, "headers", None)
    )


def register_error_renderers(app: FastAPI) -> None:
    app.add_exception_handler(OAuthError, _render_oauth_error)
    app.add_exception_handler(ApiError, _render_api_error)
    app.add_exception_handler(RequestValidationError, _render_validation_error)
    app.add_exception_handler(StarletteHTTPException, _render_http_error)
