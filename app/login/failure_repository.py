"""The throttle's windows in PostgreSQL (table login_failures), kept while Redis is
unreachable so that limits never fail open. One attempt at a time per window, across every
worker: advisory locks, taken in key order."""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from app.core.db import Database
from app.login.window import Window


class FailureRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def take(self, windows: Sequence[Window], now: float) -> float:
        """Counts one attempt at `now` in every window and returns 0, or, while any window is
        full, counts nothing and returns the seconds until it has room."""
        at = datetime.fromtimestamp(now, UTC)
        async with self._db.transaction() as conn:
            for key in sorted({w.key for w in windows}):
                await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", key)
            wait = 0.0
            for window in windows:
                times = await conn.fetch(
                    "SELECT failed_at FROM login_failures WHERE key = $1 AND failed_at > $2"
                    " ORDER BY failed_at DESC LIMIT $3",
                    window.key,
                    at - timedelta(seconds=window.seconds),
                    window.limit,
                )
                if len(times) >= window.limit:
                    oldest: datetime = times[-1]["failed_at"]
                    wait = max(wait, oldest.timestamp() + window.seconds - now)
            if wait > 0:
                return wait
            await conn.executemany(
                "INSERT INTO login_failures (key, failed_at) VALUES ($1, $2)",
                [(w.key, at) for w in windows],
            )
        return 0.0

    async def give_back(self, windows: Sequence[Window], at: float) -> None:
        """Removes one attempt made at `at` from each window."""
        async with self._db.transaction() as conn:
            for window in windows:
                await conn.execute(
                    "DELETE FROM login_failures WHERE ctid = (SELECT ctid FROM login_failures"
                    " WHERE key = $1 AND failed_at = $2 LIMIT 1)",
                    window.key,
                    datetime.fromtimestamp(at, UTC),
                )

    async def forget(self, key: str) -> None:
        async with self._db.connection() as conn:
            await conn.execute("DELETE FROM login_failures WHERE key = $1", key)

    async def clear(self, keys: Sequence[str], prefixes: Sequence[str]) -> None:
        """Every attempt in these windows and in every window whose key starts with a prefix."""
        async with self._db.connection() as conn:
            await conn.execute(
                "DELETE FROM login_failures WHERE key = ANY($1::text[])"
                " OR EXISTS (SELECT FROM unnest($2::text[]) AS p WHERE starts_with(key, p))",
                list(keys),
                list(prefixes),
            )

    async def delete_older_than(self, cutoff: float) -> None:
        async with self._db.connection() as conn:
            await conn.execute(
                "DELETE FROM login_failures WHERE failed_at < $1",
                datetime.fromtimestamp(cutoff, UTC),
            )
