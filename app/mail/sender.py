"""The background sender every worker runs: claims due outbox entries, turns each into a
message (the `compose` function the recovery layer gives it), hands it to the transport and
records the outcome. Unreachable servers and temporary (4xx) refusals are retried with
backoff, at least once a minute; a permanent (5xx) refusal is recorded and not retried."""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Final, Protocol

from app.core.errors import DatabaseUnavailable
from app.mail.message import Message, PermanentFailure, TemporaryFailure
from app.mail.outbox import MailOutbox, OutboxEntry
from app.ops.metrics import Metrics

log = logging.getLogger(__name__)

BATCH_SIZE: Final = 10
# While anything waits, due entries are looked for every second; with an empty outbox once a
# minute (mail queued by this worker wakes it at once), so an idle worker leaves PostgreSQL
# alone, and mail left by a worker that died is still picked up within a minute.
BUSY_POLL_SECONDS: Final = 1.0
IDLE_POLL_SECONDS: Final = 60.0
MAX_BACKOFF_SECONDS: Final = 60.0

# Turns an outbox entry into a message, or None when there is nothing to send (a request
# that was resolved into other entries, or whose account is gone).
Compose = Callable[[OutboxEntry], Awaitable[Message | None]]


class Transport(Protocol):
    async def deliver(self, message: Message) -> None: ...


def backoff_seconds(attempts: int) -> float:
    """2, 4, 8 ... seconds after each failed attempt, never more than a minute."""
    return float(min(MAX_BACKOFF_SECONDS, 2.0 ** min(attempts, 16)))


class MailSender:
    def __init__(
        self,
        *,
        outbox: MailOutbox,
        transport: Transport,
        compose: Compose,
        metrics: Metrics,
    ) -> None:
        self._outbox = outbox
        self._transport = transport
        self._compose = compose
        self._metrics = metrics

    async def run_forever(self) -> None:
        while True:
            # Cleared before looking, so mail queued while this cycle runs wakes the next.
            self._outbox.queued.clear()
            pause = BUSY_POLL_SECONDS
            try:
                if await self.send_due():
                    continue
                waiting = await self._outbox.count_waiting()
                self._metrics.mail_waiting.set(waiting.messages)
                if waiting.entries == 0:
                    pause = IDLE_POLL_SECONDS
            except DatabaseUnavailable:
                log.warning("mail sender: database unavailable; trying again")
            except Exception:  # one odd failure must not stop this worker's mail for good
                log.exception("mail sender failed; trying again")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._outbox.queued.wait(), pause)

    async def send_due(self) -> int:
        """Sends what is due now; returns how many entries it handled."""
        entries = await self._outbox.claim(BATCH_SIZE)
        await asyncio.gather(*(self._handle(entry) for entry in entries))
        return len(entries)

    async def _handle(self, entry: OutboxEntry) -> None:
        try:
            message = await self._compose(entry)
        except DatabaseUnavailable:
            return  # the claim lapses and the entry is due again
        if message is None:
            await self._outbox.finish(entry.id, "done")
            return
        try:
            await self._transport.deliver(message)
        except PermanentFailure as failure:
            log.warning("mail %d refused for good: %s", entry.id, failure.reason)
            await self._outbox.finish(entry.id, "failed", failure.reason)
            self._metrics.mail_failed.inc()
        except TemporaryFailure as failure:
            delay = backoff_seconds(entry.attempts)
            log.warning("mail %d not sent (%s); next try in %gs", entry.id, failure.reason, delay)
            await self._outbox.retry_later(entry.id, delay, failure.reason)
        else:
            await self._outbox.finish(entry.id, "sent")
            self._metrics.mail_sent.inc()
