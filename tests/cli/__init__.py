"""The `keygate` console script in a real process, as an operator runs it."""

import asyncio
import os
import sys
from pathlib import Path

import pytest

from tests.conftest import TEST_DATABASE_URL, TEST_REDIS_URL

KEYGATE = str(Path(sys.executable).parent / "keygate")


class Finished:
    def __init__(self, returncode: int, stdout: str, stderr: str) -> None:
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr

    @property
    def error_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.strip()]


async def keygate(
    *args: str,
    stdin: str | None = None,
    time_limit_seconds: float = 60,
    cwd: Path,
    **env: str | None,
) -> Finished:
    """Runs the console script in `cwd` (no .env there) with the test database and Redis,
    BCRYPT_ROUNDS=4, and `env` on top (None removes a variable)."""
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(cwd),
        "DATABASE_URL": TEST_DATABASE_URL,
        "REDIS_URL": TEST_REDIS_URL,
        "BCRYPT_ROUNDS": "4",
    }
    for name, value in env.items():
        if value is None:
            environment.pop(name, None)
        else:
            environment[name] = value
    process = await asyncio.create_subprocess_exec(
        KEYGATE,
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=environment,
        cwd=cwd,
    )
    try:
        stdout, stderr = await asyncio.wait_for(
            process.communicate(stdin.encode() if stdin is not None else None), time_limit_seconds
        )
    except TimeoutError:
        process.kill()
        await process.wait()
        pytest.fail(f"keygate {' '.join(args)} still running after {time_limit_seconds}s")
    assert process.returncode is not None
    return Finished(process.returncode, stdout.decode(), stderr.decode())
