"""Where a request came from, as the services want it."""

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RequestOrigin:
    """The client's address (throttling counts by it) and user agent (sessions show it to
    their user)."""

    ip: str | None
    user_agent: str | None
