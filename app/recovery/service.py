"""Account recovery (docs/contract.md, Account recovery): reset and verification requests,
their confirmation, and what each queued entry becomes when the sender takes it.

A reset request does the same work whoever it names: it is counted in its address's window
and queued as a request; the sender resolves it to the accounts it names, counts each in that
account's window and makes each message's token only when it sends it, so no usable token
ever rests in the outbox."""

import logging
import unicodedata
from dataclasses import dataclass
from typing import Final

from app.accounts.service import AccountService
from app.authcache.directory import AuthDirectory
from app.core.client_address import address_bucket
from app.core.errors import Conflict, Rejected, TooManyAttempts
from app.core.redis import CacheUnavailable
from app.login.keys import recovery_messages_to_account_key, recovery_requests_from_address_key
from app.login.throttle import LoginThrottle
from app.login.window import Window
from app.login.windows import SlidingWindows
from app.mail.message import Message
from app.mail.outbox import MailKind, MailOutbox, NewEntry, OutboxEntry
from app.recovery.messages import (
    RESET_PATH,
    VERIFY_PATH,
    address_changed_message,
    link,
    reset_message,
    verification_message,
)
from app.recovery.repository import RecoveryTokenRepository
from app.recovery.tokens import MAX_TOKEN_CHARS
from app.users.password_policy import check_password
from app.users.passwords import PasswordHasher
from app.users.repository import UserRepository

log = logging.getLogger(__name__)

BY_USERNAME: Final = "username:"
BY_EMAIL: Final = "email:"
TOO_MANY_REQUESTS: Final = "too many recovery requests from this address; try again later"
# How long sent, failed and resolved outbox entries are kept for operators to look at.
FINISHED_MAIL_KEPT_SECONDS: Final = 7 * 24 * 3600


class InvalidRecoveryToken(Rejected):
    message = "the link is unknown, used, expired or superseded: ask for a new one"


class NoAddress(Conflict):
    message = "the account has no email address"


class AlreadyVerified(Conflict):
    message = "the email address is already verified"


@dataclass(frozen=True, slots=True)
class RecoveryLimits:
    public_url: str
    reset_ttl_seconds: int
    verification_ttl_seconds: int
    max_per_address: int
    max_per_account: int
    window_seconds: int


class RecoveryService:
    def __init__(
        self,
        *,
        users: UserRepository,
        tokens: RecoveryTokenRepository,
        outbox: MailOutbox,
        windows: SlidingWindows,
        hasher: PasswordHasher,
        accounts: AccountService,
        throttle: LoginThrottle,
        directory: AuthDirectory,
        limits: RecoveryLimits,
    ) -> None:
        self._users = users
        self._tokens = tokens
        self._outbox = outbox
        self._windows = windows
        self._hasher = hasher
        self._accounts = accounts
        self._throttle = throttle
        self._directory = directory
        self._limits = limits

    async def request_reset(
        self, *, username: str | None, email: str | None, ip: str | None
    ) -> None:
        """Queues a reset request for whatever account it names, if any: the caller learns
        nothing, and waits for neither the lookup nor the mail server."""
        self._outbox.require_enabled()
        await self._count_request_from(ip)
        # A name is looked up as logins look it up: NFKC first (app/core/text.py).
        lookup = (
            BY_USERNAME + unicodedata.normalize("NFKC", username)
            if username is not None
            else BY_EMAIL + (email or "")
        )
        await self._outbox.add(NewEntry(MailKind.PASSWORD_RESET_REQUEST, lookup=lookup))

    async def confirm_reset(self, token: str, new_password: str) -> None:
        """Sets the new password (the policy applies, and a refusal leaves the link usable),
        ends every session, refuses the old password at once everywhere and clears the
        account's login throttling. TOTP stays as it was."""
        holder = await self._tokens.reset_holder(token) if len(token) <= MAX_TOKEN_CHARS else None
        if holder is None:
            raise InvalidRecoveryToken
        check_password(new_password, holder.username, field="new_password")
        updated = await self._tokens.spend_reset(token, await self._hasher.hash(new_password))
        if updated is None:  # spent or superseded meanwhile
            raise InvalidRecoveryToken
        await self._accounts.password_was_reset(updated)
        try:
            await self._throttle.unlock(updated.id)
        except CacheUnavailable:
            log.warning("password reset of user %d: login throttling not cleared", updated.id)

    async def request_verification(self, user_id: int, ip: str | None) -> None:
        self._outbox.require_enabled()
        user = await self._users.get(user_id)
        if user is None or user.email is None:
            raise NoAddress
        if user.email_verified:
            raise AlreadyVerified
        await self._count_request_from(ip)
        if await self._account_has_room(user.id):
            await self._outbox.add(
                NewEntry(MailKind.EMAIL_VERIFICATION, user_id=user.id, recipient=user.email)
            )

    async def confirm_verification(self, token: str) -> None:
        updated = (
            await self._tokens.spend_verification(token) if len(token) <= MAX_TOKEN_CHARS else None
        )
        if updated is None:
            raise InvalidRecoveryToken
        await self._directory.publish_user(updated)

    async def reset_link(self, user_id: int) -> str | None:
        """A reset link for an operator to hand over by other means; it makes older links
        dead like any newer link. None when the account is inactive."""
        token = await self._tokens.issue_reset(user_id, self._limits.reset_ttl_seconds)
        return link(self._limits.public_url, RESET_PATH, token) if token else None

    async def delete_ended(self) -> None:
        await self._tokens.delete_ended()
        await self._outbox.delete_finished(FINISHED_MAIL_KEPT_SECONDS)

    async def compose(self, entry: OutboxEntry) -> Message | None:
        """What the sender sends for an entry: None when there is nothing (any more) to send."""
        if entry.kind is MailKind.PASSWORD_RESET_REQUEST:
            await self._resolve_reset_request(entry)
            return None
        user = await self._users.get(entry.user_id) if entry.user_id is not None else None
        if user is None or entry.recipient is None:
            return None
        limits = self._limits
        if entry.kind is MailKind.EMAIL_CHANGED:
            return address_changed_message(entry.recipient, user.username)
        if user.email != entry.recipient:  # the address changed since: not this one's link
            return None
        if entry.kind is MailKind.PASSWORD_RESET:
            token = await self._tokens.issue_reset(user.id, limits.reset_ttl_seconds)
            if token is None:
                return None
            url = link(limits.public_url, RESET_PATH, token)
            return reset_message(entry.recipient, user.username, url, limits.reset_ttl_seconds)
        if user.email_verified:
            return None
        token = await self._tokens.issue_verification(
            user.id, entry.recipient, limits.verification_ttl_seconds
        )
        url = link(limits.public_url, VERIFY_PATH, token)
        return verification_message(
            entry.recipient, user.username, url, limits.verification_ttl_seconds
        )

    async def _resolve_reset_request(self, entry: OutboxEntry) -> None:
        lookup = entry.lookup or ""
        by_username = lookup.startswith(BY_USERNAME)
        name = lookup.removeprefix(BY_USERNAME if by_username else BY_EMAIL)
        accounts = await self._users.recovery_accounts(
            username=name if by_username else None, email=None if by_username else name
        )
        messages = [
            NewEntry(MailKind.PASSWORD_RESET, user_id=user.id, recipient=user.email)
            for user in accounts
            if await self._account_has_room(user.id)
        ]
        await self._outbox.resolve(entry.id, messages)

    async def _count_request_from(self, ip: str | None) -> None:
        """RECOVERY_MAX_PER_ADDRESS per window, then TooManyAttempts (429)."""
        limits = self._limits
        key = recovery_requests_from_address_key(address_bucket(ip))
        try:
            await self._windows.take([Window(key, limits.max_per_address, limits.window_seconds)])
        except TooManyAttempts as exc:
            raise TooManyAttempts(exc.retry_after_seconds, TOO_MANY_REQUESTS) from None

    async def _account_has_room(self, user_id: int) -> bool:
        """RECOVERY_MAX_PER_ACCOUNT messages per window; past it nothing more is sent."""
        limits = self._limits
        key = recovery_messages_to_account_key(user_id)
        try:
            await self._windows.take([Window(key, limits.max_per_account, limits.window_seconds)])
        except TooManyAttempts:
            return False
        return True
