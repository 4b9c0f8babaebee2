"""Fixtures for the session and token-lifecycle tests."""

from collections.abc import AsyncIterator

import asyncpg
import pytest

from tests.clock import MovableClock
from tests.conftest import RunningApp, make_settings, running_app


@pytest.fixture
async def second_app(database: asyncpg.Pool, clock: MovableClock) -> AsyncIterator[RunningApp]:
    """A second instance (another worker) on the same PostgreSQL, Redis and clock."""
    async with running_app(make_settings(), clock) as started:
        yield started
