"""TOTP state, recovery codes and MFA challenges in PostgreSQL."""

from dataclasses import dataclass
from datetime import datetime

from app.core.db import Database
from app.users.model import User
from app.users.repository import USER_COLUMNS, user_from_row


@dataclass(frozen=True, slots=True)
class Challenge:
    user_id: int
    scope: str


class TotpRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def set_pending_secret(self, user_id: int, encrypted: str) -> bool:
        """Starts or restarts enrolment; False when TOTP is already on."""
        async with self._db.connection() as conn:
            status: str = await conn.execute(
                "UPDATE users SET totp_pending_secret_encrypted = $2, updated_at = now()"
                " WHERE id = $1 AND NOT totp_enabled",
                user_id,
                encrypted,
            )
        return status == "UPDATE 1"

    async def pending_secret(self, user_id: int) -> str | None:
        async with self._db.connection() as conn:
            pending: str | None = await conn.fetchval(
                "SELECT totp_pending_secret_encrypted FROM users"
                " WHERE id = $1 AND NOT totp_enabled",
                user_id,
            )
        return pending

    async def enable(
        self, user_id: int, *, encrypted: str, step: int, recovery_code_hashes: list[bytes]
    ) -> User | None:
        async with self._db.transaction() as conn:
            row = await conn.fetchrow(
                "UPDATE users SET totp_enabled = true, totp_secret_encrypted = $2,"
                " totp_pending_secret_encrypted = NULL, totp_last_step = $3, updated_at = now()"
                " WHERE id = $1 AND NOT totp_enabled AND totp_pending_secret_encrypted = $2"
                f" RETURNING {USER_COLUMNS}",
                user_id,
                encrypted,
                step,
            )
            if row is None:
                return None
            await conn.execute("DELETE FROM totp_recovery_codes WHERE user_id = $1", user_id)
            await conn.executemany(
                "INSERT INTO totp_recovery_codes (user_id, code_hash) VALUES ($1, $2)",
                [(user_id, code_hash) for code_hash in recovery_code_hashes],
            )
        return user_from_row(row)

    async def disable(self, user_id: int) -> User | None:
        async with self._db.transaction() as conn:
            row = await conn.fetchrow(
                "UPDATE users SET totp_enabled = false, totp_secret_encrypted = NULL,"
                " totp_pending_secret_encrypted = NULL, totp_last_step = NULL,"
                f" updated_at = now() WHERE id = $1 RETURNING {USER_COLUMNS}",
                user_id,
            )
            await conn.execute("DELETE FROM totp_recovery_codes WHERE user_id = $1", user_id)
        return user_from_row(row) if row else None

    async def claim_step(self, user_id: int, step: int) -> bool:
        """Single use of a time step: true only for a step later than any used before."""
        async with self._db.connection() as conn:
            status: str = await conn.execute(
                "UPDATE users SET totp_last_step = $2"
                " WHERE id = $1 AND (totp_last_step IS NULL OR totp_last_step < $2)",
                user_id,
                step,
            )
        return status == "UPDATE 1"

    async def use_recovery_code(self, user_id: int, code_hash: bytes) -> bool:
        async with self._db.connection() as conn:
            status: str = await conn.execute(
                "UPDATE totp_recovery_codes SET used_at = now()"
                " WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL",
                user_id,
                code_hash,
            )
        return status == "UPDATE 1"

    async def create_challenge(
        self, *, token_hash: bytes, user_id: int, scope: str, expires_at: datetime
    ) -> None:
        async with self._db.connection() as conn:
            await conn.execute(
                "INSERT INTO mfa_challenges (token_hash, user_id, scope, expires_at)"
                " VALUES ($1, $2, $3, $4)",
                token_hash,
                user_id,
                scope,
                expires_at,
            )

    async def live_challenge(
        self, token_hash: bytes, *, now: datetime, max_failures: int
    ) -> Challenge | None:
        async with self._db.connection() as conn:
            row = await conn.fetchrow(
                "SELECT user_id, scope FROM mfa_challenges WHERE token_hash = $1"
                " AND used_at IS NULL AND expires_at > $2 AND failures < $3",
                token_hash,
                now,
                max_failures,
            )
        return Challenge(row["user_id"], row["scope"]) if row else None

    async def fail_challenge(self, token_hash: bytes) -> None:
        async with self._db.connection() as conn:
            await conn.execute(
                "UPDATE mfa_challenges SET failures = failures + 1 WHERE token_hash = $1",
                token_hash,
            )

    async def consume_challenge(
        self, token_hash: bytes, *, now: datetime, max_failures: int
    ) -> bool:
        """Single use by a conditional update: of two concurrent exchanges only one wins."""
        async with self._db.connection() as conn:
            status: str = await conn.execute(
                "UPDATE mfa_challenges SET used_at = $2 WHERE token_hash = $1"
                " AND used_at IS NULL AND expires_at > $2 AND failures < $3",
                token_hash,
                now,
                max_failures,
            )
        return status == "UPDATE 1"

    async def delete_ended_challenges(self, *, before: datetime) -> None:
        async with self._db.connection() as conn:
            await conn.execute("DELETE FROM mfa_challenges WHERE expires_at < $1", before)
