"""The client address that throttling counts and sessions show: the socket's peer, unless
that peer is in TRUSTED_PROXIES; then the rightmost X-Forwarded-For hop that is not trusted
(docs/contract.md)."""

from tests.factories import login, make_user
from tests.fixtures.signed_in_users import password_form

WRONG = "not the password at all"
TEST_CLIENT = "203.0.113.7"  # the address the test clients connect from


def forwarded_for(address: str) -> dict[str, str]:
    return {"X-Forwarded-For": address}


async def session_ips(client, tokens) -> list[str]:
    response = await client.get("/users/me/sessions", headers=tokens.headers)
    assert response.status_code == 200, response.text
    return [session["ip"] for session in response.json()]


async def test_without_trusted_proxies_a_forged_forwarded_for_changes_nothing(client, services):
    await make_user(services)
    for n in range(5):
        response = await client.post(
            "/token", data=password_form(password=WRONG), headers=forwarded_for(f"10.0.0.{n}")
        )
        assert response.status_code == 400, response.text
    response = await client.post("/token", data=password_form(), headers=forwarded_for("10.0.0.99"))
    assert response.status_code == 429, response.text


async def test_without_trusted_proxies_a_session_shows_the_socket_address(client, services):
    await make_user(services)
    response = await client.post("/token", data=password_form(), headers=forwarded_for("192.0.2.1"))
    assert response.status_code == 200, response.text
    tokens = await login(client)
    assert await session_ips(client, tokens) == [TEST_CLIENT, TEST_CLIENT]


async def test_behind_a_trusted_proxy_each_forwarded_client_is_counted_apart(start_app):
    proxied = await start_app(trusted_proxies=TEST_CLIENT)
    await make_user(proxied.services)
    async with proxied.client() as proxy:
        for _ in range(5):
            response = await proxy.post(
                "/token", data=password_form(password=WRONG), headers=forwarded_for("192.0.2.1")
            )
            assert response.status_code == 400, response.text
        locked = await proxy.post(
            "/token", data=password_form(), headers=forwarded_for("192.0.2.1")
        )
        other = await proxy.post("/token", data=password_form(), headers=forwarded_for("192.0.2.2"))
    assert locked.status_code == 429, locked.text
    assert other.status_code == 200, other.text


async def test_behind_a_trusted_proxy_a_session_shows_the_forwarded_address(start_app):
    proxied = await start_app(trusted_proxies=TEST_CLIENT)
    await make_user(proxied.services)
    async with proxied.client() as proxy:
        response = await proxy.post(
            "/token", data=password_form(), headers=forwarded_for("192.0.2.1")
        )
        assert response.status_code == 200, response.text
        headers = {"Authorization": f"Bearer {response.json()['access_token']}"}
        sessions = await proxy.get("/users/me/sessions", headers=headers)
    assert sessions.status_code == 200, sessions.text
    assert [s["ip"] for s in sessions.json()] == ["192.0.2.1"]


async def login_through(proxied, forwarded: str, peer: str = TEST_CLIENT) -> list[str]:
    """Logs in through `peer` with that X-Forwarded-For and returns the session's ip."""
    async with proxied.client(ip=peer) as proxy:
        response = await proxy.post(
            "/token", data=password_form(), headers=forwarded_for(forwarded)
        )
        assert response.status_code == 200, response.text
        headers = {"Authorization": f"Bearer {response.json()['access_token']}"}
        sessions = await proxy.get("/users/me/sessions", headers=headers)
    assert sessions.status_code == 200, sessions.text
    return [s["ip"] for s in sessions.json()]


async def test_through_a_chain_the_client_is_the_rightmost_untrusted_hop(start_app):
    proxied = await start_app(trusted_proxies=f"{TEST_CLIENT}, 10.0.0.0/8")
    await make_user(proxied.services)
    # 6.6.6.6 is whatever the client itself claimed; 10.0.0.3 is an inner trusted proxy.
    ips = await login_through(proxied, "6.6.6.6, 192.0.2.1, 10.0.0.3")
    assert ips == ["192.0.2.1"]


async def test_a_forwarded_for_from_an_untrusted_peer_is_ignored_even_when_proxies_are_set(
    start_app,
):
    proxied = await start_app(trusted_proxies="10.0.0.0/8")
    await make_user(proxied.services)
    ips = await login_through(proxied, "192.0.2.1")
    assert ips == [TEST_CLIENT]


async def test_a_malformed_forwarded_for_from_a_trusted_proxy_is_not_taken_as_an_address(
    start_app,
):
    proxied = await start_app(trusted_proxies=TEST_CLIENT)
    await make_user(proxied.services)
    ips = await login_through(proxied, "not-an-address\x7f, <script>")
    assert ips == [TEST_CLIENT]
