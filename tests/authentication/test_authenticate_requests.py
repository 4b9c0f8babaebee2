"""The security dependency: Bearer or Basic in, RFC 6750 challenges out."""

import uuid

import pytest
from jose import jwt

from tests.factories import basic, login, make_user
from tests.fixtures.recorded_responses import SERVER_TIMING, jws, signing_secret, token_parts

# Every test here also checks that no response it saw contained a password hash.
pytestmark = pytest.mark.usefixtures("responses")

PASSWORD = "correct horse battery staple"
INVALID_TOKEN = 'Bearer error="invalid_token"'
HS256_AT_JWT = {"alg": "HS256", "typ": "at+jwt"}


@pytest.fixture
async def alice(client, services):
    await make_user(services)
    return await login(client)


async def assert_invalid_token(client, token):
    response = await client.get("/users/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == INVALID_TOKEN
    assert isinstance(response.json()["detail"], str)


async def test_missing_credentials_are_401_with_bearer_and_basic_challenges(client):
    for path in ("/users/me", "/products", "/users"):
        response = await client.get(path)
        assert response.status_code == 401
        challenge = response.headers["www-authenticate"]
        assert "Bearer" in challenge
        assert "Basic" in challenge
        assert "error=" not in challenge  # RFC 6750 §3.1: no error code without credentials


async def test_an_empty_bearer_is_401(client):
    response = await client.get("/users/me", headers={"Authorization": "Bearer "})
    assert response.status_code == 401
    assert "Bearer" in response.headers["www-authenticate"]


async def test_a_token_re_signed_with_the_right_key_and_header_is_accepted(client, alice):
    """The control for the forgeries below: the hand-made signer is itself correct."""
    _, claims = token_parts(alice.access_token)
    token = jws(HS256_AT_JWT, claims, secret=signing_secret())
    response = await client.get("/users/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
async def test_an_unsigned_alg_none_token_is_invalid_token(client, alice, alg):
    _, claims = token_parts(alice.access_token)
    await assert_invalid_token(client, jws({"alg": alg, "typ": "at+jwt"}, claims))


async def test_an_hs512_token_signed_with_the_right_secret_is_invalid_token(client, alice):
    _, claims = token_parts(alice.access_token)
    token = jws({"alg": "HS512", "typ": "at+jwt"}, claims, secret=signing_secret(), digest="sha512")
    await assert_invalid_token(client, token)


async def test_an_hs384_token_signed_with_the_right_secret_is_invalid_token(client, alice):
    _, claims = token_parts(alice.access_token)
    token = jws({"alg": "HS384", "typ": "at+jwt"}, claims, secret=signing_secret(), digest="sha384")
    await assert_invalid_token(client, token)


async def test_a_token_signed_with_another_secret_is_invalid_token(client, alice):
    _, claims = token_parts(alice.access_token)
    await assert_invalid_token(client, jws(HS256_AT_JWT, claims, secret="another-secret-" * 4))


async def test_a_token_with_a_tampered_scope_is_invalid_token(client, alice):
    header, _, signature = alice.access_token.split(".")
    _, claims = token_parts(alice.access_token)
    claims["scope"] = "me products:read products:write admin"
    forged_payload = jws(HS256_AT_JWT, claims).split(".")[1]
    await assert_invalid_token(client, f"{header}.{forged_payload}.{signature}")


async def test_an_expired_token_is_invalid_token(client, alice, clock):
    assert (await client.get("/users/me", headers=alice.headers)).status_code == 200
    clock.advance(900 + 60)
    await assert_invalid_token(client, alice.access_token)


async def test_a_token_is_still_accepted_just_before_it_expires(client, alice, clock):
    clock.advance(900 - 5)
    assert (await client.get("/users/me", headers=alice.headers)).status_code == 200


@pytest.mark.parametrize(
    ("claim", "value"),
    [("iss", "someone-else"), ("aud", "another-api"), ("aud", ["another-api"])],
)
async def test_a_token_for_another_issuer_or_audience_is_invalid_token(client, alice, claim, value):
    _, claims = token_parts(alice.access_token)
    claims[claim] = value
    await assert_invalid_token(client, jws(HS256_AT_JWT, claims, secret=signing_secret()))


@pytest.mark.parametrize("claim", ["iss", "aud", "exp", "sub", "sid"])
async def test_a_token_missing_a_checked_claim_is_invalid_token(client, alice, claim):
    _, claims = token_parts(alice.access_token)
    del claims[claim]
    await assert_invalid_token(client, jws(HS256_AT_JWT, claims, secret=signing_secret()))


@pytest.mark.parametrize("header", [{"alg": "HS256", "typ": "JWT"}, {"alg": "HS256"}])
async def test_a_token_without_typ_at_jwt_is_invalid_token(client, alice, header):
    _, claims = token_parts(alice.access_token)
    await assert_invalid_token(client, jws(header, claims, secret=signing_secret()))


async def test_a_refresh_token_is_not_accepted_as_an_access_token(client, alice):
    await assert_invalid_token(client, alice.refresh_token)


@pytest.mark.parametrize(
    "token", ["garbage", "a.b.c", "x" * 10_000, "e30.e30.", "eyJhbGciOiJIUzI1NiJ9..", "é"]
)
async def test_a_malformed_token_is_invalid_token(client, token):
    authorization = b"Bearer " + token.encode()  # bytes: "é" goes out as raw UTF-8
    response = await client.get("/users/me", headers={"Authorization": authorization})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == INVALID_TOKEN


async def test_a_well_signed_token_for_an_unknown_session_is_invalid_token(client, alice):
    _, claims = token_parts(alice.access_token)
    claims["sid"] = str(uuid.uuid4())
    token = jwt.encode(claims, signing_secret(), algorithm="HS256", headers={"typ": "at+jwt"})
    await assert_invalid_token(client, token)


async def test_a_missing_scope_is_403_insufficient_scope_naming_it(client, alice):
    response = await client.post(
        "/products", json={"name": "X", "price": "1.00"}, headers=alice.headers
    )
    assert response.status_code == 403
    assert response.headers["www-authenticate"] == (
        'Bearer error="insufficient_scope", scope="products:write"'
    )
    assert isinstance(response.json()["detail"], str)


async def test_a_users_token_never_holds_a_scope_the_user_lacks(client, services):
    await make_user(services)
    for scope in (None, "", "me", "products:read", "me products:read"):
        tokens = await login(client, scope=scope)
        granted = set(jwt.get_unverified_claims(tokens.access_token)["scope"].split())
        assert granted <= {"me", "products:read"}
        assert set(tokens.scope.split()) == granted


async def test_a_token_forged_with_extra_scopes_grants_nothing_extra(client, alice):
    """Even a correctly signed token cannot give a user scopes the user does not hold."""
    _, claims = token_parts(alice.access_token)
    claims["scope"] = "me products:read products:write admin"
    token = jws(HS256_AT_JWT, claims, secret=signing_secret())
    headers = {"Authorization": f"Bearer {token}"}
    assert (await client.get("/users", headers=headers)).status_code == 403
    created = await client.post("/products", json={"name": "X", "price": "1"}, headers=headers)
    assert created.status_code == 403


async def test_http_basic_reads_my_account_and_products(client, services):
    await make_user(services)
    me = await client.get("/users/me", headers=basic("alice", PASSWORD))
    assert me.status_code == 200
    assert me.json()["username"] == "alice"
    products = await client.get("/products", headers=basic("alice", PASSWORD))
    assert products.status_code == 200


async def test_http_basic_as_curl_u_sends_it(client, services):
    await make_user(services)
    response = await client.get("/users/me", auth=("alice", PASSWORD))
    assert response.status_code == 200


async def test_http_basic_with_a_wrong_password_is_invalid_token(client, services):
    await make_user(services)
    for headers in (basic("alice", "wrong password"), basic("nobody", PASSWORD)):
        response = await client.get("/users/me", headers=headers)
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith(INVALID_TOKEN)


async def test_http_basic_with_a_password_over_72_bytes_is_refused(client, services):
    await make_user(services, password="a" * 72)
    assert (await client.get("/users/me", headers=basic("alice", "a" * 72))).status_code == 200
    response = await client.get("/users/me", headers=basic("alice", "a" * 73))
    assert response.status_code == 401


@pytest.mark.parametrize(
    "value", ["Basic !!!", "Basic bm9jb2xvbg==", "Basic " + "QUFB" * 500, "Basic Og=="]
)
async def test_malformed_basic_credentials_are_401(client, value):
    response = await client.get("/users/me", headers={"Authorization": value})
    assert response.status_code == 401


async def test_with_basic_disabled_basic_is_refused_and_not_offered(start_client, services):
    no_basic = await start_client(basic_auth_enabled=False)
    await make_user(services)
    missing = await no_basic.get("/users/me")
    assert missing.status_code == 401
    assert "Bearer" in missing.headers["www-authenticate"]
    assert "Basic" not in missing.headers["www-authenticate"]
    refused = await no_basic.get("/users/me", headers=basic("alice", PASSWORD))
    assert refused.status_code == 401
    tokens = await login(no_basic)
    assert (await no_basic.get("/users/me", headers=tokens.headers)).status_code == 200


async def test_every_authenticated_response_says_how_credentials_were_checked(client, services):
    await make_user(services, "root", is_admin=True)
    tokens = await login(client, "root")
    created = await client.post(
        "/products", json={"name": "X", "price": "1.00"}, headers=tokens.headers
    )
    product_id = created.json()["id"]
    responses = [
        created,
        await client.get("/users/me", headers=tokens.headers),
        await client.get("/users/me", headers=basic("root", PASSWORD)),
        await client.patch("/users/me", json={"full_name": "R"}, headers=tokens.headers),
        await client.get("/users", headers=tokens.headers),
        await client.get("/products", headers=tokens.headers),
        await client.get("/products", headers=basic("root", PASSWORD)),
        await client.get(f"/products/{product_id}", headers=tokens.headers),
        await client.patch(f"/products/{product_id}", json={"price": 2}, headers=tokens.headers),
        await client.delete(f"/products/{product_id}", headers=tokens.headers),
    ]
    for response in responses:
        assert response.status_code < 300, response.request.url
        timing = response.headers.get("server-timing", "")
        assert timing.startswith("auth;desc="), (response.request.url, timing)
        assert SERVER_TIMING.match(timing), timing


async def test_the_first_bearer_request_after_login_is_checked_from_the_cache(client, services):
    await make_user(services)
    tokens = await login(client)
    response = await client.get("/users/me", headers=tokens.headers)
    assert response.headers["server-timing"].startswith('auth;desc="cache"')


async def test_an_authenticated_request_for_a_missing_user_still_says_how_it_was_checked(
    client, services
):
    await make_user(services, "root", is_admin=True)
    tokens = await login(client, "root")
    response = await client.get("/users/999999", headers=tokens.headers)
    assert response.status_code == 404
    assert response.headers.get("server-timing", "").startswith("auth;desc=")
