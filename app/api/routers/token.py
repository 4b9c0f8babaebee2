"""/token (RFC 6749), /token/revoke (RFC 7009), /token/introspect (RFC 7662) and /logout."""

import time
from collections.abc import Awaitable
from typing import Any, Final

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from app.api.deps import Admin, Authenticated, ClientDep, Codec, Grants, IntrospectorDep, Sessions
from app.api.form import form_schema, read_oauth_form, required
from app.api.server_timing import auth_timing
from app.core.errors import InvalidToken, KeygateError, UnsupportedGrantType
from app.oauth.errors import NO_STORE, oauth_error
from app.oauth.grants import Client, GrantService, IssuedTokens
from app.users.scopes import parse_scope_param

router = APIRouter(tags=["auth"])

PASSWORD_GRANT: Final = "password"  # noqa: S105 (a grant name)
REFRESH_GRANT: Final = "refresh_token"
MFA_OTP_GRANT: Final = "urn:keygate:params:oauth:grant-type:mfa-otp"

OAUTH_ERROR_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "properties": {"error": {"type": "string"}, "error_description": {"type": "string"}},
    "required": ["error", "error_description"],
}
TOKEN_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "properties": {
        "access_token": {"type": "string"},
        "token_type": {"type": "string", "enum": ["bearer"]},
        "expires_in": {"type": "integer"},
        "refresh_token": {"type": "string"},
        "scope": {"type": "string"},
    },
    "required": ["access_token", "token_type", "expires_in", "refresh_token", "scope"],
}


def _oauth_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": OAUTH_ERROR_SCHEMA}},
    }


GRANTS_HELP = """\
**password**: `username`, `password`, optional `scope`. A user with TOTP gets
`403 {"error": "mfa_required", "mfa_token": ...}` unless the request also carries `otp`.

**urn:keygate:params:oauth:grant-type:mfa-otp**: exchanges that `mfa_token` (5 minutes,
single use) and `otp` (the authenticator's 6-digit code, or a recovery code) for tokens.

**refresh_token**: `refresh_token`, optional narrower `scope`. Each use returns a new refresh
token; presenting a used one again ends the session.

Errors are RFC 6749 JSON: `{"error", "error_description"}`.
"""

TOKEN_FORM = form_schema(
    {
        "grant_type": {"type": "string", "enum": [PASSWORD_GRANT, REFRESH_GRANT, MFA_OTP_GRANT]},
        "username": {"type": "string", "description": "password grant"},
        "password": {"type": "string", "format": "password", "description": "password grant"},
        "scope": {"type": "string", "description": "space-separated; empty means all yours"},
        "otp": {
            "type": "string",
            "description": "password grant, users with TOTP: the code (or a recovery code)"
            " in the same request, instead of the mfa_token exchange",
        },
        "refresh_token": {"type": "string", "description": "refresh_token grant"},
        "mfa_token": {"type": "string", "description": "mfa-otp grant: from the 403"},
        "client_id": {"type": "string", "description": "ignored (public clients)"},
        "client_secret": {"type": "string", "description": "ignored (public clients)"},
    },
    ["grant_type"],
)


async def answer_oauth(call: Awaitable[Response]) -> Response:
    """Domain errors of the token endpoints answer as RFC 6749 error bodies (the one map is
    app/oauth/errors.py); anything else is rendered like everywhere else."""
    try:
        return await call
    except KeygateError as exc:
        error = oauth_error(exc)
        if error is None:
            raise
        return JSONResponse(error.body, error.status_code, headers=error.headers)


def token_response(tokens: IssuedTokens, duration_ms: float) -> JSONResponse:
    timing = auth_timing(tokens.source, duration_ms)
    return JSONResponse(tokens.body(), headers={**NO_STORE, "Server-Timing": timing})


@router.post(
    "/token",
    summary="Get tokens (OAuth2 password, refresh_token and mfa-otp grants)",
    description=GRANTS_HELP,
    openapi_extra=TOKEN_FORM,
    responses={
        200: {
            "description": "Tokens",
            "content": {"application/json": {"schema": TOKEN_SCHEMA}},
        },
        400: _oauth_response(
            "invalid_request, invalid_grant, invalid_scope or unsupported_grant_type"
        ),
        403: _oauth_response("mfa_required, with an mfa_token"),
        429: _oauth_response("too_many_attempts, with Retry-After"),
        503: _oauth_response("temporarily_unavailable"),
    },
)
async def issue_token(request: Request, grants: Grants, client: ClientDep) -> Response:
    # A Basic header here is client authentication (requests-oauthlib, Authlib and Swagger UI
    # send one); it is never read as user credentials, and public clients need none.
    async def issue() -> Response:
        form = await read_oauth_form(request)
        started = time.perf_counter()
        tokens = await grant(form, grants, client)
        return token_response(tokens, (time.perf_counter() - started) * 1000)

    return await answer_oauth(issue())


async def grant(form: dict[str, str], grants: GrantService, client: Client) -> IssuedTokens:
    grant_type = required(form, "grant_type")
    scope = parse_scope_param(form.get("scope"))
    if grant_type == PASSWORD_GRANT:
        return await grants.password_grant(
            username=required(form, "username"),
            password=required(form, "password"),
            scope=scope,
            otp=form.get("otp") or None,
            client=client,
        )
    if grant_type == REFRESH_GRANT:
        return await grants.refresh_grant(
            refresh_token=required(form, "refresh_token"), scope=scope
        )
    if grant_type == MFA_OTP_GRANT:
        return await grants.mfa_grant(
            mfa_token=required(form, "mfa_token"), otp=required(form, "otp"), client=client
        )
    raise UnsupportedGrantType(f"grant_type '{grant_type[:40]}' is not supported")


@router.post(
    "/token/revoke",
    summary="Revoke a token and end its session (RFC 7009)",
    response_class=Response,
    openapi_extra=form_schema(
        {
            "token": {"type": "string"},
            "token_type_hint": {"type": "string", "enum": ["access_token", "refresh_token"]},
        },
        ["token"],
    ),
    responses={
        200: {"description": "Revoked, or nothing to revoke (always 200)", "content": {}},
        400: _oauth_response("invalid_request"),
    },
)
async def revoke_token(request: Request, codec: Codec, sessions: Sessions) -> Response:
    async def revoke() -> Response:
        token = required(await read_oauth_form(request), "token")
        # RFC 7009 §2.1: the hint only orders the lookups; a wrong hint still revokes.
        try:
            claims = codec.verify_access_token(token, allow_expired=True)
        except InvalidToken:
            await sessions.end_by_refresh_token(token)
        else:
            await sessions.end(claims.session_id)
        return Response(status_code=200, headers=NO_STORE)

    return await answer_oauth(revoke())


@router.post("/logout", status_code=204, summary="End the current session")
async def logout(principal: Authenticated, sessions: Sessions) -> None:
    if principal.session_id is not None:
        await sessions.end(principal.session_id)


@router.post(
    "/token/introspect",
    summary="Is this token live? (RFC 7662; for resource servers, needs the admin scope)",
    openapi_extra=form_schema(
        {
            "token": {"type": "string"},
            "token_type_hint": {"type": "string", "enum": ["access_token", "refresh_token"]},
        },
        ["token"],
    ),
    responses={400: _oauth_response("invalid_request")},
)
async def introspect_token(request: Request, _: Admin, introspector: IntrospectorDep) -> Response:
    async def introspect() -> Response:
        form = await read_oauth_form(request)
        body = await introspector.introspect(required(form, "token"))
        return JSONResponse(body, headers=NO_STORE)

    return await answer_oauth(introspect())
