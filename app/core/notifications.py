"""The worker's one LISTEN connection, shared by everything that must hear of changes
committed to PostgreSQL (NOTIFY).

A subscriber is called on every notification of its channel and on every (re)connect: what
was notified while this worker did not listen is lost, so after a reconnect anything may have
changed. Subscribers are plain functions, called on the event loop: they note the change
(clear a cache, set an event) and return.

`caught_up()` turns "told soon after the commit" into "told before the next request": it
waits for one round trip on the LISTEN connection. A committing backend signals the
listening backends before its COMMIT returns, and a backend sends the notifications it was
signalled about before it answers anything else; the answer then arrives after them on the
same connection. So once the round trip is back, every change committed before `caught_up()`
was called has reached its subscribers."""

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Final

import asyncpg

from app.core.db import CONNECT_TIMEOUT_SECONDS, CONNECTION_ERRORS, connect_each_host

log = logging.getLogger(__name__)

RECONNECT_SECONDS: Final = 1.0
# A read that waits this long for the round trip and then goes to PostgreSQL still has its
# answer, or its 503, within the 2 s of docs/contract.md (OPERATION_SECONDS after this).
CATCH_UP_TIMEOUT_SECONDS: Final = 0.25

Subscriber = Callable[[], None]


class Notifications:
    def __init__(self, database_url: str) -> None:
        self._database_url = database_url
        self._subscribers: dict[str, list[Subscriber]] = {}
        self._connection: asyncpg.Connection[asyncpg.Record] | None = None
        # Callers waiting for a round trip that has not been sent yet, and the task sending
        # round trips while there are such callers.
        self._next_round_trip: asyncio.Future[bool] | None = None
        self._round_trips: asyncio.Task[None] | None = None

    def subscribe(self, channel: str, subscriber: Subscriber) -> None:
        """Before `run_forever`: it LISTENs on the channels subscribed when it connects."""
        self._subscribers.setdefault(channel, []).append(subscriber)

    @property
    def is_listening(self) -> bool:
        return self._connection is not None and not self._connection.is_closed()

    async def run_forever(self) -> None:
        while True:
            with contextlib.suppress(*CONNECTION_ERRORS, asyncpg.PostgresError):
                await self._listen()
            await asyncio.sleep(RECONNECT_SECONDS)

    async def caught_up(self) -> bool:
        """True once every notification committed before this call has reached its
        subscribers; False when this worker is not listening, or the round trip failed or
        took CATCH_UP_TIMEOUT_SECONDS (the connection is then dropped and taken up again)."""
        if not self.is_listening:
            return False
        # Concurrent callers share one round trip, but only one sent after they called: a
        # round trip already on its way may have left before a change they must see.
        if self._next_round_trip is None:
            self._next_round_trip = asyncio.get_running_loop().create_future()
            if self._round_trips is None or self._round_trips.done():
                self._round_trips = asyncio.create_task(self._send_round_trips())
        # Shielded: a caller that is cancelled must not cancel the others' answer.
        return await asyncio.shield(self._next_round_trip)

    async def _listen(self) -> None:
        conn = await connect_each_host(self._database_url, timeout=CONNECT_TIMEOUT_SECONDS)
        closed = asyncio.Event()
        conn.add_termination_listener(lambda _: closed.set())  # lost, or terminated here
        try:
            for channel in self._subscribers:
                await conn.add_listener(channel, self._on_notification)
            self._connection = conn
            self._tell_every_subscriber()  # of whatever was notified while nobody listened
            await closed.wait()
        finally:
            self._connection = None
            with contextlib.suppress(*CONNECTION_ERRORS, asyncpg.PostgresError):
                await asyncio.wait_for(conn.close(), CONNECT_TIMEOUT_SECONDS)

    def _on_notification(self, _conn: object, _pid: int, channel: str, _payload: object) -> None:
        for subscriber in self._subscribers.get(channel, ()):
            subscriber()

    def _tell_every_subscriber(self) -> None:
        for subscribers in self._subscribers.values():
            for subscriber in subscribers:
                subscriber()

    async def _send_round_trips(self) -> None:
        while (waiting := self._next_round_trip) is not None:
            self._next_round_trip = None
            caught_up = False
            try:
                caught_up = await self._round_trip()
            finally:  # whatever happens, the callers are answered (False: read PostgreSQL)
                waiting.set_result(caught_up)

    async def _round_trip(self) -> bool:
        conn = self._connection
        if conn is None or conn.is_closed():
            return False
        try:
            # Close of the unnamed portal (there is none between operations) and Sync:
            # PostgreSQL answers without running a statement or starting a transaction.
            # asyncpg has no public call for it (`execute("")` fails on the empty answer, and
            # any statement would be a transaction on every warm read).
            await conn._protocol.close_portal("", CATCH_UP_TIMEOUT_SECONDS)  # type: ignore[attr-defined]
        except (*CONNECTION_ERRORS, asyncpg.PostgresError) as exc:
            if not conn.is_closed():
                log.warning(
                    "LISTEN connection not answering (%s); reconnecting", type(exc).__name__
                )
                conn.terminate()
            return False
        # asyncpg hands each notification to the loop (call_soon) as it reads it, before it
        # wakes this task with the answer that followed: the subscribers have run.
        return True
