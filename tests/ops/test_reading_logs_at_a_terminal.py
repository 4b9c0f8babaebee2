"""In development a person reads keygate's logs at a terminal: one short line a request with
its time, method, path, status, duration and user. LOG_FORMAT chooses; production defaults to
JSON. Either way no password or token is written."""

import logging
import re
import sys

import httpx
import pytest

from app.core.settings import Settings
from app.ops.logging import ConsoleFormatter
from tests.factories import basic
from tests.fixtures.keys_and_servers import served_keygate

PASSWORD = "amber-kettle-orchard-61"
JWT_SECRET = "console-log-test-secret-" + "c" * 24
ACCESS_LINE = re.compile(
    r"^(?P<time>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) (?P<method>[A-Z]+) (?P<path>\S+)"
    r" (?P<status>\d{3}) (?P<ms>\d+(\.\d+)?)ms user=(?P<user>\d+|-)$"
)


async def test_in_development_each_request_is_one_readable_line(tmp_path, database):
    async with served_keygate(tmp_path, JWT_SECRET=JWT_SECRET) as served:
        async with httpx.AsyncClient(base_url=served.url) as http:
            registered = await http.post("/users", json={"username": "ivy", "password": PASSWORD})
            assert registered.status_code == 201, registered.text
            user_id = registered.json()["id"]
            issued = await http.post(
                "/token", data={"grant_type": "password", "username": "ivy", "password": PASSWORD}
            )
            assert issued.status_code == 200, issued.text
            token = issued.json()["access_token"]
            me = await http.get("/users/me", headers={"Authorization": f"Bearer {token}"})
            assert me.status_code == 200
            by_basic = await http.get("/products", headers=basic("ivy", PASSWORD))
            assert by_basic.status_code == 200
            refused = await http.get("/users/me")
            assert refused.status_code == 401
        await served.stop()
    output = served.stdout + served.stderr

    lines = [m.groupdict() for m in map(ACCESS_LINE.match, output.splitlines()) if m]
    sent = [
        (m["method"], m["path"], m["status"], m["user"]) for m in lines if m["path"] != "/health"
    ]

    assert sent == [
        ("POST", "/users", "201", "-"),
        ("POST", "/token", "200", "-"),
        ("GET", "/users/me", "200", str(user_id)),
        ("GET", "/products", "200", str(user_id)),
        ("GET", "/users/me", "401", "-"),
    ], output
    assert "Application startup complete." in output  # uvicorn's own lines, readable too
    assert "{" not in output
    for secret in (PASSWORD, token, JWT_SECRET):
        assert secret not in output


async def test_log_format_json_gives_json_in_development_too(tmp_path, database):
    async with served_keygate(tmp_path, JWT_SECRET=JWT_SECRET, LOG_FORMAT="json") as served:
        async with httpx.AsyncClient(base_url=served.url) as http:
            assert (await http.get("/users/me")).status_code == 401
        await served.stop()

    assert '"path": "/users/me", "status": 401' in served.stdout, served.stdout


@pytest.mark.parametrize(
    ("env", "log_format", "expected"),
    [
        ("development", None, "console"),
        ("production", None, "json"),
        ("development", "json", "json"),
        ("production", "console", "console"),
    ],
)
def test_log_format_defaults_to_the_environment_and_can_be_chosen(env, log_format, expected):
    settings = Settings(_env_file=None, app_env=env, jwt_secret="p" * 40, log_format=log_format)

    assert settings.effective_log_format == expected


def test_a_path_with_a_newline_stays_on_one_console_line():
    record = logging.LogRecord("keygate.access", logging.INFO, __file__, 1, "request", None, None)
    record.__dict__.update(
        method="GET", path="/x\n2026-01-01 GET /forged 200", status=404, duration_ms=1.5
    )

    line = ConsoleFormatter().format(record)

    assert "\n" not in line
    assert line.endswith(r"GET /x\n2026-01-01 GET /forged 200 404 1.5ms user=-")


def fail() -> None:
    raise RuntimeError("the database went away")


def test_an_error_logged_with_its_request_keeps_its_message_and_traceback():
    try:
        fail()
    except RuntimeError:
        error = sys.exc_info()
    record = logging.LogRecord(
        "keygate.error", logging.ERROR, __file__, 1, "unhandled error", None, error
    )
    record.__dict__.update(method="POST", path="/token")

    text = ConsoleFormatter().format(record)

    assert "ERROR   keygate.error: unhandled error" in text
    assert "RuntimeError: the database went away" in text
