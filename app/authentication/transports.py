"""Transports: where a request carries its credentials. Both read the Authorization header
(RFC 6750 bearer tokens, RFC 7617 Basic); neither checks anything."""

import base64
import binascii
from typing import Final, NamedTuple

from app.core.errors import InvalidBasicCredentials

# Far above any username (50) plus any password policy allows (1,024 characters, base64'd).
MAX_BASIC_CREDENTIALS_CHARS: Final = 512


class Authorization(NamedTuple):
    """The Authorization header split into its scheme (lower-cased) and credentials. (A
    NamedTuple: see Principal.)"""

    scheme: str
    credentials: str

    @classmethod
    def parse(cls, header: str | None) -> "Authorization":
        scheme, _, credentials = (header or "").partition(" ")
        return cls(scheme.lower(), credentials.strip())


class UsernamePassword(NamedTuple):
    """(A NamedTuple: made on every Basic request; see Principal.)"""

    username: str
    password: str

    def __repr__(self) -> str:
        return f"UsernamePassword(username={self.username!r}, password=<hidden>)"


class BearerTransport:
    scheme: Final = "bearer"

    def token(self, authorization: Authorization) -> str | None:
        """The token, or None when the header carries no bearer token."""
        if authorization.scheme != self.scheme or not authorization.credentials:
            return None
        return authorization.credentials


class BasicTransport:
    scheme: Final = "basic"

    def credentials(self, authorization: Authorization) -> UsernamePassword | None:
        """The name and password, or None when the header carries no Basic credentials.
        Raises InvalidBasicCredentials when they do not decode to `name:password`."""
        if authorization.scheme != self.scheme or not authorization.credentials:
            return None
        encoded = authorization.credentials
        if len(encoded) > MAX_BASIC_CREDENTIALS_CHARS:
            raise InvalidBasicCredentials
        try:
            decoded = base64.b64decode(encoded, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
            raise InvalidBasicCredentials from exc
        username, separator, password = decoded.partition(":")
        if not separator or not username:
            raise InvalidBasicCredentials
        return UsernamePassword(username, password)
