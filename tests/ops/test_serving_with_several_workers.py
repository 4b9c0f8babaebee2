"""`keygate serve --workers 2`: each worker accepts on a listening socket of its own
(SO_REUSEPORT), so the kernel spreads connections over both workers (with one shared socket,
64 connections opened at once were split 60/4); a worker that dies is replaced and serving
goes on; SIGTERM stops every worker and the server exits 0."""

import asyncio
import os
import signal
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from tests.fixtures.keys_and_servers import ServedKeygate, served_keygate

JWT_SECRET = "several-workers-test-secret-" + "w" * 24
CONNECTIONS = 40
# Binomial(40, 1/2): one worker holding fewer than 8 happens about twice in 100,000 runs.
LEAST_PER_WORKER = 8
WORKERS_START_SECONDS = 60


def children_of(pid: int) -> set[int]:
    children = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:  # ended while we looked
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == pid and b"resource_tracker" not in cmdline:
            children.add(int(entry.name))
    return children


async def workers_of(
    served: ServedKeygate, count: int, other_than: frozenset[int] = frozenset()
) -> set[int]:
    """The server's workers, once there are `count` of them and none is in `other_than`."""
    deadline = time.monotonic() + WORKERS_START_SECONDS
    while time.monotonic() < deadline:
        workers = children_of(served.process.pid)
        if len(workers) == count and not workers & other_than:
            return workers
        await asyncio.sleep(0.1)  # bounded polling of real processes starting
    raise AssertionError(f"no {count} new workers after {WORKERS_START_SECONDS}s: {workers}")


def established_on_port(pid: int, port: int) -> int:
    """Established TCP connections of `pid` whose local port is `port` (the server's side)."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port = int(fields[1].rsplit(":", 1)[1], 16)
        if local_port == port and fields[3] == "01":  # ESTABLISHED
            inodes.add(fields[9])
    count = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:[") and target[8:-1] in inodes:
            count += 1
    return count


async def test_connections_are_spread_over_the_workers(tmp_path, database):
    async with served_keygate(tmp_path, workers=2, JWT_SECRET=JWT_SECRET) as served:
        workers = await workers_of(served, 2)
        port = urlsplit(served.url).port
        assert port is not None
        clients = [httpx.AsyncClient(base_url=served.url) for _ in range(CONNECTIONS)]
        try:
            answers = await asyncio.gather(*(client.get("/health") for client in clients))
            assert all(answer.status_code == 200 for answer in answers)

            held = {pid: established_on_port(pid, port) for pid in workers}
        finally:
            await asyncio.gather(*(client.aclose() for client in clients))

        assert sum(held.values()) == CONNECTIONS, held
        assert min(held.values()) >= LEAST_PER_WORKER, held
        assert await served.stop() == 0
    assert children_of(served.process.pid) == set()


async def test_a_worker_that_dies_is_replaced_and_serving_goes_on(tmp_path, database):
    async with served_keygate(tmp_path, workers=2, JWT_SECRET=JWT_SECRET) as served:
        workers = await workers_of(served, 2)
        killed = min(workers)

        os.kill(killed, signal.SIGKILL)
        replaced = await workers_of(served, 2, other_than=frozenset({killed}))

        assert replaced - workers  # a new process, beside the survivor
        async with httpx.AsyncClient(base_url=served.url) as client:
            answers = [await client.get("/health") for _ in range(20)]
        assert all(answer.status_code == 200 for answer in answers)
        assert await served.stop() == 0
