"""Recovery tokens in PostgreSQL. Each is spent by one conditional UPDATE (unused, unexpired,
still bound to what it was issued for), so two uses of one token never both succeed."""

from datetime import UTC, datetime, timedelta

from app.core.clock import Clock
from app.core.db import Database
from app.recovery.tokens import new_token, token_digest
from app.users.model import User
from app.users.repository import USER_COLUMNS, user_from_row

RESET: str = "password_reset"
VERIFICATION: str = "email_verification"

# A reset token is bound to the password hash it replaces: once the password changes, by a
# reset, a change, an operator or SQL, every older reset link is dead.
_LIVE_RESET = (
    "t.token_digest = $1 AND t.kind = 'password_reset' AND t.used_at IS NULL"
    " AND t.expires_at > $2 AND u.id = t.user_id AND u.is_active"
    " AND t.password_digest = sha256(convert_to(u.password_hash, 'UTF8'))"
)


class RecoveryTokenRepository:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    async def issue_reset(self, user_id: int, ttl_seconds: int) -> str | None:
        """A new reset token, which makes every older one of the account dead; None when the
        account is gone or inactive."""
        token, now = new_token(), self._now()
        async with self._db.transaction() as conn:
            await conn.execute(
                "UPDATE recovery_tokens SET used_at = $2"
                " WHERE user_id = $1 AND kind = 'password_reset' AND used_at IS NULL",
                user_id,
                now,
            )
            issued = await conn.fetchval(
                "INSERT INTO recovery_tokens"
                " (token_digest, kind, user_id, password_digest, created_at, expires_at)"
                " SELECT $1, 'password_reset', id, sha256(convert_to(password_hash, 'UTF8')),"
                " $3, $4 FROM users WHERE id = $2 AND is_active RETURNING user_id",
                token_digest(token),
                user_id,
                now,
                now + timedelta(seconds=ttl_seconds),
            )
        return token if issued is not None else None

    async def issue_verification(self, user_id: int, email: str, ttl_seconds: int) -> str:
        token, now = new_token(), self._now()
        async with self._db.connection() as conn:
            await conn.execute(
                "INSERT INTO recovery_tokens"
                " (token_digest, kind, user_id, email, created_at, expires_at)"
                " VALUES ($1, 'email_verification', $2, $3, $4, $5)",
                token_digest(token),
                user_id,
                email,
                now,
                now + timedelta(seconds=ttl_seconds),
            )
        return token

    async def reset_holder(self, token: str) -> User | None:
        """The account a live reset token belongs to, without spending it."""
        async with self._db.connection() as conn:
            row = await conn.fetchrow(
                f"SELECT {_prefixed('u.')} FROM recovery_tokens t, users u WHERE {_LIVE_RESET}",
                token_digest(token),
                self._now(),
            )
        return user_from_row(row) if row else None

    async def spend_reset(self, token: str, new_hash: str) -> User | None:
        """Spends a live reset token and sets the new password hash, in one statement; None
        when the token is unknown, used, expired or superseded."""
        async with self._db.connection() as conn:
            row = await conn.fetchrow(
                "WITH spent AS (UPDATE recovery_tokens t SET used_at = $2 FROM users u"
                f" WHERE {_LIVE_RESET} RETURNING t.user_id)"
                " UPDATE users SET password_hash = $3, updated_at = now()"
                f" WHERE id = (SELECT user_id FROM spent) RETURNING {USER_COLUMNS}",
                token_digest(token),
                self._now(),
                new_hash,
            )
        return user_from_row(row) if row else None

    async def spend_verification(self, token: str) -> User | None:
        """Spends a live verification token and marks its address verified, if the account
        still has that address; None otherwise."""
        now = self._now()
        async with self._db.transaction() as conn:
            found = await conn.fetchrow(
                "UPDATE recovery_tokens t SET used_at = $2 FROM users u"
                " WHERE t.token_digest = $1 AND t.kind = 'email_verification'"
                " AND t.used_at IS NULL AND t.expires_at > $2"
                " AND u.id = t.user_id AND u.email = t.email"
                " RETURNING t.user_id, t.email",
                token_digest(token),
                now,
            )
            if found is None:
                return None
            row = await conn.fetchrow(
                "UPDATE users SET email_verified = true, updated_at = now()"
                f" WHERE id = $1 AND email = $2 RETURNING {USER_COLUMNS}",
                found["user_id"],
                found["email"],
            )
        return user_from_row(row) if row else None

    async def delete_ended(self) -> int:
        async with self._db.connection() as conn:
            result = await conn.execute(
                "DELETE FROM recovery_tokens WHERE expires_at < $1", self._now()
            )
        return int(result.split()[-1])


def _prefixed(prefix: str) -> str:
    return ", ".join(prefix + column.strip() for column in USER_COLUMNS.split(","))
