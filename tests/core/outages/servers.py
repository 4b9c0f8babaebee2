"""A private PostgreSQL 15 that a test may stop (`pg_ctl stop -m fast`), start again and hang
(SIGSTOP of the postmaster and every backend), on a free loopback port in a temp dir. The
shared PostgreSQL is never touched."""

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Final

from alembic.config import Config

from alembic import command
from tests.conftest import ROOT
from tests.core.ha.processes import (
    START_TIMEOUT_SECONDS,
    HarnessError,
    ProcessGroup,
    free_port,
    run_postgres_tool,
)

DATABASE_NAME: Final = "keygate"


class PrivatePostgres:
    def __init__(self) -> None:
        self._group = ProcessGroup("keygate-outage-pg-")
        self.port = free_port()
        self.data_dir = self._group.dir / "data"
        self._paused: list[int] = []

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{DATABASE_NAME}"

    def create(self) -> "PrivatePostgres":
        try:
            if os.geteuid() == 0:
                shutil.chown(self._group.dir, "postgres", "postgres")
            run_postgres_tool(
                "initdb",
                *("-D", str(self.data_dir), "-U", "postgres", "-A", "trust"),
                "--no-sync",
                "--no-instructions",
            )
            with (self.data_dir / "postgresql.conf").open("a") as conf:
                conf.write(
                    "listen_addresses = '127.0.0.1'\n"
                    f"port = {self.port}\n"
                    f"unix_socket_directories = '{self._group.dir}'\n"
                    "fsync = off\nfull_page_writes = off\nsynchronous_commit = off\n"
                )
            self.start_sync()
            run_postgres_tool("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                              DATABASE_NAME)  # fmt: skip
            config = Config(str(ROOT / "alembic.ini"))
            config.attributes["database_url"] = self.url
            config.attributes["configure_logger"] = False
            command.upgrade(config, "head")
        except BaseException:
            self.destroy()
            raise
        return self

    def start_sync(self) -> None:
        run_postgres_tool(
            "pg_ctl",
            *("start", "-w", "-t", str(int(START_TIMEOUT_SECONDS)), "-D", str(self.data_dir)),
            *("-l", str(self._group.dir / "server.log")),
        )

    async def start(self) -> None:
        await asyncio.to_thread(self.start_sync)

    async def stop(self) -> None:
        """A fast shutdown: sessions are cut, their transactions rolled back."""
        await asyncio.to_thread(run_postgres_tool, "pg_ctl", "stop", "-m", "fast", "-w", "-D",
                                str(self.data_dir))  # fmt: skip

    def _pids(self) -> list[int]:
        postmaster = int((self.data_dir / "postmaster.pid").read_text().splitlines()[0])
        children = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, ValueError, IndexError):
                fields = stat.read_text().rsplit(")", 1)[1].split()
                if int(fields[1]) == postmaster:
                    children.append(int(stat.parent.name))
        return [postmaster, *children]

    def pause(self) -> None:
        """Hangs PostgreSQL: the postmaster and every backend stop, sockets stay open."""
        self._paused = self._pids()
        for pid in self._paused:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP)

    def resume(self) -> None:
        for pid in self._paused:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        self._paused = []

    def destroy(self) -> None:
        self.resume()
        with contextlib.suppress(HarnessError, subprocess.TimeoutExpired, OSError):
            run_postgres_tool("pg_ctl", "stop", "-m", "immediate", "-w", "-D", str(self.data_dir))
        self._group.stop()
