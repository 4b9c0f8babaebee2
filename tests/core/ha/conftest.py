"""Fixtures that start real replicated servers on free loopback ports: a Redis master with a
replica and three Sentinels, a three-master Redis Cluster, a PostgreSQL primary with a
streaming standby. Each test that breaks one gets its own (0.1-2.5 s to start, see
README.md); every process is killed after the test, also when it fails."""

from collections.abc import Iterator
from typing import TypeVar

import pytest

from tests.core.ha.processes import Harness, PostgresPair, RedisClusterSet, SentinelSet


@pytest.fixture(autouse=True)
def clean_state() -> None:
    """These tests run their own servers and leave the shared test database and Redis alone
    (this replaces the suite's autouse cleaner, which would create and migrate them)."""


H = TypeVar("H", bound=Harness)


def running(harness: H) -> Iterator[H]:
    started = harness.start()
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture
def sentinel_set() -> Iterator[SentinelSet]:
    yield from running(SentinelSet())


@pytest.fixture(scope="module")
def redis_cluster() -> Iterator[RedisClusterSet]:
    """Shared by a module: nothing breaks the cluster, and every test uses keys of its own."""
    yield from running(RedisClusterSet())


@pytest.fixture
def replicated_cluster() -> Iterator[RedisClusterSet]:
    """A cluster whose masters each have a replica, for tests that fail one over."""
    yield from running(RedisClusterSet(replicas_per_master=1))


@pytest.fixture
def postgres_pair() -> Iterator[PostgresPair]:
    yield from running(PostgresPair())
