"""JWT_LEEWAY_SECONDS (docs/contract.md), 0 by default: an access token is refused once
ACCESS_TOKEN_TTL_SECONDS plus the leeway have passed, and not a second later."""

from tests.factories import login, make_user
from tests.fixtures.attacks import client_at

TTL_SECONDS = 900  # ACCESS_TOKEN_TTL_SECONDS's default


async def me_after(app, clock, seconds_past_expiry: float) -> int:
    async with client_at(app) as client:
        tokens = await login(client)
        clock.advance(TTL_SECONDS + seconds_past_expiry)
        return (await client.get("/users/me", headers=tokens.headers)).status_code


async def test_by_default_an_access_token_is_refused_a_second_after_it_expires(
    app, services, clock
):
    await make_user(services)
    assert await me_after(app, clock, 1) == 401


async def test_by_default_an_access_token_is_accepted_until_it_expires(app, services, clock):
    await make_user(services)
    assert await me_after(app, clock, -1) == 200


async def test_with_a_leeway_an_access_token_is_accepted_twenty_seconds_past_expiry(
    start_app, clock
):
    app = await start_app(jwt_leeway_seconds=30)
    await make_user(app.services)
    assert await me_after(app, clock, 20) == 200


async def test_with_a_leeway_an_access_token_is_refused_once_the_leeway_has_passed(
    start_app, clock
):
    app = await start_app(jwt_leeway_seconds=30)
    await make_user(app.services)
    assert await me_after(app, clock, 31) == 401


async def test_by_default_introspection_calls_a_token_inactive_a_second_after_it_expires(
    app, client, services, clock
):
    await make_user(services)
    await make_user(services, "root", is_admin=True)
    tokens = await login(client)
    clock.advance(TTL_SECONDS + 1)
    admin = await login(client, "root")
    response = await client.post(
        "/token/introspect", data={"token": tokens.access_token}, headers=admin.headers
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"active": False}
