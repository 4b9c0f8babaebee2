"""Every response carries an X-Request-ID: the caller's own when it is a plain id, otherwise
a fresh one, so a request can be followed across a proxy, keygate and its logs."""

import logging
import os

import httpx
import pytest

from app.ops.logging import RequestIdFilter
from app.ops.requests import new_request_id
from tests.conftest import make_settings, running_app
from tests.factories import login, make_user

MALICIOUS_IDS = {
    "newline": "abc\ndef",
    "crlf-header-injection": "abc\r\nSet-Cookie: session=stolen",
    "json-breaking": 'abc", "level": "CRITICAL',
    "500-chars": "a" * 500,
    "empty": "",
}


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/health", 200), ("GET", "/users/me", 401), ("GET", "/no-such-page", 404)],
)
async def test_a_request_id_sent_is_returned_unchanged(client, method, path, status):
    sent = "req-7f3a9c.edge_01:42"

    response = await client.request(method, path, headers={"X-Request-ID": sent})

    assert response.status_code == status
    assert response.headers.get_list("x-request-id") == [sent]


async def test_a_request_id_is_returned_on_token_responses_and_authenticated_calls(
    client, services
):
    await make_user(services)
    tokens = await login(client)

    issued = await client.post(
        "/token",
        data={"grant_type": "password", "username": "alice", "password": "wrong password!"},
        headers={"X-Request-ID": "login-1"},
    )
    me = await client.get("/users/me", headers={**tokens.headers, "X-Request-ID": "me-1"})

    assert issued.headers["x-request-id"] == "login-1"
    assert me.headers["x-request-id"] == "me-1"


async def test_without_a_request_id_each_response_gets_a_fresh_one(client):
    ids = [(await client.get("/health")).headers.get("x-request-id") for _ in range(5)]

    assert all(ids), ids
    assert len(set(ids)) == len(ids)


@pytest.mark.parametrize("malicious", MALICIOUS_IDS.values(), ids=MALICIOUS_IDS.keys())
async def test_a_malicious_request_id_is_replaced_by_a_fresh_one(client, malicious):
    response = await client.get("/health", headers={"X-Request-ID": malicious})
    returned = response.headers.get_list("x-request-id")

    assert response.status_code == 200
    assert len(returned) == 1
    assert returned[0] != malicious
    assert returned[0].isprintable()
    assert 0 < len(returned[0]) <= 128
    assert "set-cookie" not in response.headers
    other = (await client.get("/health", headers={"X-Request-ID": malicious})).headers
    assert other["x-request-id"] != returned[0]


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.addFilter(RequestIdFilter())
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


async def test_the_error_log_of_an_unhandled_exception_carries_its_request_id(database, clock):
    async def broken() -> None:
        raise RuntimeError("a bug")

    handler = Records()
    logger = logging.getLogger("keygate")
    logger.addHandler(handler)
    try:
        async with running_app(make_settings(), clock) as running:
            running.app.add_api_route("/broken", broken)
            transport = httpx.ASGITransport(app=running.asgi, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                response = await client.get("/broken", headers={"X-Request-ID": "bug-42"})
    finally:
        logger.removeHandler(handler)

    assert response.status_code == 500
    (error,) = [r for r in handler.records if r.levelno == logging.ERROR]
    assert error.request_id == "bug-42"  # type: ignore[attr-defined]
    assert error.exc_info is not None
    assert "a bug" in str(error.exc_info[1])


# Python 3.12 warns of fork in a process with threads (the log flusher's); the child only
# writes to a pipe and exits.
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_workers_forked_from_one_parent_make_different_request_ids():
    new_request_id()  # the parent's generator in use before the fork
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover (the child)
        os.write(write, new_request_id().encode())
        os._exit(0)
    os.close(write)
    os.waitpid(child, 0)
    with os.fdopen(read) as pipe:
        childs = pipe.read()

    assert len(childs) == 32
    assert childs != new_request_id()
