"""POST /token with the password grant (RFC 6749 §4.3, errors §5.2)."""

import uuid

import pytest
from jose import jwt

from tests.factories import basic, login, make_user

# Every test here also checks that no response it saw contained a password hash.
pytestmark = pytest.mark.usefixtures("responses")

PASSWORD = "correct horse battery staple"
ALL_SCOPES = {"me", "products:read", "products:write", "admin"}


def password_form(username="alice", password=PASSWORD, **extra):
    return {"grant_type": "password", "username": username, "password": password, **extra}


async def token_error(client, data, headers=None):
    response = await client.post("/token", data=data, headers=headers)
    assert response.status_code == 400, response.text
    body = response.json()
    assert set(body) >= {"error", "error_description"}
    assert isinstance(body["error_description"], str)
    return body


async def test_logging_in_returns_the_token_pair_and_forbids_caching(client, services):
    await make_user(services)
    response = await client.post("/token", data=password_form())
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {
        "access_token",
        "token_type",
        "expires_in",
        "refresh_token",
        "scope",
        "device_token",
    }
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 900
    assert body["scope"] == "me products:read"
    assert body["refresh_token"]
    assert body["refresh_token"] != body["access_token"]
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"


async def test_an_admin_gets_all_four_scopes(client, services):
    await make_user(services, "root", is_admin=True)
    tokens = await login(client, "root")
    assert set(tokens.scope.split()) == ALL_SCOPES


async def test_the_access_token_carries_the_contract_claims_and_typ_at_jwt(client, services):
    user = await make_user(services)
    tokens = await login(client)
    header = jwt.get_unverified_header(tokens.access_token)
    claims = jwt.get_unverified_claims(tokens.access_token)
    assert header["typ"] == "at+jwt"
    assert header["alg"] == "HS256"
    assert claims["sub"] == str(user.id)
    assert set(claims["scope"].split()) == {"me", "products:read"}
    assert isinstance(claims["iat"], int)
    assert claims["exp"] - claims["iat"] == 900
    assert claims["jti"]
    assert claims["iss"] == "keygate"
    assert claims["aud"] == "keygate"
    uuid.UUID(claims["sid"])
    assert "password" not in claims
    assert not any("$2" in str(v) for v in claims.values())


async def test_every_login_gets_a_new_jti_and_session(client, services):
    await make_user(services)
    first = jwt.get_unverified_claims((await login(client)).access_token)
    second = jwt.get_unverified_claims((await login(client)).access_token)
    assert first["jti"] != second["jti"]
    assert first["sid"] != second["sid"]


async def test_the_refresh_token_is_opaque(client, services):
    await make_user(services)
    tokens = await login(client)
    assert tokens.refresh_token.count(".") != 2  # not a JWT


async def test_a_missing_grant_type_is_invalid_request(client, services):
    await make_user(services)
    body = await token_error(client, {"username": "alice", "password": PASSWORD})
    assert body["error"] == "invalid_request"


@pytest.mark.parametrize("missing", ["username", "password"])
async def test_a_missing_username_or_password_is_400_invalid_request_not_422(
    client, services, missing
):
    await make_user(services)
    form = password_form()
    del form[missing]
    body = await token_error(client, form)
    assert body["error"] == "invalid_request"


async def test_an_empty_body_is_invalid_request(client):
    response = await client.post(
        "/token", content=b"", headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


async def test_a_json_body_is_invalid_request(client, services):
    await make_user(services)
    response = await client.post("/token", json=password_form())
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


@pytest.mark.parametrize("grant_type", ["client_credentials", "authorization_code", "PASSWORD"])
async def test_an_unknown_grant_type_is_unsupported_grant_type(client, services, grant_type):
    await make_user(services)
    body = await token_error(client, password_form(grant_type=grant_type))
    assert body["error"] == "unsupported_grant_type"


async def test_wrong_password_unknown_user_and_inactive_user_get_identical_answers(
    client, services
):
    await make_user(services)
    inactive = await make_user(services, "bob")
    await services.accounts.set_flags(inactive.id, is_active=False, is_admin=None)
    wrong_password = await token_error(client, password_form(password="wrong password!"))
    unknown_user = await token_error(client, password_form(username="nobody"))
    inactive_user = await token_error(client, password_form(username="bob"))
    assert wrong_password["error"] == "invalid_grant"
    assert wrong_password == unknown_user == inactive_user


async def test_a_password_over_72_bytes_is_invalid_grant_not_truncated(client, services):
    await make_user(services, password="a" * 72)
    await login(client, password="a" * 72)
    body = await token_error(client, password_form(password="a" * 72 + "b"))
    assert body["error"] == "invalid_grant"
    over = await token_error(client, password_form(password="a" * 72 + "a" * 100))
    assert over["error"] == "invalid_grant"


async def test_a_75_byte_multibyte_password_is_invalid_grant(client, services):
    await make_user(services, password="€" * 24)
    body = await token_error(client, password_form(password="€" * 25))
    assert body["error"] == "invalid_grant"


async def test_asking_for_scope_me_gives_only_me(client, services):
    await make_user(services)
    tokens = await login(client, scope="me")
    assert tokens.scope == "me"
    assert jwt.get_unverified_claims(tokens.access_token)["scope"] == "me"
    assert (await client.get("/users/me", headers=tokens.headers)).status_code == 200
    assert (await client.get("/products", headers=tokens.headers)).status_code == 403


async def test_an_empty_scope_gives_all_the_users_scopes(client, services):
    await make_user(services, "root", is_admin=True)
    tokens = await login(client, "root", scope="")
    assert set(tokens.scope.split()) == ALL_SCOPES
    blank = await login(client, "root", scope="  ")
    assert set(blank.scope.split()) == ALL_SCOPES


async def test_an_unknown_scope_is_invalid_scope(client, services):
    await make_user(services)
    body = await token_error(client, password_form(scope="me superuser"))
    assert body["error"] == "invalid_scope"


async def test_a_scope_the_user_lacks_is_invalid_scope(client, services):
    await make_user(services)
    for scope in ("products:write", "admin", "me products:read admin"):
        body = await token_error(client, password_form(scope=scope))
        assert body["error"] == "invalid_scope"


async def test_client_id_and_client_secret_are_ignored(client, services):
    user = await make_user(services)
    response = await client.post(
        "/token",
        data=password_form(client_id="swagger-ui", client_secret="whatever"),
    )
    assert response.status_code == 200
    assert jwt.get_unverified_claims(response.json()["access_token"])["sub"] == str(user.id)


async def test_a_basic_header_on_token_is_client_authentication_not_the_user(client, services):
    alice = await make_user(services)
    await make_user(services, "bob", password="bobs password!")
    response = await client.post(
        "/token", data=password_form(), headers=basic("bob", "bobs password!")
    )
    assert response.status_code == 200
    assert jwt.get_unverified_claims(response.json()["access_token"])["sub"] == str(alice.id)
    with_client_basic = await client.post(
        "/token", data=password_form(), headers=basic("swagger-ui", "")
    )
    assert with_client_basic.status_code == 200


async def test_a_basic_header_on_token_does_not_replace_a_missing_form_user(client, services):
    await make_user(services)
    response = await client.post(
        "/token", data={"grant_type": "password"}, headers=basic("alice", PASSWORD)
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


async def test_a_username_is_matched_case_insensitively_at_login(client, services):
    user = await make_user(services)
    tokens = await login(client, "ALICE")
    assert jwt.get_unverified_claims(tokens.access_token)["sub"] == str(user.id)


async def test_a_very_long_username_is_invalid_grant(client, services):
    await make_user(services)
    body = await token_error(client, password_form(username="alice" + "x" * 5000))
    assert body["error"] in ("invalid_grant", "invalid_request")
