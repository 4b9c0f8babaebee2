"""requests-oauthlib logs in and refreshes against a real server over TCP, as the issue's
"done when" asks: the password grant with client authentication as a Basic header (the
library's default), then the refresh_token grant."""

import asyncio
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest
import uvicorn
from jose import jwt
from oauthlib.oauth2 import LegacyApplicationClient
from requests_oauthlib import OAuth2Session

from app.main import create_app
from tests.conftest import make_settings
from tests.factories import DEFAULT_PASSWORD, make_user

TIMEOUT_SECONDS = 30


@pytest.fixture
def listening_socket() -> Iterator[socket.socket]:
    """Bound and listening before the server starts: a client connecting early waits in the
    backlog instead of being refused, so nobody has to poll for the server to come up."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    yield sock
    sock.close()


@pytest.fixture
async def server_url(database: asyncpg.Pool, listening_socket: socket.socket) -> AsyncIterator[str]:
    config = uvicorn.Config(
        create_app(make_settings()), lifespan="on", log_level="warning", ws="none"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [listening_socket]}, daemon=True
    )
    thread.start()
    host, port = listening_socket.getsockname()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        await asyncio.to_thread(thread.join, TIMEOUT_SECONDS)
        assert not thread.is_alive(), "the server did not stop"


@pytest.fixture
def insecure_transport(monkeypatch: pytest.MonkeyPatch) -> None:
    # oauthlib refuses http:// URLs unless told this is a local test.
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")


@dataclass(frozen=True)
class ClientRun:
    first: dict[str, Any]
    refreshed: dict[str, Any]
    me_status: int
    me: dict[str, Any]
    stale_refresh_status: int


def log_in_refresh_and_read_me(base_url: str) -> ClientRun:
    """What an application using requests-oauthlib does (blocking; run in a thread)."""
    token_url = f"{base_url}/token"
    with OAuth2Session(client=LegacyApplicationClient(client_id="docs")) as session:
        first = dict(
            session.fetch_token(
                token_url=token_url,
                username="alice",
                password=DEFAULT_PASSWORD,
                client_id="docs",
                timeout=TIMEOUT_SECONDS,
            )
        )
        refreshed = dict(
            session.refresh_token(token_url, client_id="docs", timeout=TIMEOUT_SECONDS)
        )
        me = session.get(f"{base_url}/users/me", timeout=TIMEOUT_SECONDS)
        stale = session.post(
            token_url,
            data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
            timeout=TIMEOUT_SECONDS,
        )
    return ClientRun(first, refreshed, me.status_code, me.json(), stale.status_code)


@pytest.mark.usefixtures("insecure_transport")
async def test_requests_oauthlib_logs_in_and_refreshes_against_a_running_server(
    services, server_url
):
    await make_user(services)

    run = await asyncio.to_thread(log_in_refresh_and_read_me, server_url)

    assert run.first["token_type"].lower() == "bearer"
    assert run.refreshed["access_token"] != run.first["access_token"]
    assert run.refreshed["refresh_token"] != run.first["refresh_token"]
    assert (
        jwt.get_unverified_claims(run.refreshed["access_token"])["sid"]
        == jwt.get_unverified_claims(run.first["access_token"])["sid"]
    )
    assert run.me_status == 200
    assert run.me["username"] == "alice"
    # The library kept the rotated token; the first one is spent.
    assert run.stale_refresh_status == 400
