"""Start and stop: the container, and the background tasks every worker runs."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Final

from fastapi import FastAPI

from app.container import Container, build_container
from app.core.clock import Clock, system_clock
from app.core.errors import DatabaseUnavailable
from app.core.schema_version import SchemaNotCurrent, check_database_schema
from app.core.settings import Settings
from app.ops.garbage_collection import tune_for_serving
from app.ops.metrics import Metrics

log = logging.getLogger(__name__)

CLEANUP_INTERVAL_SECONDS: Final = 3600.0
HEARTBEAT_INTERVAL_SECONDS: Final = 0.5

Lifespan = Callable[[FastAPI], contextlib.AbstractAsyncContextManager[None]]


async def clean_up_forever(container: Container) -> None:
    """Keeps the tables that only grow from growing without bound."""
    while True:
        try:
            deleted = await container.sessions.delete_ended()
            if deleted:
                log.info("deleted %d ended sessions", deleted)
            await container.challenges.delete_ended()
            await container.invalidations.delete_expired()
            await container.recovery.delete_ended()
            await container.device_tokens.delete_expired()
            settings = container.settings
            await container.windows.delete_expired(
                max(settings.login_lockout_seconds, settings.registration_window_seconds)
            )
        except DatabaseUnavailable:
            log.warning("clean-up skipped: database unavailable")
        await asyncio.sleep(CLEANUP_INTERVAL_SECONDS)


async def watch_redis_forever(container: Container) -> None:
    """Notices a Redis outage or a new Redis master (a failover) even on a worker that serves
    no request during it, so that this worker too applies the recorded invalidations before
    it trusts Redis again; and moves sessions journalled during a PostgreSQL outage into
    PostgreSQL once it is back."""
    while True:
        await asyncio.sleep(HEARTBEAT_INTERVAL_SECONDS)
        try:
            if await container.redis_guard.heartbeat():
                with contextlib.suppress(DatabaseUnavailable):
                    await container.sessions.flush_journal()
        except Exception:  # one odd failure must not stop this worker's heartbeat for good
            log.exception("redis heartbeat failed; trying again")


async def watch_postgres_forever(container: Container) -> None:
    """While the database's breaker holds PostgreSQL for away, probes it here, so that no
    request waits for the probe and the breaker closes within a heartbeat of its return."""
    while True:
        await asyncio.sleep(HEARTBEAT_INTERVAL_SECONDS)
        try:
            if container.db.is_known_down:
                await container.db.probe()
        except Exception:  # one odd failure must not stop this worker's heartbeat for good
            log.exception("postgresql heartbeat failed; trying again")


async def stop(tasks: list[asyncio.Task[None]]) -> None:
    """Cancels until every task has ended: on Python 3.11 a cancel that arrives as an
    asyncio.wait_for inside redis-py or asyncpg completes is swallowed, and one cancel
    would then leave a loop running and the shutdown hanging."""
    pending = {task for task in tasks if not task.done()}
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=0.1)


def make_lifespan(settings: Settings, metrics: Metrics, clock: Clock = system_clock) -> Lifespan:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        container = await build_container(settings, metrics, clock)
        try:
            await check_database_schema(container.db)
        except SchemaNotCurrent:
            await container.close()
            raise
        app.state.services = container
        background = [
            asyncio.create_task(clean_up_forever(container)),
            asyncio.create_task(watch_redis_forever(container)),
            asyncio.create_task(watch_postgres_forever(container)),
            asyncio.create_task(container.notifications.run_forever()),
            asyncio.create_task(container.invalidation_listener.run_forever()),
        ]
        if container.mail_sender is not None:
            background.append(asyncio.create_task(container.mail_sender.run_forever()))
        # Where a process starts serving: everything it imports and builds at start-up exists.
        tune_for_serving()
        try:
            yield
        finally:
            await stop(background)
            await container.close()

    return lifespan
