"""Fixtures that start real replicated servers on free loopback ports: a Redis master with a
replica and three Sentinels, a three-master Redis Cluster, a PostgreSQL primary with a
streaming standby. Each test that breaks one gets its own (0.1-2.5 s to start, see
README.md); every process is killed after the test, also when it fails."""

from collections.abc import Iterator

import pytest

from tests.core.ha.processes import PostgresPair, RedisClusterSet, SentinelSet


@pytest.fixture(autouse=True)
def clean_state() -> None:
    """These tests run their own servers and leave the shared test database and Redis alone
    (this replaces the suite's autouse cleaner, which would create and migrate them)."""


@pytest.fixture
def sentinel_set() -> Iterator[SentinelSet]:
    started = SentinelSet().start()
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture(scope="module")
def redis_cluster() -> Iterator[RedisClusterSet]:
    """Shared by a module: nothing breaks the cluster, and every test uses keys of its own."""
    started = RedisClusterSet().start()
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture
def postgres_pair() -> Iterator[PostgresPair]:
    started = PostgresPair().start()
    try:
        yield started
    finally:
        started.stop()
