"""Real Redis Sentinel, Redis Cluster and PostgreSQL streaming-replication setups on free
loopback ports in temp dirs, for failover tests. Each class's `start()` returns once the
setup is ready for a failover; `stop()` kills every process it started and removes its temp
dir (a failed `start()` does it too). Waits poll with a deadline; nothing waits forever."""

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final, Self, TextIO

import asyncpg
from redis import Redis as SyncRedis
from redis.asyncio import Redis
from redis.crc import key_slot
from redis.exceptions import RedisError

from tests.ports import free_port

POSTGRES_BIN: Final = Path("/usr/lib/postgresql/15/bin")
START_TIMEOUT_SECONDS: Final = 20.0
POLL_SECONDS: Final = 0.05
SERVICE_NAME: Final = "keygate"
DATABASE_NAME: Final = "keygate"


class HarnessError(RuntimeError):
    """A process of the harness did not start or did not reach the awaited state in time."""


def require_binary(name: str, debian_package: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise HarnessError(f"{name} not found: apt-get install {debian_package}")
    return path


def require_postgres_binary(name: str) -> str:
    path = POSTGRES_BIN / name
    if not os.access(path, os.X_OK):
        raise HarnessError(f"{path} not found: apt-get install postgresql-15")
    return str(path)


def wait_until(what: str, condition: Callable[[], bool], timeout_seconds: float) -> None:
    deadline = time.monotonic() + timeout_seconds
    while not condition():
        if time.monotonic() > deadline:
            raise HarnessError(f"timed out after {timeout_seconds}s waiting for {what}")
        time.sleep(POLL_SECONDS)


class ProcessGroup:
    """Long-running child processes with their logs in one temp dir; `stop()` kills them all."""

    def __init__(self, prefix: str) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix=prefix))
        self._processes: list[subprocess.Popen[bytes]] = []
        self._logs: list[TextIO] = []

    def spawn(self, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
        log = (self.dir / f"{name}.log").open("w")
        self._logs.append(log)
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
        self._processes.append(process)
        return process

    def stop(self) -> None:
        for process in self._processes:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    process.send_signal(signal.SIGCONT)  # a stopped process cannot exit
                    process.kill()
            process.wait(timeout=10)
        self._processes.clear()
        for log in self._logs:
            log.close()
        self._logs.clear()
        shutil.rmtree(self.dir, ignore_errors=True)


def redis_server_argv(port: int, workdir: Path, *extra: str) -> list[str]:
    server = require_binary("redis-server", "redis-server")
    return [
        server,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--dir",
        str(workdir),
        "--save",
        "",
        "--appendonly",
        "no",
        *extra,
    ]


def answers_ping(port: int, password: str | None = None) -> bool:
    with SyncRedis(
        port=port, password=password, socket_timeout=0.5, socket_connect_timeout=0.5
    ) as client:
        try:
            return bool(client.ping())
        except (RedisError, OSError):
            return False


def replicas_acknowledge_a_write(
    master_port: int, replicas: int, probe_key: str = "harness:probe", password: str | None = None
) -> bool:
    """Whether a write now reaches `replicas` replicas within WAIT's 100 ms. Right after its
    first sync a replica says master_link_status:up and the master lists it online, yet WAIT
    may not count it for up to ~0.9 s (measured), so readiness is this probe."""
    with SyncRedis(port=master_port, password=password, socket_timeout=0.5) as master:
        try:
            with master.pipeline(transaction=False) as pipe:
                pipe.set(probe_key, "1").wait(replicas, 100).delete(probe_key)
                _, acknowledged, _ = pipe.execute()
        except (RedisError, OSError):
            return False
    return bool(acknowledged == replicas)


class Harness:
    """Processes started together: `start` runs `_start`, and stops whatever it had started
    when it fails."""

    def start(self) -> Self:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError


class SentinelSet(Harness):
    """A Redis master, one replica and three Sentinels (quorum 2) watching SERVICE_NAME."""

    DOWN_AFTER_MILLISECONDS: Final = 1000
    FAILOVER_TIMEOUT_MILLISECONDS: Final = 3000

    def __init__(self, password: str | None = None) -> None:
        """With `password`, the master and replica require it (Sentinels do not)."""
        self.password = password
        self.service_name = SERVICE_NAME
        self._group = ProcessGroup("keygate-sentinel-")
        self.master_port = free_port()
        self.replica_port = free_port()
        self.sentinel_ports = [free_port() for _ in range(3)]
        self._servers: dict[int, subprocess.Popen[bytes]] = {}

    def _start(self) -> None:
        for port, extra in (
            (self.master_port, ()),
            (self.replica_port, ("--replicaof", "127.0.0.1", str(self.master_port))),
        ):
            workdir = self._group.dir / str(port)
            workdir.mkdir()
            if self.password is not None:
                extra = (*extra, "--requirepass", self.password, "--masterauth", self.password)
            # Without the delay the first full sync waits 5 s for more replicas to join.
            argv = redis_server_argv(port, workdir, "--repl-diskless-sync-delay", "0", *extra)
            self._servers[port] = self._group.spawn(f"redis-{port}", argv)
        wait_until(
            "the master and replica to answer",
            lambda: all(answers_ping(port, self.password) for port in self._servers),
            START_TIMEOUT_SECONDS,
        )
        wait_until(
            "the replica to finish its first sync", self._replica_is_in_sync, START_TIMEOUT_SECONDS
        )
        for port in self.sentinel_ports:
            self._group.spawn(
                f"sentinel-{port}",
                [
                    require_binary("redis-server", "redis-server"),
                    str(self._write_sentinel_config(port)),
                    "--sentinel",
                ],
            )
        wait_until(
            "the sentinels to see the replica and each other",
            self._sentinels_are_ready,
            START_TIMEOUT_SECONDS,
        )

    def _write_sentinel_config(self, port: int) -> Path:
        name = self.service_name
        lines = [
            f"port {port}",
            "bind 127.0.0.1",
            "protected-mode no",
            f'dir "{self._group.dir}"',
            "sentinel resolve-hostnames no",
            f"sentinel monitor {name} 127.0.0.1 {self.master_port} 2",
            f"sentinel down-after-milliseconds {name} {self.DOWN_AFTER_MILLISECONDS}",
            f"sentinel failover-timeout {name} {self.FAILOVER_TIMEOUT_MILLISECONDS}",
            # Told up front what they would learn from the master's hello messages in 2-10 s.
            f"sentinel myid {self._sentinel_id(port)}",
            f"sentinel known-replica {name} 127.0.0.1 {self.replica_port}",
            *(
                f"sentinel known-sentinel {name} 127.0.0.1 {other} {self._sentinel_id(other)}"
                for other in self.sentinel_ports
                if other != port
            ),
        ]
        if self.password is not None:
            lines.append(f"sentinel auth-pass {name} {self.password}")
        path = self._group.dir / f"sentinel-{port}.conf"
        path.write_text("\n".join(lines) + "\n")
        return path

    @staticmethod
    def _sentinel_id(port: int) -> str:
        return f"{port:040x}"

    def _replica_is_in_sync(self) -> bool:
        return replicas_acknowledge_a_write(self.master_port, 1, password=self.password)

    def _sentinels_are_ready(self) -> bool:
        """Failover needs a majority of Sentinels that know each other and the replica."""
        for port in self.sentinel_ports:
            with SyncRedis(port=port, socket_timeout=0.5, decode_responses=True) as sentinel:
                try:
                    state = sentinel.sentinel_master(self.service_name)
                except (RedisError, OSError):
                    return False
            if state["num-other-sentinels"] < 2 or state["num-slaves"] < 1:
                return False
        return True

    @property
    def sentinel_addresses(self) -> list[tuple[str, int]]:
        return [("127.0.0.1", port) for port in self.sentinel_ports]

    @property
    def url(self) -> str:
        hosts = ",".join(f"127.0.0.1:{port}" for port in self.sentinel_ports)
        return f"redis+sentinel://{hosts}/{self.service_name}"

    async def master_address(self) -> tuple[str, int]:
        """The master as the first answering Sentinel names it."""
        for port in self.sentinel_ports:
            async with Redis(port=port, socket_timeout=0.5, decode_responses=True) as sentinel:
                try:
                    address = await sentinel.sentinel_get_master_addr_by_name(self.service_name)
                except (RedisError, OSError):
                    continue
            if address is not None:
                return str(address[0]), int(address[1])
        raise HarnessError("no sentinel named a master")

    async def kill_master(self) -> int:
        """SIGKILLs the process the Sentinels name as master; returns its port."""
        _, port = await self.master_address()
        self._servers[port].kill()
        await asyncio.to_thread(self._servers[port].wait, 10)
        return port

    def pause(self, port: int) -> None:
        self._servers[port].send_signal(signal.SIGSTOP)

    def resume(self, port: int) -> None:
        self._servers[port].send_signal(signal.SIGCONT)

    async def cut_replica_links(self) -> int:
        """Closes the master's connections to its replicas (they reconnect by themselves);
        returns how many were closed."""
        _, port = await self.master_address()
        async with Redis(port=port, password=self.password, socket_timeout=1) as master:
            closed: int = await master.execute_command("CLIENT", "KILL", "TYPE", "replica")
        return closed

    async def wait_for_failover(self, old_master_port: int, timeout_seconds: float = 15) -> int:
        """Waits until every Sentinel names a new master and that master accepts writes;
        returns its port."""
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            ports = {await self._master_port_seen_by(port) for port in self.sentinel_ports}
            if len(ports) == 1 and (port := ports.pop()) not in (None, old_master_port):
                async with Redis(port=port, password=self.password, socket_timeout=0.5) as master:
                    with contextlib.suppress(RedisError, OSError):
                        role = await master.execute_command("ROLE")
                        if role[0] == b"master":
                            return port
            await asyncio.sleep(POLL_SECONDS)
        raise HarnessError(f"no failover within {timeout_seconds}s")

    async def _master_port_seen_by(self, sentinel_port: int) -> int | None:
        async with Redis(port=sentinel_port, socket_timeout=0.5) as sentinel:
            try:
                address = await sentinel.sentinel_get_master_addr_by_name(self.service_name)
            except (RedisError, OSError):
                return None
        return None if address is None else int(address[1])

    def stop(self) -> None:
        self._group.stop()


def key_in_slot(slot: int) -> str:
    for attempt in range(100_000):  # about 16384 tries on average
        key = f"harness:probe:{attempt}"
        if key_slot(key.encode()) == slot:
            return key
    raise HarnessError(f"no probe key found for slot {slot}")


class RedisClusterSet(Harness):
    """Three Redis Cluster masters (slots spread over three processes), each with
    `replicas_per_master` replicas."""

    def __init__(self, replicas_per_master: int = 0) -> None:
        self.replicas_per_master = replicas_per_master
        self._group = ProcessGroup("keygate-cluster-")
        self.ports: list[int] = []
        self._servers: dict[int, subprocess.Popen[bytes]] = {}
        self._paused: set[int] = set()

    def _start(self) -> None:
        cli = require_binary("redis-cli", "redis-tools")
        for _ in range(3 * (1 + self.replicas_per_master)):
            port = free_port(also_free_at=10000)
            self.ports.append(port)
            workdir = self._group.dir / str(port)
            workdir.mkdir()
            argv = redis_server_argv(
                port, workdir, "--repl-diskless-sync-delay", "0",
                "--cluster-enabled", "yes",
                "--cluster-config-file", str(workdir / f"nodes-{port}.conf"),
                "--cluster-node-timeout", "1000",
            )  # fmt: skip
            self._servers[port] = self._group.spawn(f"redis-{port}", argv)
        wait_until(
            "the cluster nodes to answer",
            lambda: all(answers_ping(port) for port in self.ports),
            START_TIMEOUT_SECONDS,
        )
        nodes = [f"127.0.0.1:{port}" for port in self.ports]
        replicas = str(self.replicas_per_master)
        subprocess.run(  # noqa: S603
            [cli, "--cluster", "create", *nodes, "--cluster-replicas", replicas, "--cluster-yes"],
            check=True,
            capture_output=True,
            timeout=START_TIMEOUT_SECONDS,
        )
        wait_until(
            "cluster_state:ok on every node",
            lambda: self._cluster_is_ok(self.ports),
            START_TIMEOUT_SECONDS,
        )
        wait_until(
            "the replicas to finish their first sync",
            self._replicas_are_in_sync,
            START_TIMEOUT_SECONDS,
        )

    @staticmethod
    def _cluster_is_ok(ports: list[int]) -> bool:
        """Whether every node on `ports` answers CLUSTER INFO with cluster_state:ok."""
        for port in ports:
            with SyncRedis(port=port, socket_timeout=0.5) as node:
                try:
                    info = node.execute_command("CLUSTER", "INFO")
                except (RedisError, OSError):
                    return False
            text = info.decode() if isinstance(info, bytes) else str(info)
            if "cluster_state:ok" not in text:
                return False
        return True

    def _replicas_are_in_sync(self) -> bool:
        """Also waits until every node lists every replica in CLUSTER SLOTS: a client reads
        its slot map, replicas included, from whichever node it asks first, and a node lists
        a replica only once it has replicated something (the write probes here; without
        them, until the master's ping to its replicas 10 s later)."""
        slot_ranges = self._slot_ranges(self.ports[0])
        if slot_ranges is None:
            return False
        # [first slot, last slot, [master ip, master port, id], replicas...] per range
        slot_of_master = {int(owner[2][1]): int(owner[0]) for owner in slot_ranges}
        if not all(
            replicas_acknowledge_a_write(master, self.replicas_per_master, key_in_slot(slot))
            for master, slot in slot_of_master.items()
        ):
            return False
        for port in self.ports:
            seen = self._slot_ranges(port)
            if seen is None or any(len(owner) - 3 < self.replicas_per_master for owner in seen):
                return False
        return True

    @staticmethod
    def _slot_ranges(port: int) -> list[list[object]] | None:
        with SyncRedis(port=port, socket_timeout=0.5) as node:
            try:
                slot_ranges: list[list[object]] = node.execute_command("CLUSTER", "SLOTS")
            except (RedisError, OSError):
                return None
        return slot_ranges

    async def replica_ports_of(self, master_port: int) -> list[int]:
        """The ports of the replicas that follow the master on `master_port`."""
        async with Redis(port=master_port, socket_timeout=0.5) as master:
            replication = await master.info("replication")
        count = int(replication["connected_slaves"])
        return [int(replication[f"slave{i}"]["port"]) for i in range(count)]

    def pause(self, port: int) -> None:
        self._servers[port].send_signal(signal.SIGSTOP)
        self._paused.add(port)

    def resume(self, port: int) -> None:
        self._servers[port].send_signal(signal.SIGCONT)
        self._paused.discard(port)

    def kill(self, port: int) -> None:
        self._servers[port].kill()
        self._servers[port].wait(timeout=10)

    async def wait_for_failover(self, replica_ports: list[int], timeout_seconds: float = 15) -> int:
        """Waits until one of `replica_ports` (those of a killed or paused master) is a master
        and every running node says cluster_state:ok; returns the new master's port."""
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            promoted = [port for port in replica_ports if await self._role(port) == b"master"]
            if promoted and await asyncio.to_thread(self._cluster_is_ok, self._live_ports()):
                return promoted[0]
            await asyncio.sleep(POLL_SECONDS)
        raise HarnessError(f"no cluster failover within {timeout_seconds}s")

    async def _role(self, port: int) -> bytes | None:
        async with Redis(port=port, socket_timeout=0.5) as node:
            try:
                role: list[bytes] = await node.execute_command("ROLE")
            except (RedisError, OSError):
                return None
        return role[0]

    def _live_ports(self) -> list[int]:
        """The nodes neither killed nor paused."""
        return [
            port
            for port, process in self._servers.items()
            if process.poll() is None and port not in self._paused
        ]

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"127.0.0.1:{port}" for port in self.ports)

    def stop(self) -> None:
        self._group.stop()


def as_postgres_user() -> list[str]:
    """PostgreSQL refuses to run as root: when we are root, its tools run as `postgres`."""
    if os.geteuid() != 0:
        return []
    return [require_binary("runuser", "util-linux"), "-u", "postgres", "--"]


def run_postgres_tool(tool: str, *args: str) -> None:
    """Runs a PostgreSQL 15 tool (initdb, pg_ctl...) to its end; raises HarnessError with
    its output when it fails."""
    argv = [*as_postgres_user(), require_postgres_binary(tool), *args]
    result = subprocess.run(  # noqa: S603
        argv, capture_output=True, text=True, timeout=START_TIMEOUT_SECONDS, check=False
    )
    if result.returncode != 0:
        raise HarnessError(f"{tool} failed: {result.stdout}{result.stderr}".strip())


class PostgresPair(Harness):
    """A PostgreSQL 15 primary and a streaming standby cloned from it, each on its own port,
    both in one temp dir owned by the `postgres` OS user, trusting 127.0.0.1 only."""

    def __init__(self) -> None:
        self._group = ProcessGroup("keygate-postgres-")
        self.primary_port = free_port()
        self.standby_port = free_port()
        self.primary_dir = self._group.dir / "primary"
        self.standby_dir = self._group.dir / "standby"
        self._started: list[Path] = []

    def _start(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self._group.dir, "postgres", "postgres")
        run_postgres_tool(
            "initdb",
            "-D",
            str(self.primary_dir),
            "-U",
            "postgres",
            "-A",
            "trust",
            "--no-sync",
            "--no-instructions",
        )
        with (self.primary_dir / "postgresql.conf").open("a") as conf:
            conf.write(
                "listen_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self._group.dir}'\n"
                "wal_level = replica\n"
                "max_wal_senders = 4\n"
                "hot_standby = on\n"
                # Throwaway data: skipping fsync makes each start a fraction of a second.
                "fsync = off\n"
                "full_page_writes = off\n"
            )
        (self.primary_dir / "pg_hba.conf").write_text(
            "local all         all                trust\n"
            "host  all         all  127.0.0.1/32  trust\n"
            "host  replication all  127.0.0.1/32  trust\n"
        )
        self._pg_ctl_start(self.primary_dir, self.primary_port)
        to_primary = ("-h", "127.0.0.1", "-p", str(self.primary_port), "-U", "postgres")
        run_postgres_tool("createdb", *to_primary, DATABASE_NAME)
        run_postgres_tool(
            "pg_basebackup",
            "-R",
            "-D",
            str(self.standby_dir),
            *to_primary,
            "-X",
            "stream",
            "-c",
            "fast",
            "--no-sync",
        )
        self._pg_ctl_start(self.standby_dir, self.standby_port)

    def _pg_ctl_start(self, data_dir: Path, port: int) -> None:
        self._started.append(data_dir)
        run_postgres_tool(
            "pg_ctl",
            "start",
            "-w",
            "-t",
            str(int(START_TIMEOUT_SECONDS)),
            "-D",
            str(data_dir),
            "-l",
            str(self._group.dir / f"{data_dir.name}.log"),
            "-o",
            f"-p {port}",
        )

    def url(self, database: str = DATABASE_NAME) -> str:
        """The libpq multi-host URL that always names the writable server of the two."""
        return (
            f"postgresql://postgres@127.0.0.1:{self.primary_port},127.0.0.1:{self.standby_port}"
            f"/{database}?target_session_attrs=read-write"
        )

    def standby_url(self, database: str = DATABASE_NAME) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.standby_port}/{database}"

    async def wait_for_standby_replay(self, lsn: str, timeout_seconds: float = 10) -> None:
        """Waits until the standby has replayed the primary's WAL up to `lsn` (from
        `pg_current_wal_lsn()`), so a write made before it survives a promotion."""
        standby = await asyncpg.connect(self.standby_url())
        try:
            deadline = time.monotonic() + timeout_seconds
            while not await standby.fetchval(
                "SELECT pg_last_wal_replay_lsn() >= $1::text::pg_lsn", lsn
            ):
                if time.monotonic() > deadline:
                    raise HarnessError(f"the standby did not replay {lsn} in {timeout_seconds}s")
                await asyncio.sleep(POLL_SECONDS)
        finally:
            await standby.close()

    async def stop_primary(self) -> None:
        """Stops the primary the way a crash would: no shutdown checkpoint, clients cut."""
        await asyncio.to_thread(
            run_postgres_tool, "pg_ctl", "stop", "-m", "immediate", "-w", "-D",
            str(self.primary_dir),
        )  # fmt: skip

    async def promote_standby(self) -> None:
        """Promotes the standby and returns once it accepts writes."""
        await asyncio.to_thread(
            run_postgres_tool,
            "pg_ctl",
            "promote",
            "-w",
            "-t",
            str(int(START_TIMEOUT_SECONDS)),
            "-D",
            str(self.standby_dir),
        )

    def stop(self) -> None:
        for data_dir in self._started:
            try:
                run_postgres_tool("pg_ctl", "stop", "-m", "immediate", "-w", "-D", str(data_dir))
            except (HarnessError, subprocess.TimeoutExpired):
                self._kill_leftover_postmaster(data_dir)
        self._started.clear()
        self._group.stop()

    @staticmethod
    def _kill_leftover_postmaster(data_dir: Path) -> None:
        """For a server pg_ctl could not stop (or already stopped: then there is no pid file)."""
        pid_file = data_dir / "postmaster.pid"
        with contextlib.suppress(OSError, ValueError, IndexError):
            os.kill(int(pid_file.read_text().splitlines()[0]), signal.SIGKILL)
