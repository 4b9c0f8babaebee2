"""What lets other services trust keygate's tokens without its secret: the JWKS (RFC 7517)
and the authorization server metadata (RFC 8414)."""

from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app.api.deps import Codec, SettingsDep
from app.api.presolved_route import PresolvedRoute
from app.oauth.registry import GRANT_TYPES
from app.users.scopes import Scope

router = APIRouter(tags=["discovery"], route_class=PresolvedRoute)

# Keys change only with a deploy; verifiers may keep them a few minutes.
CACHEABLE: Final = {"Cache-Control": "public, max-age=300"}


@router.get("/.well-known/jwks.json", summary="The public keys that verify keygate's tokens")
async def jwks(codec: Codec) -> JSONResponse:
    return JSONResponse({"keys": codec.keys.published}, headers=CACHEABLE)


@router.get("/.well-known/oauth-authorization-server", summary="RFC 8414 metadata")
async def metadata(request: Request, settings: SettingsDep) -> JSONResponse:
    base = str(request.base_url).rstrip("/")
    body: dict[str, Any] = {
        "issuer": settings.jwt_issuer,
        "token_endpoint": f"{base}/token",
        "revocation_endpoint": f"{base}/token/revoke",
        "introspection_endpoint": f"{base}/token/introspect",
        "jwks_uri": f"{base}/.well-known/jwks.json",
        "grant_types_supported": GRANT_TYPES,
        "scopes_supported": [str(scope) for scope in Scope],
        "response_types_supported": [],
        "token_endpoint_auth_methods_supported": ["none"],
        "revocation_endpoint_auth_methods_supported": ["none"],
        "introspection_endpoint_auth_methods_supported": ["bearer"],
    }
    return JSONResponse(body, headers=CACHEABLE)
