"""The Server-Timing header (W3C Server Timing) that says how a request's credentials were
checked: the one place it is formatted, for the security dependency and the token endpoint.
docs/contract.md: `auth;desc="cache"|"db";dur=<milliseconds>`."""

from app.authcache.directory import Source


def auth_timing(source: Source, duration_ms: float) -> str:
    return f'auth;desc="{source}";dur={duration_ms:.2f}'
