"""A worker logs "applied N cache invalidations recorded while redis was unreachable" only for
invalidations recorded since it started: a start after an earlier outage (whose entries are
kept for the cache's TTL, and applied again, silently) logs no such line."""

import logging
from collections.abc import Iterator

import pytest
from redis.asyncio import Redis

from app.authcache.keys import user_key
from tests.fixtures.fault_lab import FaultLab, eventually

DIRECTORY_LOGGER = "app.authcache.directory"


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def directory_lines() -> Iterator[list[str]]:
    logger, handler = logging.getLogger(DIRECTORY_LOGGER), Lines()
    level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    yield handler.lines
    logger.removeHandler(handler)
    logger.setLevel(level)


async def test_a_start_after_an_earlier_outage_logs_no_recovery(
    lab: FaultLab, database, directory_lines: list[str]
):
    # A Redis of its own: only this app deletes its keys, so a deleted key says this app's
    # catch-up ran (another app of the test process may be listening on PostgreSQL too).
    server = await lab.redis_server()
    redis = Redis.from_url(server.url)
    # What an outage a minute ago left: an entry, applied then, kept for the TTL.
    await database.execute(
        "INSERT INTO cache_invalidations (user_id, username) VALUES (41, 'old-outage')"
    )
    await redis.set(user_key(41), b"{}")
    running = await lab.app(redis_url=server.url)

    async def applied() -> bool:
        return not await redis.exists(user_key(41))

    await eventually(applied, timeout_seconds=5, what="the start's catch-up")
    assert not [line for line in directory_lines if "applied" in line]

    await redis.set(user_key(42), b"{}")
    await running.services.invalidations.record(users=[(42, "new")], sessions=[])

    line = "applied 1 cache invalidations recorded while redis was unreachable"

    async def logged() -> bool:
        # Other apps of this test process log what is new to them under the same logger:
        # this app's line is the one that counts one entry.
        return line in directory_lines

    await eventually(logged, timeout_seconds=5, what="the new entry applied and logged")
    assert not await redis.exists(user_key(42))
    await redis.aclose()
