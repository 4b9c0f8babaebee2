"""The mail outbox in PostgreSQL: a request that was answered 202 has its row here before the
answer goes out, and stays until the sender records it sent or failed. Each row is claimed by
one sender at a time (FOR UPDATE SKIP LOCKED, in a statement of its own), and the claim is a
lease: a sender that dies mid-send leaves the row due again when the lease ends."""

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Final

from app.core.clock import Clock
from app.core.db import Database
from app.core.errors import Unavailable

# Longer than an SMTP exchange may take (SMTP_TIMEOUT_SECONDS in app/mail/smtp.py).
LEASE_SECONDS: Final = 60


class MailKind(StrEnum):
    # Resolved by the sender to one PASSWORD_RESET per matching account.
    PASSWORD_RESET_REQUEST = "password_reset_request"  # noqa: S105 (a kind, not a password)
    PASSWORD_RESET = "password_reset"  # noqa: S105
    EMAIL_VERIFICATION = "email_verification"
    EMAIL_CHANGED = "email_changed"


class MailDisabled(Unavailable):
    """Production without SMTP_URL: nothing can be sent, so nothing is accepted."""

    message = "this service sends no mail: its operator has not configured a mail server"
    retry_after_seconds = 3600


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    id: int
    kind: MailKind
    user_id: int | None
    recipient: str | None
    lookup: str | None
    attempts: int


@dataclass(frozen=True, slots=True)
class Waiting:
    entries: int
    # Messages accepted and not yet sent or failed (reset requests not yet resolved aside).
    messages: int


@dataclass(frozen=True, slots=True)
class NewEntry:
    kind: MailKind
    user_id: int | None = None
    recipient: str | None = None
    lookup: str | None = None


class MailOutbox:
    def __init__(self, db: Database, clock: Clock, *, is_enabled: bool) -> None:
        self._db = db
        self._clock = clock
        self.is_enabled = is_enabled
        # Set when this process queues mail, so its sender starts at once instead of at its
        # next poll.
        self.queued = asyncio.Event()

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    def require_enabled(self) -> None:
        if not self.is_enabled:
            raise MailDisabled

    async def add(self, entry: NewEntry) -> None:
        """Queues one entry; MailDisabled (and nothing queued) when mail is off."""
        await self.add_many([entry])

    async def add_many(self, entries: Sequence[NewEntry]) -> None:
        self.require_enabled()
        if not entries:
            return
        now = self._now()
        async with self._db.connection() as conn:
            await conn.executemany(
                "INSERT INTO mail_outbox"
                " (kind, user_id, recipient, lookup, next_attempt_at, created_at)"
                " VALUES ($1, $2, $3, $4, $5, $5)",
                [(e.kind.value, e.user_id, e.recipient, e.lookup, now) for e in entries],
            )
        self.queued.set()

    async def claim(self, limit: int) -> list[OutboxEntry]:
        """Takes up to `limit` due entries for one sender, for LEASE_SECONDS."""
        now = self._now()
        async with self._db.connection() as conn:
            rows = await conn.fetch(
                "UPDATE mail_outbox SET attempts = attempts + 1, next_attempt_at = $2"
                " WHERE id IN (SELECT id FROM mail_outbox"
                "  WHERE status = 'waiting' AND next_attempt_at <= $1"
                "  ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED)"
                " RETURNING id, kind, user_id, recipient, lookup, attempts",
                now,
                now + timedelta(seconds=LEASE_SECONDS),
                limit,
            )
        return [
            OutboxEntry(
                id=r["id"],
                kind=MailKind(r["kind"]),
                user_id=r["user_id"],
                recipient=r["recipient"],
                lookup=r["lookup"],
                attempts=r["attempts"],
            )
            for r in rows
        ]

    async def resolve(self, request_id: int, entries: Sequence[NewEntry]) -> None:
        """Replaces a request by the messages it resolved to, in one transaction: a request is
        resolved once even if its sender dies halfway."""
        now = self._now()
        async with self._db.transaction() as conn:
            finished = await conn.fetchval(
                "UPDATE mail_outbox SET status = 'done', finished_at = $2"
                " WHERE id = $1 AND status = 'waiting' RETURNING id",
                request_id,
                now,
            )
            if finished is not None and entries:
                await conn.executemany(
                    "INSERT INTO mail_outbox"
                    " (kind, user_id, recipient, lookup, next_attempt_at, created_at)"
                    " VALUES ($1, $2, $3, $4, $5, $5)",
                    [(e.kind.value, e.user_id, e.recipient, e.lookup, now) for e in entries],
                )
        if entries:
            self.queued.set()

    async def finish(self, entry_id: int, status: str, error: str | None = None) -> None:
        """Records an entry as sent, failed (permanently) or done (nothing to send)."""
        async with self._db.connection() as conn:
            await conn.execute(
                "UPDATE mail_outbox SET status = $2, finished_at = $3, last_error = $4"
                " WHERE id = $1",
                entry_id,
                status,
                self._now(),
                error,
            )

    async def retry_later(self, entry_id: int, delay_seconds: float, error: str) -> None:
        async with self._db.connection() as conn:
            await conn.execute(
                "UPDATE mail_outbox SET next_attempt_at = $2, last_error = $3 WHERE id = $1",
                entry_id,
                self._now() + timedelta(seconds=delay_seconds),
                error,
            )

    async def count_waiting(self) -> "Waiting":
        async with self._db.connection() as conn:
            row = await conn.fetchrow(
                "SELECT count(*) AS entries, count(*) FILTER (WHERE kind <> $1) AS messages"
                " FROM mail_outbox WHERE status = 'waiting'",
                MailKind.PASSWORD_RESET_REQUEST.value,
            )
        assert row is not None  # noqa: S101 (an aggregate always has its one row)
        return Waiting(entries=row["entries"], messages=row["messages"])

    async def delete_finished(self, older_than_seconds: int) -> int:
        """Sent, failed and resolved entries are kept a while for operators, then dropped."""
        cutoff = self._now() - timedelta(seconds=older_than_seconds)
        async with self._db.connection() as conn:
            result = await conn.execute(
                "DELETE FROM mail_outbox WHERE status <> 'waiting' AND finished_at < $1", cutoff
            )
        return int(result.split()[-1])
