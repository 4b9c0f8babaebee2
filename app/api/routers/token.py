"""/token (RFC 6749), /token/revoke (RFC 7009), /token/introspect (RFC 7662) and /logout."""

import time
from typing import Any, Final

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from app.api.deps import (
    Admin,
    Authenticated,
    Codec,
    Grants,
    IntrospectorDep,
    Origin,
    Sessions,
    SettingsDep,
)
from app.api.errors import OAuthErrorRoute
from app.api.form import form_schema, read_oauth_form
from app.api.presolved_route import PresolvedRoute
from app.api.server_timing import auth_timing
from app.core.errors import InvalidToken
from app.oauth.errors import NO_STORE
from app.oauth.grant import GrantRequest, required
from app.oauth.issuer import IssuedTokens
from app.oauth.password_grant import DEVICE_TOKEN_FIELD
from app.oauth.registry import GRANT_TYPES, GRANTS, grant_fields

router = APIRouter(tags=["auth"], route_class=OAuthErrorRoute)

# The account page's logins send it back by themselves; no script can read it.
DEVICE_COOKIE: Final = "device_token"

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
        "device_token": {"type": "string", "description": "password logins"},
    },
    "required": ["access_token", "token_type", "expires_in", "refresh_token", "scope"],
}


def _oauth_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": OAUTH_ERROR_SCHEMA}},
    }


GRANTS_HELP = (
    "\n\n".join(f"**{grant.grant_type}**: {grant.summary}" for grant in GRANTS)
    + '\n\nErrors are RFC 6749 JSON: `{"error", "error_description"}`.\n'
)
SECRET_FIELDS: Final = frozenset({"password"})

TOKEN_FORM = form_schema(
    {
        "grant_type": {"type": "string", "enum": GRANT_TYPES},
        "scope": {"type": "string", "description": "space-separated; empty means all yours"},
        **{
            name: {"type": "string", "description": description}
            | ({"format": "password"} if name in SECRET_FIELDS else {})
            for name, description in grant_fields().items()
        },
        "client_id": {"type": "string", "description": "ignored (public clients)"},
        "client_secret": {"type": "string", "description": "ignored (public clients)"},
    },
    ["grant_type"],
)


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
async def issue_token(
    request: Request, grants: Grants, origin: Origin, settings: SettingsDep
) -> Response:
    # A Basic header here is client authentication (requests-oauthlib, Authlib and Swagger UI
    # send one); it is never read as user credentials, and public clients need none.
    form = await read_oauth_form(request)
    cookie = request.cookies.get(DEVICE_COOKIE)
    if cookie and DEVICE_TOKEN_FIELD not in form:
        form[DEVICE_TOKEN_FIELD] = cookie
    started = time.perf_counter()
    tokens = await grants.issue(GrantRequest(form, origin))
    response = token_response(tokens, (time.perf_counter() - started) * 1000)
    if tokens.device_token is not None:
        response.set_cookie(
            DEVICE_COOKIE,
            tokens.device_token,
            max_age=settings.refresh_token_ttl_seconds,
            path="/token",
            secure=request.url.scheme == "https",
            httponly=True,
            samesite="strict",
        )
    return response


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
    token = required(await read_oauth_form(request), "token")
    # RFC 7009 §2.1: the hint only orders the lookups; a wrong hint still revokes.
    try:
        claims = codec.verify_access_token(token, allow_expired=True)
    except InvalidToken:
        await sessions.end_by_refresh_token(token)
    else:
        await sessions.end(claims.session_id)
    return Response(status_code=200, headers=NO_STORE)


async def logout(principal: Authenticated, sessions: Sessions) -> None:
    if principal.session_id is not None:
        await sessions.end(principal.session_id)


# Not a token endpoint: its errors answer {"detail"} like everywhere else.
router.add_api_route(
    "/logout",
    logout,
    methods=["POST"],
    status_code=204,
    summary="End the current session",
    route_class_override=PresolvedRoute,
)


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
    form = await read_oauth_form(request)
    body = await introspector.introspect(required(form, "token"))
    return JSONResponse(body, headers=NO_STORE)
