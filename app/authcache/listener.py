"""Applies cache invalidations recorded in PostgreSQL as soon as they are recorded.

A worker that cannot reach Redis (a partition, not an outage everyone sees) records the
entries it could not overwrite; every worker LISTENs on PostgreSQL and, told of them, deletes
those entries from Redis if it can reach it. So a logout or password change made on a
partitioned worker stops counting on every other worker within milliseconds, at no cost per
request. (Where Redis is down for everyone, every worker reads PostgreSQL anyway, and the
entries are applied before Redis is trusted again.)"""

import asyncio
import contextlib
import logging
from typing import Final

import asyncpg

from app.authcache.directory import AuthDirectory
from app.authcache.invalidations import NOTIFY_CHANNEL
from app.core.db import CONNECT_TIMEOUT_SECONDS, CONNECTION_ERRORS, connect_each_host
from app.core.errors import DatabaseUnavailable
from app.core.redis import CacheUnavailable, RedisGuard

log = logging.getLogger(__name__)

RECONNECT_SECONDS: Final = 1.0


class InvalidationListener:
    def __init__(self, database_url: str, directory: AuthDirectory, guard: RedisGuard) -> None:
        self._database_url = database_url
        self._directory = directory
        self._guard = guard
        self._notified = asyncio.Event()

    async def run_forever(self) -> None:
        while True:
            with contextlib.suppress(*CONNECTION_ERRORS, asyncpg.PostgresError):
                await self._listen()
            await asyncio.sleep(RECONNECT_SECONDS)

    async def _listen(self) -> None:
        conn = await connect_each_host(self._database_url, timeout=CONNECT_TIMEOUT_SECONDS)
        try:
            await conn.add_listener(NOTIFY_CHANNEL, self._on_notification)
            self._notified.set()  # catch up on what was recorded while nobody listened here
            while not conn.is_closed():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._notified.wait(), RECONNECT_SECONDS)
                if self._notified.is_set():
                    self._notified.clear()
                    await self._apply()
        finally:
            with contextlib.suppress(*CONNECTION_ERRORS, asyncpg.PostgresError):
                await asyncio.wait_for(conn.close(), CONNECT_TIMEOUT_SECONDS)

    def _on_notification(self, *_: object) -> None:
        self._notified.set()

    async def _apply(self) -> None:
        try:
            await self._guard.run(self._directory.apply_pending_invalidations)
        except (CacheUnavailable, DatabaseUnavailable):
            log.info("recorded cache invalidations wait for Redis or PostgreSQL")
