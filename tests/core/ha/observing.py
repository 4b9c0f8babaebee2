"""What the failover tests need around an app: unique names (these tests share the test
database and do not empty it), a session id from an access token, and a bounded poll that
records every status it saw and how long the service was not itself."""

import asyncio
import base64
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx
import pytest

log = logging.getLogger("tests.ha")
POLL_SECONDS = 0.05


def unique_name(prefix: str) -> str:
    return f"{prefix}{secrets.token_hex(4)}"


def session_id_of(access_token: str) -> str:
    payload = access_token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    sid: str = claims["sid"]
    return sid


@dataclass
class Observation:
    """Every status seen while polling, and when the service was last seen not itself."""

    statuses: list[int] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    last_unhealthy: float | None = None
    recovered_after: float | None = None

    @property
    def unhealthy_seconds(self) -> float:
        return 0.0 if self.last_unhealthy is None else self.last_unhealthy - self.started

    def assert_no_server_errors_but_503(self) -> None:
        errors = [s for s in self.statuses if s >= 500 and s != 503]
        assert not errors, f"server errors while failing over: {errors}"


async def observe_until_healthy(
    step: Callable[[Observation], Awaitable[bool]],
    *,
    what: str,
    timeout_seconds: float,
) -> Observation:
    """Runs `step` (which records statuses and returns whether the service is fully itself
    again) until it says so; fails the test after `timeout_seconds`. Logs the seconds the
    service was degraded (run pytest with --log-cli-level=INFO to read them)."""
    observation = Observation()
    deadline = observation.started + timeout_seconds
    while not await step(observation):
        observation.last_unhealthy = time.monotonic()
        if observation.last_unhealthy > deadline:
            pytest.fail(f"not within {timeout_seconds:.0f} s: {what}")
        await asyncio.sleep(POLL_SECONDS)
    observation.recovered_after = time.monotonic() - observation.started
    log.info(
        "%s: degraded for %.2f s, fully back after %.2f s",
        what,
        observation.unhealthy_seconds,
        observation.recovered_after,
    )
    return observation


def record(observation: Observation, response: httpx.Response) -> httpx.Response:
    observation.statuses.append(response.status_code)
    return response


def auth_source(response: httpx.Response) -> str | None:
    """ "cache" or "db", from `Server-Timing: auth;desc=...`."""
    header = response.headers.get("server-timing", "")
    for part in header.split(";"):
        if part.startswith("desc="):
            return part.removeprefix("desc=").strip('"')
    return None
