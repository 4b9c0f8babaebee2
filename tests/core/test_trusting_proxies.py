"""X-Forwarded-For is believed only from TRUSTED_PROXIES, and then the client is the rightmost
address that is not a trusted proxy; the sessions list and the login throttle both see it."""

import pytest

from tests.factories import DEFAULT_PASSWORD, make_user
from tests.fixtures.keys_and_servers import client_of

PROXY = "203.0.113.7"
CLIENT = "198.51.100.1"
WRONG_PASSWORD = "not the right password"


async def session_ip(client, forwarded_for: str | None) -> str:
    """Logs alice in with that X-Forwarded-For and returns the address her session records."""
    headers = {} if forwarded_for is None else {"X-Forwarded-For": forwarded_for}
    form = {"grant_type": "password", "username": "alice", "password": DEFAULT_PASSWORD}
    issued = await client.post("/token", data=form, headers=headers)
    assert issued.status_code == 200, issued.text
    bearer = {"Authorization": f"Bearer {issued.json()['access_token']}"}
    sessions = (await client.get("/users/me/sessions", headers=bearer)).json()
    (current,) = [s for s in sessions if s["current"]]
    ip: str = current["ip"]
    return ip


async def attempt(client, password: str, forwarded_for: str) -> int:
    form = {"grant_type": "password", "username": "alice", "password": password}
    response = await client.post("/token", data=form, headers={"X-Forwarded-For": forwarded_for})
    return response.status_code


@pytest.mark.parametrize("peer", [PROXY, "127.0.0.1"])
async def test_by_default_x_forwarded_for_is_ignored(app, services, peer):
    await make_user(services)
    async with client_of(app, peer) as client:
        assert await session_ip(client, CLIENT) == peer


async def test_from_a_trusted_proxy_the_forwarded_client_is_used(start_app):
    app = await start_app(trusted_proxies=PROXY)
    await make_user(app.services)
    async with client_of(app, PROXY) as client:
        assert await session_ip(client, f"{CLIENT}, {PROXY}") == CLIENT
        assert await session_ip(client, CLIENT) == CLIENT


async def test_through_a_chain_the_client_is_the_rightmost_untrusted_address(start_app):
    app = await start_app(trusted_proxies=f"{PROXY}, 10.0.0.0/8")
    await make_user(app.services)
    async with client_of(app, PROXY) as client:
        # The leftmost entry is whatever the client wrote; only the hops the trusted proxies
        # appended count, and the first untrusted one from the right is the client.
        forged_chain = f"192.0.2.66, {CLIENT}, 10.1.2.3"
        assert await session_ip(client, forged_chain) == CLIENT


@pytest.mark.parametrize(
    "malformed",
    ["not-an-address", f"{CLIENT}, garbage", "999.1.1.1", ",,,", " ", f"{CLIENT}\x00"],
    ids=["word", "garbage-last", "bad-octet", "commas", "blank", "nul"],
)
async def test_a_malformed_forwarded_header_falls_back_to_the_peer(start_app, malformed):
    app = await start_app(trusted_proxies=PROXY)
    await make_user(app.services)
    async with client_of(app, PROXY) as client:
        assert await session_ip(client, malformed) == PROXY


async def test_from_an_untrusted_peer_the_header_is_ignored(start_app):
    app = await start_app(trusted_proxies=PROXY)
    await make_user(app.services)
    async with client_of(app, "192.0.2.50") as client:
        assert await session_ip(client, f"{CLIENT}, {PROXY}") == "192.0.2.50"


async def test_a_forged_header_does_not_escape_the_login_throttle(start_app):
    app = await start_app(trusted_proxies=PROXY)
    await make_user(app.services)
    async with client_of(app, "192.0.2.50") as attacker:
        for n in range(5):
            assert await attempt(attacker, WRONG_PASSWORD, f"198.51.100.{n + 10}") == 400

        assert await attempt(attacker, DEFAULT_PASSWORD, "198.51.100.99") == 429


async def test_behind_a_trusted_proxy_the_throttle_tells_clients_apart(start_app):
    app = await start_app(trusted_proxies=PROXY)
    await make_user(app.services)
    async with client_of(app, PROXY) as proxy:
        for _ in range(5):
            assert await attempt(proxy, WRONG_PASSWORD, CLIENT) == 400

        assert await attempt(proxy, DEFAULT_PASSWORD, CLIENT) == 429
        # Another client behind the same proxy is not locked out by the first one's failures.
        assert await attempt(proxy, DEFAULT_PASSWORD, "198.51.100.2") == 200
