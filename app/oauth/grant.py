"""What every grant of /token is: a class naming its `grant_type` and the form fields it
reads, turning one request into tokens. The registry (app/oauth/registry.py) lists them."""

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar, Final

from app.core.errors import InvalidRequest, InvalidScope
from app.login.request_origin import RequestOrigin
from app.oauth.issuer import GrantServices, IssuedTokens
from app.users.scopes import Scope, parse_scope_param

KNOWN_SCOPES: Final = frozenset(Scope)


def required(form: Mapping[str, str], name: str) -> str:
    """A parameter the request must carry: missing or empty is invalid_request."""
    value = form.get(name)
    if not value:
        raise InvalidRequest(f"missing parameter '{name}'")
    return value


@dataclass(frozen=True, slots=True)
class GrantRequest:
    """One token request: its form (with `device_token` from the cookie when the form had
    none) and where it came from."""

    form: Mapping[str, str]
    origin: RequestOrigin

    def required(self, name: str) -> str:
        return required(self.form, name)

    def optional(self, name: str) -> str | None:
        return self.form.get(name) or None

    @property
    def scope(self) -> frozenset[str] | None:
        """The requested scopes (None: all the user holds); unknown names are invalid_scope."""
        requested = parse_scope_param(self.form.get("scope"))
        if requested is not None and not requested <= KNOWN_SCOPES:
            raise InvalidScope("unknown scope: " + " ".join(sorted(requested - KNOWN_SCOPES)))
        return requested


class Grant(ABC):
    grant_type: ClassVar[str]
    # Public text for /docs: what the grant does, and each form field it reads.
    summary: ClassVar[str]
    fields: ClassVar[Mapping[str, str]]

    def __init__(self, services: GrantServices) -> None:
        self.services = services

    @abstractmethod
    async def issue(self, request: GrantRequest) -> IssuedTokens:
        """Tokens for this request, or a domain error that /token renders as RFC 6749."""
