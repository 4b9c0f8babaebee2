"""Applies cache invalidations recorded in PostgreSQL as soon as they are recorded.

A worker that cannot reach Redis (a partition, not an outage everyone sees) records the
entries it could not overwrite; every worker LISTENs on PostgreSQL and, told of them, deletes
those entries from Redis if it can reach it. So a logout or password change made on a
partitioned worker stops counting on every other worker within milliseconds, at no cost per
request. (Where Redis is down for everyone, every worker reads PostgreSQL anyway, and the
entries are applied before Redis is trusted again.)

The worker's LISTEN connection (app/core/notifications.py) calls `on_notification` for every
NOTIFY on the channel and on every (re)connect, to catch up on what was recorded while
nobody listened here."""

import asyncio
import logging

from app.authcache.directory import AuthDirectory
from app.core.errors import DatabaseUnavailable
from app.core.redis import CacheUnavailable, RedisGuard

log = logging.getLogger(__name__)


class InvalidationListener:
    def __init__(self, directory: AuthDirectory, guard: RedisGuard) -> None:
        self._directory = directory
        self._guard = guard
        self._notified = asyncio.Event()

    def on_notification(self) -> None:
        self._notified.set()

    async def run_forever(self) -> None:
        """Applies the recorded invalidations after each notification; notifications that
        arrive while it applies are applied once, after."""
        while True:
            await self._notified.wait()
            self._notified.clear()
            try:
                await self._apply()
            except Exception:  # one odd failure must not stop this worker's invalidations
                log.exception("applying recorded cache invalidations failed")

    async def _apply(self) -> None:
        try:
            await self._guard.run(self._directory.apply_pending_invalidations)
        except (CacheUnavailable, DatabaseUnavailable):
            log.info("recorded cache invalidations wait for Redis or PostgreSQL")
