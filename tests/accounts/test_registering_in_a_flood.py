"""Registration cannot stop logins (docs/contract.md): the bcrypt work of anonymous
POST /users never takes the login queue's places, and one address registers at most
REGISTRATION_MAX_PER_ADDRESS accounts within REGISTRATION_WINDOW_SECONDS."""

import asyncio
from contextlib import AsyncExitStack

from tests.factories import make_user
from tests.fixtures.attacks import assert_detail_throttled, client_at, password_form

FLOOD_SIZE = 40  # registrations at once, each from its own address
DEFAULT_MAX_PER_ADDRESS = 20  # REGISTRATION_MAX_PER_ADDRESS's default
PASSWORD = "a long enough passphrase"


def registration(username: str) -> dict[str, str]:
    return {"username": username, "password": PASSWORD}


async def register_many(client, names: list[str]) -> list[int]:
    return [(await client.post("/users", json=registration(n))).status_code for n in names]


async def test_a_registration_flood_from_many_addresses_never_stops_a_right_password_login(
    start_app,
):
    # A login queue of one place and hashes that take real time (cost 8, ~15 ms each here):
    # forty registrations in flight fill every place a login could have.
    app = await start_app(login_queue_size=1, bcrypt_rounds=8)
    await make_user(app.services, "alice")
    async with AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(client_at(app, f"198.51.100.{n + 1}"))
            for n in range(FLOOD_SIZE)
        ]
        user = await stack.enter_async_context(client_at(app, "192.0.2.50"))
        flood = [
            asyncio.create_task(c.post("/users", json=registration(f"flood{n}")))
            for n, c in enumerate(clients)
        ]
        # Once the first registration is answered, the others wait for bcrypt behind it.
        await asyncio.wait(flood, return_when=asyncio.FIRST_COMPLETED)
        assert not all(t.done() for t in flood), "the flood ended before a login: make it larger"
        logins = []
        while not all(t.done() for t in flood):
            logins.append(await user.post("/token", data=password_form()))
        registrations = await asyncio.gather(*flood)

    assert [r.status_code for r in logins] == [200] * len(logins), [r.text for r in logins]
    # Registrations may be turned away; a login may not.
    assert {r.status_code for r in registrations} <= {201, 429, 503}


async def test_registrations_past_the_limit_from_one_address_are_429_with_retry_after(start_app):
    app = await start_app(registration_max_per_address=3, registration_window_seconds=3600)
    async with client_at(app, "198.51.100.1") as client:
        assert await register_many(client, ["user0", "user1", "user2"]) == [201, 201, 201]
        refused = await client.post("/users", json=registration("user3"))
    assert_detail_throttled(refused, at_most_seconds=3600)


async def test_the_refused_registration_makes_no_account(start_app, database):
    app = await start_app(registration_max_per_address=3, registration_window_seconds=3600)
    async with client_at(app, "198.51.100.1") as client:
        await register_many(client, ["user0", "user1", "user2"])
        assert (await client.post("/users", json=registration("user3"))).status_code == 429
    assert await database.fetchval("SELECT count(*) FROM users WHERE username = 'user3'") == 0


async def test_one_address_at_its_registration_limit_leaves_other_addresses_free(start_app):
    app = await start_app(registration_max_per_address=3, registration_window_seconds=3600)
    async with client_at(app, "198.51.100.1") as busy, client_at(app, "198.51.100.2") as other:
        await register_many(busy, ["user0", "user1", "user2", "user3"])
        response = await other.post("/users", json=registration("someone"))
    assert response.status_code == 201, response.text


async def test_the_registration_limit_lifts_once_its_window_has_passed(start_app, clock):
    app = await start_app(registration_max_per_address=3, registration_window_seconds=3600)
    async with client_at(app, "198.51.100.1") as client:
        await register_many(client, ["user0", "user1", "user2"])
        assert (await client.post("/users", json=registration("user3"))).status_code == 429
        clock.advance(3601)
        response = await client.post("/users", json=registration("user4"))
    assert response.status_code == 201, response.text


async def test_by_default_an_address_registers_twenty_accounts_and_not_twenty_one(app):
    async with client_at(app, "198.51.100.1") as client:
        names = [f"user{n}" for n in range(DEFAULT_MAX_PER_ADDRESS)]
        assert await register_many(client, names) == [201] * DEFAULT_MAX_PER_ADDRESS
        refused = await client.post("/users", json=registration("one_too_many"))
    assert_detail_throttled(refused, at_most_seconds=3600)


async def test_a_user_registered_before_the_limit_still_logs_in_from_that_address(start_app):
    app = await start_app(registration_max_per_address=1, registration_window_seconds=3600)
    async with client_at(app, "198.51.100.1") as client:
        assert (await client.post("/users", json=registration("first"))).status_code == 201
        assert (await client.post("/users", json=registration("second"))).status_code == 429
        response = await client.post("/token", data=password_form("first", PASSWORD))
    assert response.status_code == 200, response.text
