"""What a throttling window is and what an attempt holds in its windows."""

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Window:
    """At most `limit` attempts within `seconds`, counted under `key`."""

    key: str
    limit: int
    seconds: int


@dataclass(frozen=True, slots=True)
class Places:
    """One attempt's places in its windows: given back if it succeeds, settled as a failure
    if it fails."""

    windows: tuple[Window, ...]
    at: float
    member: str
    in_database: bool
