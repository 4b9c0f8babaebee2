"""Admin user management: GET /users, GET and PATCH /users/{id}."""

import pytest

from tests.factories import basic, login, make_user

# Every test here also checks that no response it saw contained a password hash.
pytestmark = pytest.mark.usefixtures("responses")

PASSWORD = "correct horse battery staple"


@pytest.fixture
async def admin(client, services):
    await make_user(services, "root", is_admin=True)
    return await login(client, "root")


async def test_an_admin_lists_users_a_page_at_a_time(client, services, admin):
    for name in ("u1", "u2", "u3", "u4"):
        await make_user(services, name)
    response = await client.get("/users", params={"limit": 2, "offset": 1}, headers=admin.headers)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"items", "total", "limit", "offset"}
    assert body["total"] == 5
    assert body["limit"] == 2
    assert body["offset"] == 1
    assert [u["username"] for u in body["items"]] == ["u1", "u2"]
    assert all("password_hash" not in u for u in body["items"])


async def test_the_user_list_defaults_to_the_first_page(client, services, admin):
    await make_user(services, "u1")
    body = (await client.get("/users", headers=admin.headers)).json()
    assert body["offset"] == 0
    assert body["total"] == 2
    assert {u["username"] for u in body["items"]} == {"root", "u1"}


async def test_an_offset_past_the_end_gives_an_empty_page_with_the_total(client, admin):
    body = (await client.get("/users", params={"offset": 10}, headers=admin.headers)).json()
    assert body["items"] == []
    assert body["total"] == 1


@pytest.mark.parametrize(
    "params",
    [{"limit": 0}, {"limit": -1}, {"limit": "ten"}, {"offset": -1}, {"limit": 10**30}],
)
async def test_a_bad_page_is_422(client, admin, params):
    response = await client.get("/users", params=params, headers=admin.headers)
    assert response.status_code == 422


async def test_a_user_who_is_not_admin_cannot_list_users(client, services):
    await make_user(services)
    tokens = await login(client)
    response = await client.get("/users", headers=tokens.headers)
    assert response.status_code == 403
    assert response.headers["www-authenticate"] == (
        'Bearer error="insufficient_scope", scope="admin"'
    )
    by_basic = await client.get("/users", headers=basic("alice", PASSWORD))
    assert by_basic.status_code == 403


async def test_an_admin_token_narrowed_to_me_cannot_list_users(client, services):
    await make_user(services, "root", is_admin=True)
    tokens = await login(client, "root", scope="me")
    assert (await client.get("/users", headers=tokens.headers)).status_code == 403


async def test_an_admin_reads_one_user(client, services, admin):
    user = await make_user(services, email="alice@example.com")
    response = await client.get(f"/users/{user.id}", headers=admin.headers)
    assert response.status_code == 200
    assert response.json()["username"] == "alice"
    assert response.json()["email"] == "alice@example.com"
    assert "password_hash" not in response.json()


async def test_reading_a_missing_user_is_404(client, admin):
    response = await client.get("/users/999999", headers=admin.headers)
    assert response.status_code == 404
    assert isinstance(response.json()["detail"], str)


@pytest.mark.parametrize("user_id", ["abc", "1.5", "1e3", "%20"])
async def test_a_user_id_that_is_not_an_integer_is_422(client, admin, user_id):
    response = await client.get(f"/users/{user_id}", headers=admin.headers)
    assert response.status_code == 422
    patched = await client.patch(
        f"/users/{user_id}", json={"is_active": False}, headers=admin.headers
    )
    assert patched.status_code == 422


@pytest.mark.parametrize("user_id", ["0", "-1", "99999999999999999999999"])
async def test_an_out_of_range_user_id_is_a_client_error(client, admin, user_id):
    response = await client.get(f"/users/{user_id}", headers=admin.headers)
    assert response.status_code in (404, 422)


async def test_a_user_who_is_not_admin_cannot_read_or_change_users(client, services):
    other = await make_user(services, "bob")
    await make_user(services)
    tokens = await login(client)
    assert (await client.get(f"/users/{other.id}", headers=tokens.headers)).status_code == 403
    patched = await client.patch(
        f"/users/{other.id}", json={"is_active": False}, headers=tokens.headers
    )
    assert patched.status_code == 403
    await login(client, "bob")  # bob still works


async def test_a_deactivated_user_can_no_longer_log_in_or_use_their_token(client, services, admin):
    user = await make_user(services)
    tokens = await login(client)
    response = await client.patch(
        f"/users/{user.id}", json={"is_active": False}, headers=admin.headers
    )
    assert response.status_code == 200
    assert response.json()["is_active"] is False
    assert (await client.get("/users/me", headers=tokens.headers)).status_code == 401
    assert (await client.get("/users/me", headers=basic("alice", PASSWORD))).status_code == 401
    refused = await client.post(
        "/token", data={"grant_type": "password", "username": "alice", "password": PASSWORD}
    )
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_grant"


async def test_a_reactivated_user_logs_in_again(client, services, admin):
    user = await make_user(services)
    await client.patch(f"/users/{user.id}", json={"is_active": False}, headers=admin.headers)
    response = await client.patch(
        f"/users/{user.id}", json={"is_active": True}, headers=admin.headers
    )
    assert response.json()["is_active"] is True
    await login(client)


async def test_a_promoted_user_gets_the_admin_scopes_at_next_login(client, services, admin):
    user = await make_user(services)
    response = await client.patch(
        f"/users/{user.id}", json={"is_admin": True}, headers=admin.headers
    )
    assert response.status_code == 200
    assert response.json()["is_admin"] is True
    tokens = await login(client)
    assert set(tokens.scope.split()) == {"me", "products:read", "products:write", "admin"}


async def test_a_demoted_admin_loses_products_write_at_once(client, services, admin):
    user = await make_user(services, "second", is_admin=True)
    tokens = await login(client, "second")
    demoted = await client.patch(
        f"/users/{user.id}", json={"is_admin": False}, headers=admin.headers
    )
    assert demoted.status_code == 200
    created = await client.post(
        "/products", json={"name": "WINE GLASS", "price": "9.75"}, headers=tokens.headers
    )
    assert created.status_code == 403


async def test_changing_a_missing_user_is_404(client, admin):
    response = await client.patch("/users/999999", json={"is_admin": True}, headers=admin.headers)
    assert response.status_code == 404


async def test_a_flag_that_is_not_a_boolean_is_422(client, services, admin):
    user = await make_user(services)
    response = await client.patch(
        f"/users/{user.id}", json={"is_admin": "sometimes"}, headers=admin.headers
    )
    assert response.status_code == 422
