"""Every change made through the service takes effect at once on every worker, from the next
request, even where that worker had the old state cached and had just accepted it
(docs/contract.md). Worker A is the `app` fixture, worker B a second app on the same
PostgreSQL and Redis."""

import httpx
import pyotp

from tests.conftest import RunningApp
from tests.factories import DEFAULT_PASSWORD, Login, basic, login, make_user
from tests.fixtures.fault_lab import auth_source

NEW_PASSWORD = "a new and longer passphrase"


def password_form(password: str, username: str = "alice") -> dict[str, str]:
    return {"grant_type": "password", "username": username, "password": password}


async def accepted_from_cache(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    """Asks twice, so that whatever B caches (the record, the session, the Basic verifier)
    is cached, then checks that B now answers from its caches."""
    for _ in range(2):
        response = await client.get("/users/me", headers=headers)
        assert response.status_code == 200, response.text
    assert auth_source(response) == "cache"


async def test_a_password_changed_on_one_worker_stops_working_on_the_other(
    client: httpx.AsyncClient, services, second_app: RunningApp
):
    await make_user(services)
    tokens = await login(client)
    async with second_app.client() as other:
        await accepted_from_cache(other, basic("alice", DEFAULT_PASSWORD))
        assert (await other.post("/token", data=password_form(DEFAULT_PASSWORD))).is_success

        changed = await client.post(
            "/users/me/password",
            json={"current_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD},
            headers=tokens.headers,
        )
        assert changed.status_code == 204, changed.text

        refused = await other.get("/users/me", headers=basic("alice", DEFAULT_PASSWORD))
        assert refused.status_code == 401
        token = await other.post("/token", data=password_form(DEFAULT_PASSWORD))
        assert token.status_code == 400
        assert token.json()["error"] == "invalid_grant"
        assert (await other.get("/users/me", headers=basic("alice", NEW_PASSWORD))).is_success
        assert (await other.post("/token", data=password_form(NEW_PASSWORD))).is_success


async def test_a_user_deactivated_on_one_worker_is_refused_by_the_other(
    client: httpx.AsyncClient, services, second_app: RunningApp
):
    alice = await make_user(services)
    await make_user(services, "root", is_admin=True)
    admin = await login(client, "root")
    tokens = await login(client)
    async with second_app.client() as other:
        await accepted_from_cache(other, tokens.headers)
        await accepted_from_cache(other, basic("alice", DEFAULT_PASSWORD))

        patched = await client.patch(
            f"/users/{alice.id}", json={"is_active": False}, headers=admin.headers
        )
        assert patched.status_code == 200, patched.text

        assert (await other.get("/users/me", headers=tokens.headers)).status_code == 401
        basic_response = await other.get("/users/me", headers=basic("alice", DEFAULT_PASSWORD))
        assert basic_response.status_code == 401
        token = await other.post("/token", data=password_form(DEFAULT_PASSWORD))
        assert token.json()["error"] == "invalid_grant"
        refreshed = await other.post(
            "/token", data={"grant_type": "refresh_token", "refresh_token": tokens.refresh_token}
        )
        assert refreshed.json()["error"] == "invalid_grant"


async def test_an_admin_flag_removed_on_one_worker_stops_the_admin_scope_on_the_other(
    client: httpx.AsyncClient, services, second_app: RunningApp
):
    await make_user(services, "root", is_admin=True)
    deputy = await make_user(services, "deputy", is_admin=True)
    root = await login(client, "root")
    tokens = await login(client, "deputy")
    deputy_basic = basic("deputy", DEFAULT_PASSWORD)
    async with second_app.client() as other:
        for headers in (tokens.headers, deputy_basic):
            for _ in range(2):
                listed = await other.get("/users", headers=headers)
                assert listed.status_code == 200, listed.text
            assert auth_source(listed) == "cache"

        patched = await client.patch(
            f"/users/{deputy.id}", json={"is_admin": False}, headers=root.headers
        )
        assert patched.status_code == 200, patched.text

        for headers in (tokens.headers, deputy_basic):
            refused = await other.get("/users", headers=headers)
            assert refused.status_code == 403
            assert 'error="insufficient_scope"' in refused.headers["www-authenticate"]
            assert (await other.get("/users/me", headers=headers)).status_code == 200
        token = await other.post(
            "/token", data={**password_form(DEFAULT_PASSWORD, "deputy"), "scope": "admin"}
        )
        assert token.json()["error"] == "invalid_scope"


async def test_a_logout_on_one_worker_ends_the_session_on_the_other(
    client: httpx.AsyncClient, services, second_app: RunningApp
):
    await make_user(services)
    tokens = await login(client)
    async with second_app.client() as other:
        await accepted_from_cache(other, tokens.headers)

        assert (await client.post("/logout", headers=tokens.headers)).status_code == 204

        refused = await other.get("/users/me", headers=tokens.headers)
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"] == 'Bearer error="invalid_token"'


async def enable_totp(client: httpx.AsyncClient, tokens: Login) -> None:
    enrolment = await client.post(
        "/users/me/totp", headers=tokens.headers, json={"password": DEFAULT_PASSWORD}
    )
    assert enrolment.status_code == 201, enrolment.text
    code = pyotp.TOTP(enrolment.json()["secret"]).now()
    confirmed = await client.post(
        "/users/me/totp/confirm", json={"code": code}, headers=tokens.headers
    )
    assert confirmed.status_code == 200, confirmed.text


async def test_totp_enabled_on_one_worker_stops_basic_auth_and_plain_logins_on_the_other(
    client: httpx.AsyncClient, services, second_app: RunningApp
):
    await make_user(services)
    tokens = await login(client)
    async with second_app.client() as other:
        await accepted_from_cache(other, basic("alice", DEFAULT_PASSWORD))

        await enable_totp(client, tokens)

        refused = await other.get("/users/me", headers=basic("alice", DEFAULT_PASSWORD))
        assert refused.status_code == 401
        token = await other.post("/token", data=password_form(DEFAULT_PASSWORD))
        assert token.status_code == 403
        assert token.json()["error"] == "mfa_required"
