"""A message ready to go, and what a transport may answer (docs/contract.md, Account recovery)."""

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Message:
    recipient: str
    subject: str
    body: str
    # The link the message carries, if any: the development log shows it on its own.
    link: str | None = None


class DeliveryFailed(Exception):
    """The mail server did not take the message. `reason` is written to the outbox and the
    log: it never holds the message's body (and so never its link)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TemporaryFailure(DeliveryFailed):
    """Unreachable, timed out or a 4xx answer: the message is tried again later."""


class PermanentFailure(DeliveryFailed):
    """A 5xx answer: the message is recorded as failed and not tried again."""
