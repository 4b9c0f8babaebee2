"""Device tokens in PostgreSQL, by SHA-256 digest: the token itself is never stored."""

from datetime import UTC, datetime

from app.core.db import Database


class DeviceTokenRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, digest: bytes, user_id: int, expires_at: datetime) -> None:
        async with self._db.connection() as conn:
            await conn.execute(
                "INSERT INTO device_tokens (token_hash, user_id, expires_at) VALUES ($1, $2, $3)",
                digest,
                user_id,
                expires_at,
            )

    async def owner(self, digest: bytes, now: datetime) -> int | None:
        """The user a live device token belongs to."""
        async with self._db.connection() as conn:
            user_id: int | None = await conn.fetchval(
                "SELECT user_id FROM device_tokens WHERE token_hash = $1 AND expires_at > $2",
                digest,
                now,
            )
        return user_id

    async def delete_expired(self, now: float) -> None:
        async with self._db.connection() as conn:
            await conn.execute(
                "DELETE FROM device_tokens WHERE expires_at <= $1", datetime.fromtimestamp(now, UTC)
            )
