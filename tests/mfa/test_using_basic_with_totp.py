"""HTTP Basic cannot carry a second factor, so it is refused for users with TOTP."""

from tests.conftest import make_settings, running_app
from tests.factories import DEFAULT_PASSWORD, basic, login, make_user
from tests.fixtures.totp import enable_totp


async def test_basic_with_the_right_password_is_refused_for_a_totp_user(client, totp_user):
    response = await client.get("/users/me", headers=basic("alice", totp_user.password))

    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_basic_is_refused_right_after_totp_is_enabled(client, services, clock):
    await make_user(services)
    session = await login(client)
    credentials = basic("alice", DEFAULT_PASSWORD)
    # Twice: the second request is served by whatever the first one cached.
    assert (await client.get("/users/me", headers=credentials)).status_code == 200
    assert (await client.get("/users/me", headers=credentials)).status_code == 200

    await enable_totp(client, session, clock)

    assert (await client.get("/users/me", headers=credentials)).status_code == 401


async def test_basic_is_refused_on_another_instance_right_after_totp_is_enabled(
    client, services, clock
):
    await make_user(services)
    session = await login(client)
    credentials = basic("alice", DEFAULT_PASSWORD)
    async with running_app(make_settings(), clock) as second, second.client() as other:
        assert (await other.get("/users/me", headers=credentials)).status_code == 200
        assert (await other.get("/users/me", headers=credentials)).status_code == 200

        await enable_totp(client, session, clock)

        assert (await other.get("/users/me", headers=credentials)).status_code == 401
