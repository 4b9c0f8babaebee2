"""Development without SMTP_URL: each message is written to the log instead of being sent, one
record with its recipient, subject and link, so the quick start needs no mail server. This is
the one place a link's token is ever logged (docs/contract.md, Account recovery)."""

import logging

from app.mail.message import Message

log = logging.getLogger(__name__)


class DevelopmentLogTransport:
    async def deliver(self, message: Message) -> None:
        log.info(
            "mail to %s (no SMTP_URL, so it is logged, not sent): %s: %s",
            message.recipient,
            message.subject,
            message.link or "(no link)",
        )
