"""`keygate serve --workers 2`: each worker accepts on a listening socket of its own
(SO_REUSEPORT), so the kernel spreads connections over both workers (with one shared socket,
64 connections opened at once were split 60/4); a worker that dies or hangs is replaced and
serving goes on; SIGHUP replaces every worker; SIGTERM stops every worker and the server exits
0; a port another process listens on is refused in one line."""

import asyncio
import os
import signal
import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from tests.fixtures.keys_and_servers import ServedKeygate, run_keygate, served_keygate

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


async def test_a_worker_that_hangs_is_replaced_after_missing_its_health_ping(tmp_path, database):
    async with served_keygate(tmp_path, workers=2, JWT_SECRET=JWT_SECRET) as served:
        workers = await workers_of(served, 2)
        hung = min(workers)

        os.kill(hung, signal.SIGSTOP)
        replaced = await workers_of(served, 2, other_than=frozenset({hung}))

        assert replaced - workers
        async with httpx.AsyncClient(base_url=served.url) as client:
            answers = [await client.get("/health") for _ in range(20)]
        assert all(answer.status_code == 200 for answer in answers)
        assert await served.stop() == 0


async def test_sighup_replaces_every_worker_and_serving_goes_on(tmp_path, database):
    async with served_keygate(tmp_path, workers=2, JWT_SECRET=JWT_SECRET) as served:
        workers = await workers_of(served, 2)

        served.process.send_signal(signal.SIGHUP)
        replaced = await workers_of(served, 2, other_than=frozenset(workers))

        assert not replaced & workers
        async with httpx.AsyncClient(base_url=served.url) as client:
            answers = [await client.get("/health") for _ in range(20)]
        assert all(answer.status_code == 200 for answer in answers)
        assert await served.stop() == 0


async def test_a_port_another_server_listens_on_is_refused_in_one_line(tmp_path, database):
    async with served_keygate(tmp_path, workers=2, JWT_SECRET=JWT_SECRET) as served:
        port = str(urlsplit(served.url).port)

        second = await run_keygate(
            "serve", "--port", port, "--workers", "2", cwd=tmp_path, JWT_SECRET=JWT_SECRET
        )

        assert second.returncode == 1
        assert len(second.error_lines) == 1, second.stderr
        assert port in second.error_lines[0]
        async with httpx.AsyncClient(base_url=served.url) as client:
            assert (await client.get("/health")).status_code == 200
        assert await served.stop() == 0


async def test_a_port_a_plain_listener_holds_is_refused_in_one_line(tmp_path, database):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = str(listener.getsockname()[1])

        refused = await run_keygate("serve", "--port", port, cwd=tmp_path, JWT_SECRET=JWT_SECRET)

    assert refused.returncode == 1
    assert len(refused.error_lines) == 1, refused.stderr
    assert port in refused.error_lines[0]
