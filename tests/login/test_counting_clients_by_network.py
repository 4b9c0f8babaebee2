"""Per-address windows count an IPv6 client as its /64 (one subscriber's allocation: an
attacker there has 2^64 addresses), and several X-Forwarded-For header lines are read as one
list, in order (docs/contract.md; RFC 9110 §5.3)."""

from tests.factories import make_user
from tests.fixtures.attacks import (
    LOGIN_MAX_FAILURES,
    TEST_CLIENT,
    WRONG,
    assert_token_throttled,
    bearer,
    client_at,
    password_form,
)


async def fail_from(client, times: int = LOGIN_MAX_FAILURES, headers=None) -> None:
    for attempt in range(times):
        response = await client.post("/token", data=password_form(password=WRONG), headers=headers)
        assert response.status_code == 400, (attempt, response.text)


def forwarded_for(*lines: str) -> list[tuple[str, str]]:
    """One X-Forwarded-For header line per argument, in this order."""
    return [("X-Forwarded-For", line) for line in lines]


async def session_ip(client, response) -> str:
    assert response.status_code == 200, response.text
    access_token = response.json()["access_token"]
    sessions = await client.get("/users/me/sessions", headers=bearer(access_token))
    assert sessions.status_code == 200, sessions.text
    (session,) = sessions.json()
    ip: str = session["ip"]
    return ip


async def test_two_ipv6_clients_of_one_64_share_a_lockout(app, services):
    await make_user(services)
    first, same = client_at(app, "2001:db8:0:7::1"), client_at(app, "2001:db8:0:7::2")
    async with first, same:
        await fail_from(first)
        response = await same.post("/token", data=password_form())
    assert_token_throttled(response)


async def test_an_ipv6_client_of_another_64_is_not_locked(app, services):
    await make_user(services)
    first, other = client_at(app, "2001:db8:0:7::1"), client_at(app, "2001:db8:0:8::1")
    async with first, other:
        await fail_from(first)
        response = await other.post("/token", data=password_form())
    assert response.status_code == 200, response.text


async def test_behind_a_proxy_forwarded_ipv6_clients_of_one_64_share_a_lockout(start_app):
    proxied = await start_app(trusted_proxies=TEST_CLIENT)
    await make_user(proxied.services)
    async with client_at(proxied) as proxy:
        await fail_from(proxy, headers=forwarded_for("2001:db8::1"))
        response = await proxy.post(
            "/token", data=password_form(), headers=forwarded_for("2001:db8::2")
        )
    assert_token_throttled(response)


async def test_behind_a_proxy_a_forwarded_ipv6_client_of_another_64_is_not_locked(start_app):
    proxied = await start_app(trusted_proxies=TEST_CLIENT)
    await make_user(proxied.services)
    async with client_at(proxied) as proxy:
        await fail_from(proxy, headers=forwarded_for("2001:db8::1"))
        response = await proxy.post(
            "/token", data=password_form(), headers=forwarded_for("2001:db8:0:1::1")
        )
    assert response.status_code == 200, response.text


async def test_ipv4_mapped_clients_are_counted_as_their_ipv4_address_not_as_one_64(start_app):
    # ::ffff:0:0/96 lies inside one /64: counted by it, every IPv4 client a dual-stack proxy
    # forwards would share a window.
    proxied = await start_app(trusted_proxies=TEST_CLIENT)
    await make_user(proxied.services)
    async with client_at(proxied) as proxy:
        await fail_from(proxy, headers=forwarded_for("::ffff:192.0.2.1"))
        response = await proxy.post(
            "/token", data=password_form(), headers=forwarded_for("::ffff:192.0.2.2")
        )
    assert response.status_code == 200, response.text


async def test_several_forwarded_for_lines_are_one_list_whose_rightmost_untrusted_is_the_client(
    start_app,
):
    proxied = await start_app(trusted_proxies=TEST_CLIENT)
    await make_user(proxied.services)
    async with client_at(proxied) as proxy:
        # What the client claimed, then what the proxy appended as a line of its own.
        response = await proxy.post(
            "/token", data=password_form(), headers=forwarded_for("6.6.6.6", "192.0.2.1")
        )
        assert await session_ip(proxy, response) == "192.0.2.1"


async def test_lines_are_read_in_order_through_a_chain_of_proxies(start_app):
    proxied = await start_app(trusted_proxies=f"{TEST_CLIENT}, 10.0.0.0/8")
    await make_user(proxied.services)
    async with client_at(proxied) as proxy:
        response = await proxy.post(
            "/token",
            data=password_form(),
            headers=forwarded_for("6.6.6.6", "192.0.2.1, 10.0.0.3", "10.0.0.4"),
        )
        assert await session_ip(proxy, response) == "192.0.2.1"


async def test_a_forged_first_forwarded_for_line_is_no_way_around_the_lockout(start_app):
    proxied = await start_app(trusted_proxies=TEST_CLIENT)
    await make_user(proxied.services)
    async with client_at(proxied) as proxy:
        # The attacker changes the line it writes on every try; the proxy's line stays.
        for n in range(LOGIN_MAX_FAILURES):
            response = await proxy.post(
                "/token",
                data=password_form(password=WRONG),
                headers=forwarded_for(f"6.6.6.{n}", "192.0.2.1"),
            )
            assert response.status_code == 400, response.text
        response = await proxy.post(
            "/token", data=password_form(), headers=forwarded_for("6.6.6.99", "192.0.2.1")
        )
    assert_token_throttled(response)
