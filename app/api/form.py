"""Reads an application/x-www-form-urlencoded body the way RFC 6749 wants it read: every
problem is an OAuth `invalid_request`, never FastAPI's 422."""

from typing import Any, Final
from urllib.parse import parse_qsl

from fastapi import Request

from app.core.errors import InvalidRequest

MAX_FORM_BYTES: Final = 8192
MAX_FORM_FIELDS: Final = 20


async def read_oauth_form(request: Request) -> dict[str, str]:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise InvalidRequest("the body must be application/x-www-form-urlencoded")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise InvalidRequest("the form is too large")
    try:
        pairs = parse_qsl(
            body.decode(),
            keep_blank_values=True,
            strict_parsing=False,
            max_num_fields=MAX_FORM_FIELDS,
        )
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidRequest("the form is not valid UTF-8 form data") from exc
    form: dict[str, str] = {}
    for name, value in pairs:
        if name in form:  # RFC 6749 §3.2: parameters MUST NOT be included more than once
            raise InvalidRequest(f"parameter '{name}' is repeated")
        form[name] = value
    return form


def form_schema(properties: dict[str, Any], required_fields: list[str]) -> dict[str, Any]:
    """The OpenAPI requestBody of a form read by hand, so /docs still shows its fields."""
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": {
                        "type": "object",
                        "properties": properties,
                        "required": required_fields,
                    }
                }
            },
        }
    }
