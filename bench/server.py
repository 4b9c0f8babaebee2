"""The keygate server the benchmark starts and stops itself, and what /proc says of its workers."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import Final

import httpx

ROOT: Final = Path(__file__).resolve().parent.parent
WORKERS: Final = 2
START_TIMEOUT_SECONDS: Final = 60
STOP_TIMEOUT_SECONDS: Final = 30
CLOCK_TICKS: Final = os.sysconf("SC_CLK_TCK")
PAGE_BYTES: Final = os.sysconf("SC_PAGE_SIZE")
# Below this share of one core for both workers together, the server counts as idle.
IDLE_CPU_SHARE: Final = 0.05
IDLE_TIMEOUT_SECONDS: Final = 60


class ServerError(Exception):
    pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def keygate(*args: str, env: dict[str, str]) -> None:
    """Runs one `keygate` command (migrate, demo) to completion."""
    command = [sys.executable, "-m", "app.cli", *args]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ServerError(f"keygate {' '.join(args)} failed: {result.stderr.strip()}")


def children_of(pid: int) -> list[int]:
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # the process ended while we looked
            continue
        # Fields after the command name (which may hold spaces) start at its closing ")".
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == pid:
            children.append(int(entry.name))
    return sorted(children)


def rss_mb(pid: int) -> float:
    resident_pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    return resident_pages * PAGE_BYTES / 2**20


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    user_ticks, system_ticks = int(fields[11]), int(fields[12])
    return (user_ticks + system_ticks) / CLOCK_TICKS


class KeygateServer:
    """`keygate serve --workers 2` on a free port of 127.0.0.1, with its own environment;
    its output goes to `log_path`. Use it as a context manager: it is stopped on the way out,
    errors and Ctrl-C included."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env = env
        self.log_path = log_path
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> "KeygateServer":
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    ready_path = "/ready"

    def command(self) -> list[str]:
        command = [sys.executable, "-m", "app.cli", "serve", "--host", "127.0.0.1"]
        return [*command, "--port", str(self.port), "--workers", str(WORKERS)]

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as log:
            # Its own session: a Ctrl-C in the terminal reaches us, and we stop it in order.
            self._process = subprocess.Popen(
                self.command(),
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        self._wait_until_serving()

    def _wait_until_serving(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                raise ServerError(f"keygate serve exited early:\n{self.log_tail()}")
            if len(self.worker_pids()) == WORKERS and self._answers():
                return
            time.sleep(0.2)
        raise ServerError(f"keygate serve did not answer in {START_TIMEOUT_SECONDS}s")

    def _answers(self) -> bool:
        try:
            return httpx.get(f"{self.url}{self.ready_path}", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # its own process group: master and workers
            process.wait()

    def worker_pids(self) -> list[int]:
        """The uvicorn workers: the master's children that run the app (not multiprocessing's
        resource tracker)."""
        if self._process is None:
            return []
        return [
            pid
            for pid in children_of(self._process.pid)
            if b"resource_tracker" not in Path(f"/proc/{pid}/cmdline").read_bytes()
        ]

    def worker_rss_mb(self) -> list[float]:
        return [rss_mb(pid) for pid in self.worker_pids()]

    def wait_until_idle(self) -> None:
        """Waits for work the clients gave up on (queued logins) to finish, so that it does not
        count against the next figure."""
        pids = self.worker_pids()
        deadline = time.monotonic() + IDLE_TIMEOUT_SECONDS
        before = sum(map(cpu_seconds, pids))
        while time.monotonic() < deadline:
            time.sleep(0.5)
            after = sum(map(cpu_seconds, pids))
            if after - before < IDLE_CPU_SHARE * 0.5:
                return
            before = after
        raise ServerError(f"keygate stayed busy for {IDLE_TIMEOUT_SECONDS}s without any load")

    def log_tail(self, lines: int = 20) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


class BareServer(KeygateServer):
    """bench/bare_app.py, served by uvicorn as `keygate serve` serves keygate: 2 workers,
    uvicorn's defaults (uvloop and httptools when installed), no proxy headers, no access log,
    the same graceful shutdown."""

    ready_path = "/health"

    def command(self) -> list[str]:
        return [
            *(sys.executable, "-m", "uvicorn", "bare_app:app", "--app-dir", str(ROOT / "bench")),
            *("--host", "127.0.0.1", "--port", str(self.port), "--workers", str(WORKERS)),
            *("--no-proxy-headers", "--forwarded-allow-ips", "", "--no-access-log"),
            *("--timeout-graceful-shutdown", "20", "--log-level", "warning"),
        ]


class MailSink:
    """bench/mail_sink.py on a free port: takes every message after `delay_seconds`."""

    def __init__(self, delay_seconds: float) -> None:
        self.port = free_port()
        self.url = f"smtp://127.0.0.1:{self.port}"
        self._delay_seconds = delay_seconds
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> "MailSink":
        script = str(Path(__file__).resolve().parent / "mail_sink.py")
        self._process = subprocess.Popen(
            [sys.executable, script, str(self.port), str(self._delay_seconds)], cwd=ROOT
        )
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self
            time.sleep(0.1)
        raise ServerError("the benchmark's mail server did not start")

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(STOP_TIMEOUT_SECONDS)
