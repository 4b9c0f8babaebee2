"""SIGTERM to a real `keygate serve` while logins are in flight: each of them still gets its
answer (no reset), then the process ends cleanly. BCRYPT_ROUNDS=12 keeps every login busy
for a few hundred milliseconds, long enough to be caught mid-way."""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.fixtures.keys_and_servers import ServedKeygate, served_keygate

PASSWORD = "plum-orchard-lantern-93"
IN_FLIGHT = 4


@pytest.fixture
async def slow_server(tmp_path) -> AsyncIterator[ServedKeygate]:
    async with served_keygate(
        tmp_path, BCRYPT_ROUNDS="12", JWT_SECRET="s" * 40, LOG_FORMAT="json"
    ) as served:
        async with httpx.AsyncClient(base_url=served.url) as http:
            registered = await http.post(
                "/users", json={"username": "erin", "password": PASSWORD}, timeout=30
            )
            assert registered.status_code == 201, registered.text
        yield served


async def sigterm_during_logins(served: ServedKeygate) -> list[httpx.Response | BaseException]:
    """Starts IN_FLIGHT logins, each on its own connection; once every request has been sent
    and the server has since answered another request (so it has read them all), SIGTERM."""
    sent = [asyncio.Event() for _ in range(IN_FLIGHT)]

    def tracer(done: asyncio.Event):
        async def trace(event: str, _: dict[str, Any]) -> None:
            if event == "http11.send_request_body.complete":
                done.set()

        return trace

    clients = [httpx.AsyncClient(base_url=served.url, timeout=30) for _ in range(IN_FLIGHT)]
    try:
        form = {"grant_type": "password", "username": "erin", "password": PASSWORD}
        logins = [
            asyncio.create_task(c.post("/token", data=form, extensions={"trace": tracer(e)}))
            for c, e in zip(clients, sent, strict=True)
        ]
        await asyncio.wait_for(asyncio.gather(*(e.wait() for e in sent)), 10)
        async with httpx.AsyncClient(base_url=served.url) as probe:
            assert (await probe.get("/health")).status_code == 200
        assert not any(task.done() for task in logins), "the logins finished before SIGTERM"
        served.terminate()
        return await asyncio.gather(*logins, return_exceptions=True)
    finally:
        for c in clients:
            await c.aclose()


async def test_logins_in_flight_at_sigterm_all_complete(slow_server):
    answers = await sigterm_during_logins(slow_server)
    await slow_server.wait()

    statuses = [a.status_code if isinstance(a, httpx.Response) else repr(a) for a in answers]
    assert statuses == [200] * IN_FLIGHT
    assert all(a.json()["access_token"] for a in answers if isinstance(a, httpx.Response))
    assert '"Application shutdown complete."' in slow_server.stdout


async def test_the_process_exits_0_after_sigterm_with_logins_in_flight(slow_server):
    await sigterm_during_logins(slow_server)

    assert await slow_server.wait() == 0, slow_server.stdout[-2000:] + slow_server.stderr
