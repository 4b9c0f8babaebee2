"""Changes of sessions, told to whoever keeps a copy of their state (the auth cache listens).
The sessions layer publishes; it never reaches up into its listeners' packages."""

from collections.abc import Awaitable, Callable

from app.sessions.state import SessionState

SessionsChanged = Callable[[list[SessionState]], Awaitable[None]]


class SessionEvents:
    def __init__(self) -> None:
        self._changed: list[SessionsChanged] = []
        self._started_offline: list[Callable[[SessionState], Awaitable[None]]] = []

    def on_change(self, listener: SessionsChanged) -> None:
        """`listener` gets the state of sessions that started, rotated or ended, after
        PostgreSQL committed it."""
        self._changed.append(listener)

    def on_start_without_database(
        self, listener: Callable[[SessionState], Awaitable[None]]
    ) -> None:
        """`listener` gets a session started while PostgreSQL was away; it raises
        CacheUnavailable when it cannot keep it (the login then fails)."""
        self._started_offline.append(listener)

    async def changed(self, states: list[SessionState]) -> None:
        if states:
            for listener in self._changed:
                await listener(states)

    async def started_without_database(self, state: SessionState) -> None:
        for listener in self._started_offline:
            await listener(state)
