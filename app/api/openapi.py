"""The OpenAPI schema, with the errors every authenticated operation can answer documented
once for all of them (docs/contract.md, Authentication of requests)."""

from typing import Any, Final

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

DETAIL_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "properties": {"detail": {}},
    "required": ["detail"],
}
AUTH_ERRORS: Final = {
    "401": "Missing, malformed, expired, revoked or wrongly signed credentials"
    ' (WWW-Authenticate: Bearer error="invalid_token")',
    "403": "The token lacks a scope this operation needs (WWW-Authenticate: Bearer error="
    '"insufficient_scope")',
    "429": "Too many failed HTTP Basic attempts (Retry-After)",
    "503": "The credentials cannot be checked right now (Retry-After)",
}


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            for path in schema.get("paths", {}).values():
                for operation in path.values():
                    if operation.get("security"):
                        _document_auth_errors(operation)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _document_auth_errors(operation: dict[str, Any]) -> None:
    responses = operation.setdefault("responses", {})
    for status, description in AUTH_ERRORS.items():
        responses.setdefault(
            status,
            {
                "description": description,
                "content": {"application/json": {"schema": DETAIL_SCHEMA}},
            },
        )
