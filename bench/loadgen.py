"""wrk: installing it, running it (alone or several at once) and reading what it prints."""

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

SCRIPTS: Final = Path(__file__).resolve().parent / "wrk_scripts"
# How long wrk may run past its own duration (start-up, closing connections) before it is killed.
GRACE_SECONDS: Final = 30

TIME_UNITS: Final = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
PERCENTILE_LINE: Final = re.compile(
    r"^\s*(50|75|90|99)(?:\.0+)?%\s+([\d.]+)(us|ms|s|m|h)\s*$", re.M
)
TOTAL_LINE: Final = re.compile(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m|h)", re.M)
SOCKET_ERRORS_LINE: Final = re.compile(
    r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)"
)
NON_2XX_LINE: Final = re.compile(r"Non-2xx or 3xx responses: (\d+)")
STATUS_LINE: Final = re.compile(r"^status (\d{3}) (\d+)$", re.M)


class WrkError(Exception):
    pass


def ensure_wrk() -> str:
    """The path of wrk, installed with Debian's package when it is missing and we can."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("wrk is missing: installing Debian's package (apt-get install -y wrk)")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        install = ["apt-get", "install", "-y", "-q", "wrk"]
        if subprocess.run(install, env=env, check=False).returncode != 0:
            subprocess.run(["apt-get", "update", "-q"], env=env, check=True)
            subprocess.run(install, env=env, check=True)
        found = shutil.which("wrk")
    if not found:
        sys.exit(
            "bench: wrk is missing. Install it (Debian/Ubuntu: `sudo apt-get install wrk`, "
            "macOS: `brew install wrk`, or build it from its sources) and run this again."
        )
    return found


def seconds_of(value: str, unit: str) -> float:
    return float(value) * TIME_UNITS[unit]


@dataclass(frozen=True)
class WrkRun:
    """One wrk run: `requests` counts every response; errors are counted apart."""

    requests: int
    seconds: float
    non_2xx: int
    socket_errors: int
    latency_ms: dict[int, float]  # percentile -> milliseconds (empty when nothing answered)
    statuses: dict[int, int] = field(default_factory=dict)  # only from scripts that count them

    @property
    def good_per_second(self) -> float:
        """2xx responses a second: what the figures are made of."""
        return (self.requests - self.non_2xx) / self.seconds if self.seconds else 0.0

    @property
    def p99_ms(self) -> float:
        return self.latency_ms.get(99, float("nan"))

    @property
    def errors(self) -> int:
        return self.non_2xx + self.socket_errors


def parse(output: str) -> WrkRun:
    total = TOTAL_LINE.search(output)
    if total is None:
        raise WrkError(f"wrk printed no request count:\n{output}")
    socket_errors = SOCKET_ERRORS_LINE.search(output)
    non_2xx = NON_2XX_LINE.search(output)
    return WrkRun(
        requests=int(total.group(1)),
        seconds=seconds_of(total.group(2), total.group(3)),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(map(int, socket_errors.groups())) if socket_errors else 0,
        latency_ms={
            int(pct): seconds_of(value, unit) * 1000
            for pct, value, unit in PERCENTILE_LINE.findall(output)
        },
        statuses={int(code): int(count) for code, count in STATUS_LINE.findall(output)},
    )


@dataclass(frozen=True)
class Load:
    """What one wrk process sends: always to 127.0.0.1, for a fixed time, on fixed connections."""

    url: str
    seconds: float
    connections: int
    headers: tuple[str, ...] = ()
    script: str | None = None  # a file in wrk_scripts/
    script_args: tuple[str, ...] = ()
    timeout_seconds: int = 5

    def command(self, wrk: str) -> list[str]:
        if not self.url.startswith("http://127.0.0.1:"):
            raise WrkError(f"refusing to send load anywhere but 127.0.0.1: {self.url}")
        command = [
            wrk,
            "--latency",
            "--threads=1",
            f"--connections={self.connections}",
            f"--duration={self.seconds:g}s",
            f"--timeout={self.timeout_seconds}s",
        ]
        for header in self.headers:
            command += ["--header", header]
        if self.script:
            command += ["--script", str(SCRIPTS / self.script)]
        command.append(self.url)
        if self.script_args:
            command += ["--", *self.script_args]
        return command


def run_together(wrk: str, loads: list[Load]) -> list[WrkRun]:
    """Runs every load at once and returns their results in the same order."""
    processes: list[subprocess.Popen[str]] = []
    try:
        for load in loads:
            processes.append(
                subprocess.Popen(
                    load.command(wrk), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
                )
            )
        return [
            finish(process, load.seconds + GRACE_SECONDS)
            for process, load in zip(processes, loads, strict=True)
        ]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()


def finish(process: "subprocess.Popen[str]", timeout: float) -> WrkRun:
    stdout, stderr = process.communicate(timeout=timeout)
    if process.returncode != 0:
        raise WrkError(f"wrk failed ({process.returncode}): {stderr.strip() or stdout.strip()}")
    return parse(stdout)


def version(wrk: str) -> str:
    # `wrk --version` prints its banner and exits 1.
    result = subprocess.run([wrk, "--version"], capture_output=True, text=True, check=False)
    banner = (result.stdout or result.stderr).splitlines()[0]
    return banner.split(" Copyright")[0].strip()
