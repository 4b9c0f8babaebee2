"""A real `keygate serve` process through a whole flow: every line it writes is one JSON object,
each request has an access line with its id, and no password, token or hash ever appears."""

import base64
import json
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from app.ops.logging import JsonLineFormatter
from tests.factories import basic
from tests.fixtures.keys_and_servers import ServedKeygate, served_keygate

PASSWORD = "plum-orchard-lantern-93"
WRONG_PASSWORD = "quince-harbor-walnut-58"
JWT_SECRET = "log-test-signing-secret-" + "q" * 24


@dataclass(frozen=True)
class Sent:
    request_id: str
    method: str
    path: str
    status: int
    user_id: int | None  # the user the access line must name


class Flow:
    """Requests made against the served process, each with its own X-Request-ID."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self.sent: list[Sent] = []

    async def call(
        self, method: str, path: str, *, user_id: int | None = None, **kwargs: Any
    ) -> httpx.Response:
        request_id = f"flow-{len(self.sent)}-{uuid.uuid4().hex[:8]}"
        headers = {**kwargs.pop("headers", {}), "X-Request-ID": request_id}
        response = await self.http.request(method, path, headers=headers, **kwargs)
        self.sent.append(Sent(request_id, method, path, response.status_code, user_id))
        return response


async def whole_flow(flow: Flow) -> tuple[list[str], list[str]]:
    """Register, log in, call by bearer and Basic, refresh, fail a login, log out.
    Returns every access and refresh token issued."""
    registered = await flow.call("POST", "/users", json={"username": "dora", "password": PASSWORD})
    assert registered.status_code == 201, registered.text
    user_id = registered.json()["id"]

    issued = await flow.call(
        "POST", "/token", data={"grant_type": "password", "username": "dora", "password": PASSWORD}
    )
    assert issued.status_code == 200, issued.text
    first = issued.json()
    bearer = {"Authorization": f"Bearer {first['access_token']}"}
    me = await flow.call("GET", "/users/me", headers=bearer, user_id=user_id)
    assert me.status_code == 200
    by_basic = await flow.call("GET", "/products", headers=basic("dora", PASSWORD), user_id=user_id)
    assert by_basic.status_code == 200
    refreshed = await flow.call(
        "POST",
        "/token",
        data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
    )
    assert refreshed.status_code == 200, refreshed.text
    second = refreshed.json()
    wrong = await flow.call(
        "POST",
        "/token",
        data={"grant_type": "password", "username": "dora", "password": WRONG_PASSWORD},
    )
    assert wrong.status_code == 400
    wrong_basic = await flow.call("GET", "/users/me", headers=basic("dora", WRONG_PASSWORD))
    assert wrong_basic.status_code == 401
    bearer = {"Authorization": f"Bearer {second['access_token']}"}
    logout = await flow.call("POST", "/logout", headers=bearer, user_id=user_id)
    assert logout.status_code == 204
    after = await flow.call("GET", "/users/me", headers=bearer)
    assert after.status_code == 401
    return (
        [first["access_token"], second["access_token"]],
        [first["refresh_token"], second["refresh_token"]],
    )


def json_lines(text: str) -> list[dict[str, Any]]:
    parsed = []
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise AssertionError(f"not a JSON line: {line!r}") from exc
        assert isinstance(record, dict), line
        parsed.append(record)
    return parsed


def secrets_used(access_tokens: list[str], refresh_tokens: list[str], hashes: list[str]):
    for password in (PASSWORD, WRONG_PASSWORD):
        yield "password", password
        yield "basic credentials", base64.b64encode(f"dora:{password}".encode()).decode()
    for token in access_tokens:
        yield "access token", token
        yield "access token signature", token.rsplit(".", 1)[1]
    for token in refresh_tokens:
        yield "refresh token", token
    for password_hash in hashes:
        yield "password hash", password_hash
        yield "password hash digest", password_hash[-31:]
    yield "JWT secret", JWT_SECRET


@dataclass(frozen=True)
class FlowRun:
    output: ServedKeygate
    sent: list[Sent]
    access_tokens: list[str]
    refresh_tokens: list[str]
    password_hashes: list[str]


async def run_flow(tmp_path, database) -> FlowRun:
    """The whole flow against a served process, stopped with SIGTERM at the end."""
    async with served_keygate(tmp_path, JWT_SECRET=JWT_SECRET, LOG_FORMAT="json") as served:
        async with httpx.AsyncClient(base_url=served.url) as http:
            flow = Flow(http)
            access_tokens, refresh_tokens = await whole_flow(flow)
        rows = await database.fetch("SELECT password_hash FROM users")
        await served.stop()  # the shutdown's own lines are part of what is checked
    return FlowRun(served, flow.sent, access_tokens, refresh_tokens, [r[0] for r in rows])


async def test_every_line_is_json_with_time_and_level_and_each_request_has_an_access_line(
    tmp_path, database
):
    started = datetime.now(UTC)
    run = await run_flow(tmp_path, database)
    ended = datetime.now(UTC)

    records = json_lines(run.output.stdout) + json_lines(run.output.stderr)

    assert records
    for record in records:
        # ISO 8601 with the UTC offset, as log pipelines read it.
        moment = datetime.fromisoformat(record["time"])
        assert moment.utcoffset() == timedelta(0), record
        assert started - timedelta(seconds=5) <= moment <= ended + timedelta(seconds=5), record
        assert record.get("level"), record
    # uvicorn's own lines are among them (so they too are JSON).
    assert any("Started server process" in json.dumps(r) for r in records)
    for request in run.sent:
        access = [
            r
            for r in records
            if r.get("request_id") == request.request_id and r.get("path") == request.path
        ]
        assert len(access) == 1, (request, access)
        (line,) = access
        assert line["method"] == request.method
        assert line["status"] == request.status
        assert isinstance(line["duration_ms"], int | float)
        assert line["duration_ms"] >= 0
        if request.user_id is not None:
            assert line["user_id"] == request.user_id, line


async def test_no_password_token_or_hash_appears_anywhere_in_the_output(tmp_path, database):
    run = await run_flow(tmp_path, database)
    output = run.output.stdout + run.output.stderr
    assert run.password_hashes

    leaks = [
        what
        for what, value in secrets_used(run.access_tokens, run.refresh_tokens, run.password_hashes)
        if value in output
    ]

    assert not leaks, f"found in the logs: {leaks}"


def test_the_time_of_a_json_line_is_the_moment_of_the_record_in_utc():
    record = logging.makeLogRecord({"msg": "request", "levelname": "INFO", "name": "keygate"})
    record.created = 1_796_532_417.234  # 2026-12-06 04:46:57.234 UTC
    record.msecs = 234.0

    line = json.loads(JsonLineFormatter().format(record))

    moment = datetime.fromisoformat(line["time"])
    assert moment.utcoffset() == timedelta(0)
    assert moment == datetime(2026, 12, 6, 4, 46, 57, 234000, tzinfo=UTC)
    assert line["time"].startswith("2026-12-06T04:46:57.234")
