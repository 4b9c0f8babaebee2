"""A resource server that knows only keygate's JWKS verifies its ES256 and RS256 tokens with a
library other than the one keygate uses (PyJWT), and finds each key by a kid it can compute."""

import json
import time

import jwt
import pytest

from tests.conftest import make_settings, running_app
from tests.factories import login, make_user
from tests.fixtures.keys_and_servers import (
    ALGORITHMS,
    PRIVATE_MEMBERS,
    b64url,
    b64url_decode,
    client_of,
    fetch_jwks,
    key_settings,
    rfc7638_thumbprint,
    verify_with_jwks,
)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
async def test_access_tokens_carry_the_kid_of_the_signing_key_and_typ_at_jwt(
    start_app, keys, algorithm
):
    key = keys(algorithm)
    app = await start_app(**key_settings(key))
    await make_user(app.services)
    async with client_of(app) as client:
        tokens = await login(client)

    header = jwt.get_unverified_header(tokens.access_token)
    assert header["alg"] == algorithm
    assert header["typ"] == "at+jwt"
    assert header["kid"] == key.kid


@pytest.mark.parametrize("algorithm", ALGORITHMS)
async def test_the_jwks_publishes_the_public_key_under_its_kid_and_nothing_private(
    start_app, keys, algorithm
):
    key = keys(algorithm)
    app = await start_app(**key_settings(key))
    async with client_of(app) as client:
        response = await client.get("/.well-known/jwks.json")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert "public" in response.headers["cache-control"]
    (published,) = response.json()["keys"]
    assert published["kid"] == key.kid
    assert {k: v for k, v in published.items() if k in key.public_jwk} == key.public_jwk
    assert not PRIVATE_MEMBERS & published.keys()
    assert published.get("use", "sig") == "sig"
    assert published.get("alg", algorithm) == algorithm


@pytest.mark.parametrize("algorithm", ALGORITHMS)
async def test_pyjwt_verifies_signature_issuer_audience_and_expiry_from_the_jwks_alone(
    start_app, keys, algorithm
):
    app = await start_app(**key_settings(keys(algorithm)))
    alice = await make_user(app.services)
    async with client_of(app) as client:
        tokens = await login(client)
        jwks = await fetch_jwks(client)

    claims = verify_with_jwks(tokens.access_token, jwks, algorithm=algorithm)

    assert claims["sub"] == str(alice.id)
    assert claims["iss"] == "keygate"
    assert claims["aud"] == "keygate"
    assert claims["exp"] - claims["iat"] == 900
    assert claims["iat"] <= time.time() + 1 < claims["exp"]
    assert set(claims["scope"].split()) == {"me", "products:read"}


@pytest.mark.parametrize("algorithm", ALGORITHMS)
async def test_pyjwt_refuses_a_token_whose_payload_was_altered(start_app, keys, algorithm):
    app = await start_app(**key_settings(keys(algorithm)))
    await make_user(app.services)
    async with client_of(app) as client:
        tokens = await login(client)
        jwks = await fetch_jwks(client)
    header, payload, signature = tokens.access_token.split(".")
    claims = json.loads(b64url_decode(payload))
    # The genuine header and signature over claims that now name another user.
    forged_payload = b64url(json.dumps({**claims, "sub": "1"}).encode())

    with pytest.raises(jwt.InvalidSignatureError):
        verify_with_jwks(f"{header}.{forged_payload}.{signature}", jwks, algorithm=algorithm)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
async def test_the_kid_is_the_rfc7638_thumbprint_of_the_published_key(start_app, keys, algorithm):
    app = await start_app(**key_settings(keys(algorithm)))
    async with client_of(app) as client:
        (published,) = (await fetch_jwks(client))["keys"]

    assert published["kid"] == rfc7638_thumbprint(published)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
async def test_two_instances_and_a_restart_derive_the_same_kid_from_the_same_key(
    database, clock, keys, algorithm
):
    settings = make_settings(**key_settings(keys(algorithm)))
    async with (
        running_app(settings, clock) as first,
        running_app(settings, clock) as second,
        client_of(first) as a,
        client_of(second) as b,
    ):
        first_jwks, second_jwks = await fetch_jwks(a), await fetch_jwks(b)
    async with running_app(settings, clock) as restarted, client_of(restarted) as c:
        restarted_jwks = await fetch_jwks(c)

    assert first_jwks == second_jwks == restarted_jwks
    assert [k["kid"] for k in first_jwks["keys"]] == [keys(algorithm).kid]


@pytest.mark.parametrize("algorithm", ALGORITHMS)
async def test_a_token_from_one_instance_is_accepted_by_another_with_the_same_key(
    start_app, keys, algorithm
):
    key = keys(algorithm)
    first, second = await start_app(**key_settings(key)), await start_app(**key_settings(key))
    await make_user(first.services)
    async with client_of(first) as a, client_of(second) as b:
        tokens = await login(a)

        assert (await b.get("/users/me", headers=tokens.headers)).status_code == 200


async def test_hs256_stays_the_default_and_publishes_no_keys(client, services):
    await make_user(services)
    tokens = await login(client)

    header = jwt.get_unverified_header(tokens.access_token)
    assert header["alg"] == "HS256"
    assert header["typ"] == "at+jwt"
    assert (await client.get("/users/me", headers=tokens.headers)).status_code == 200
    response = await client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    assert response.json() == {"keys": []}
