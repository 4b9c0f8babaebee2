"""How domain errors answer: {"detail": ...} with the status and headers each meaning calls
for (RFC 6750 challenges, Retry-After), registered once on the app; and, for what the token
routes' endpoints raise, RFC 6749 error bodies (OAuthErrorRoute, the one map being
app/oauth/errors.py)."""

import asyncio
import functools
from collections.abc import Callable, Coroutine
from typing import Any, Final, cast

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response

from app.api.presolved_route import PresolvedRoute
from app.core.errors import (
    Conflict,
    Forbidden,
    InsufficientScope,
    InvalidBasicCredentials,
    InvalidField,
    InvalidToken,
    KeygateError,
    LoginQueueFull,
    MfaRequired,
    MissingCredentials,
    NotFound,
    TooManyAttempts,
    Unavailable,
)
from app.oauth.errors import oauth_error

FASTAPI_BODY_PARSE_ERROR: Final = "There was an error parsing the body"

# Most specific first: the first class the error is an instance of decides; any other
# domain error (InvalidRequest, InvalidGrant, Rejected, ...) is a 400.
STATUS_CODES: Final[tuple[tuple[type[KeygateError], int], ...]] = (
    (InvalidToken, 401),
    (InvalidBasicCredentials, 401),
    (MissingCredentials, 401),
    (InsufficientScope, 403),
    (MfaRequired, 403),
    (Forbidden, 403),
    (NotFound, 404),
    (Conflict, 409),
    (InvalidField, 422),
    (TooManyAttempts, 429),
    (Unavailable, 503),
)


def status_code_of(exc: KeygateError) -> int:
    return next((status for kind, status in STATUS_CODES if isinstance(exc, kind)), 400)


def headers_of(exc: KeygateError) -> dict[str, str]:
    if isinstance(exc, InvalidToken | InvalidBasicCredentials):
        return {"WWW-Authenticate": 'Bearer error="invalid_token"'}
    if isinstance(exc, MissingCredentials):
        return {
            "WWW-Authenticate": 'Bearer, Basic realm="keygate"' if exc.basic_enabled else "Bearer"
        }
    if isinstance(exc, InsufficientScope):
        return {"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{exc.scope}"'}
    if isinstance(exc, TooManyAttempts | Unavailable):
        return {"Retry-After": str(exc.retry_after_seconds)}
    return {}


def detail_of(exc: KeygateError) -> str | list[dict[str, object]]:
    if isinstance(exc, InvalidField):
        return [{"loc": ["body", exc.field], "msg": exc.message, "type": "value_error"}]
    return exc.message


async def pause_a_full_queue(exc: KeygateError) -> None:
    """An address past its share of the login queue is answered 503 only after the pause its
    Retry-After names: a client that never waits then sends at most one login a second on
    each connection, instead of spinning on refusals whose look-ups take the CPU that the
    other addresses' bcrypt checks need (docs/contract.md §8: no one can crowd out a user)."""
    if isinstance(exc, LoginQueueFull):
        await asyncio.sleep(exc.retry_after_seconds)


async def _render_domain_error(_: Request, raised: Exception) -> JSONResponse:
    exc = cast(KeygateError, raised)
    await pause_a_full_queue(exc)
    return JSONResponse({"detail": detail_of(exc)}, status_code_of(exc), headers=headers_of(exc))


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
    app.add_exception_handler(KeygateError, _render_domain_error)
    app.add_exception_handler(RequestValidationError, _render_validation_error)
    app.add_exception_handler(StarletteHTTPException, _render_http_error)
    app.add_exception_handler(ClientDisconnect, _answer_a_client_that_left)


async def _answer_a_client_that_left(request: Request, exc: Exception) -> Response:
    # The client closed the connection before its body arrived. Nobody reads this answer,
    # and it is no fault of the server: no 500, and no error in the log.
    return Response(status_code=400)


Endpoint = Callable[..., Coroutine[Any, Any, Response]]


class OAuthErrorRoute(PresolvedRoute):
    """A route of the token endpoints (RFC 6749 §5.2, RFC 7009, RFC 7662): a domain error its
    endpoint raises that is an OAuth error answers as `{"error", "error_description"}` with
    `Cache-Control: no-store`. Errors of its dependencies (authenticating the caller) and
    every other error answer like everywhere else."""

    def __init__(self, path: str, endpoint: Endpoint, **kwargs: Any) -> None:
        super().__init__(path, _answering_oauth_errors(endpoint), **kwargs)


def _answering_oauth_errors(endpoint: Endpoint) -> Endpoint:
    @functools.wraps(endpoint)  # FastAPI reads the endpoint's own signature through this
    async def answering(*args: Any, **kwargs: Any) -> Response:
        try:
            return await endpoint(*args, **kwargs)
        except KeygateError as exc:
            error = oauth_error(exc)
            if error is None:
                raise
            await pause_a_full_queue(exc)
            return JSONResponse(error.body, error.status_code, headers=error.headers)

    return answering
