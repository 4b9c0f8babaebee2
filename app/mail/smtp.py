"""Delivery over SMTP with aiosmtplib: smtp:// upgrades with STARTTLS when the server offers
it, smtps:// speaks TLS from the first byte (docs/contract.md, Account recovery)."""

from email.message import EmailMessage
from typing import Final

import aiosmtplib

from app.core.smtp_url import SmtpServer
from app.mail.message import Message, PermanentFailure, TemporaryFailure

SMTP_TIMEOUT_SECONDS: Final = 30.0


def _email(message: Message, sender: str) -> EmailMessage:
    email = EmailMessage()
    email["From"] = sender
    email["To"] = message.recipient
    email["Subject"] = message.subject
    email.set_content(message.body)
    return email


def _is_permanent(code: int) -> bool:
    return 500 <= code < 600


class SmtpTransport:
    def __init__(self, server: SmtpServer, sender: str) -> None:
        self._server = server
        self._sender = sender

    async def deliver(self, message: Message) -> None:
        server = self._server
        try:
            await aiosmtplib.send(
                _email(message, self._sender),
                hostname=server.host,
                port=server.port,
                username=server.username,
                password=server.password,
                use_tls=server.implicit_tls,
                # None: STARTTLS when the server offers it (never with implicit TLS).
                start_tls=False if server.implicit_tls else None,
                timeout=SMTP_TIMEOUT_SECONDS,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [refused.code for refused in exc.recipients]
            reason = "recipient refused: " + ", ".join(str(code) for code in codes)
            if all(_is_permanent(code) for code in codes):
                raise PermanentFailure(reason) from None
            raise TemporaryFailure(reason) from None
        except aiosmtplib.SMTPAuthenticationError as exc:
            # A wrong login is the operator's to fix; the message waits for the fix.
            raise TemporaryFailure(f"authentication refused: {exc.code}") from None
        except aiosmtplib.SMTPResponseException as exc:
            reason = f"server answered {exc.code}"
            if _is_permanent(exc.code):
                raise PermanentFailure(reason) from None
            raise TemporaryFailure(reason) from None
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise TemporaryFailure(f"mail server unreachable: {type(exc).__name__}") from None
