"""THE list of grants /token accepts. Adding a grant is one Grant class and one line here:
the token endpoint, its OpenAPI enum and fields, and the discovery document's
grant_types_supported all read this list."""

from collections.abc import Mapping
from typing import Final

from app.core.errors import UnsupportedGrantType
from app.oauth.grant import Grant, GrantRequest
from app.oauth.issuer import GrantServices, IssuedTokens
from app.oauth.mfa_otp_grant import MfaOtpGrant
from app.oauth.password_grant import PasswordGrant
from app.oauth.refresh_token_grant import RefreshTokenGrant

GRANTS: Final[tuple[type[Grant], ...]] = (PasswordGrant, RefreshTokenGrant, MfaOtpGrant)
GRANT_TYPES: Final = [grant.grant_type for grant in GRANTS]


def grant_fields() -> dict[str, str]:
    """Every form field a grant reads, with what it is for (fields several grants share
    list each use)."""
    fields: dict[str, str] = {}
    for grant in GRANTS:
        for name, description in grant.fields.items():
            fields[name] = f"{fields[name]}; {description}" if name in fields else description
    return fields


class GrantRegistry:
    def __init__(self, services: GrantServices) -> None:
        self._grants: Mapping[str, Grant] = {g.grant_type: g(services) for g in GRANTS}

    async def issue(self, request: GrantRequest) -> IssuedTokens:
        grant_type = request.required("grant_type")
        grant = self._grants.get(grant_type)
        if grant is None:
            raise UnsupportedGrantType(f"grant_type '{grant_type[:40]}' is not supported")
        return await grant.issue(request)
