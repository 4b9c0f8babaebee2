"""Enabling TOTP takes effect from the next login, even while the user's record sits in the
auth cache, on this instance and on another."""

from tests.conftest import make_settings, running_app
from tests.factories import login, make_user
from tests.fixtures.totp import enable_totp, password_login


async def test_a_login_right_after_enabling_totp_gets_mfa_required(client, services, clock):
    await make_user(services)
    session = await login(client)
    await login(client)  # served from the cache the first login filled
    assert (await client.get("/users/me", headers=session.headers)).status_code == 200

    await enable_totp(client, session, clock)

    response = await password_login(client)
    assert response.status_code == 403
    assert response.json()["error"] == "mfa_required"


async def test_a_login_on_another_instance_right_after_enabling_totp_gets_mfa_required(
    client, services, clock
):
    await make_user(services)
    session = await login(client)
    async with running_app(make_settings(), clock) as second, second.client() as other:
        await login(other)
        await login(other)

        await enable_totp(client, session, clock)

        response = await password_login(other)
    assert response.status_code == 403
    assert response.json()["error"] == "mfa_required"
