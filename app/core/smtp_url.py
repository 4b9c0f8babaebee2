"""SMTP_URL, read without connecting (docs/contract.md, Account recovery)."""

from dataclasses import dataclass
from typing import Final
from urllib.parse import unquote, urlsplit

SMTP_PORT: Final = 25
SMTPS_PORT: Final = 465


@dataclass(frozen=True, slots=True)
class SmtpServer:
    host: str
    port: int
    # smtps://: TLS from the first byte; smtp://: STARTTLS when the server offers it.
    implicit_tls: bool
    username: str | None
    password: str | None

    def __repr__(self) -> str:  # never the password, wherever the object is printed
        return f"SmtpServer({self.host!r}, {self.port}, implicit_tls={self.implicit_tls})"


def parse_smtp_url(url: str) -> SmtpServer:
    """A malformed URL raises ValueError saying what is wrong, never echoing the URL (it may
    hold a password)."""
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps"):
        raise ValueError("SMTP_URL must start with smtp:// or smtps://")
    if not parts.hostname:
        raise ValueError("SMTP_URL names no host")
    try:
        port = parts.port
    except ValueError:
        raise ValueError("SMTP_URL has a port that is not a number from 0 to 65535") from None
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError("SMTP_URL takes no path, query or fragment")
    implicit_tls = parts.scheme == "smtps"
    return SmtpServer(
        host=parts.hostname,
        port=port or (SMTPS_PORT if implicit_tls else SMTP_PORT),
        implicit_tls=implicit_tls,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
    )
