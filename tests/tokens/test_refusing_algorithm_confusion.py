"""Only the configured algorithm verifies: a token "signed" with HS256 using the public key as
the HMAC secret (the classic algorithm-confusion attack), an unsigned one, or one signed by a
foreign key under a real kid is refused, whatever else it gets right."""

import json

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tests.factories import login, make_user
from tests.fixtures.keys_and_servers import (
    ALGORITHMS,
    admin_headers,
    client_of,
    fetch_jwks,
    hmac_jws,
    key_settings,
    token_parts,
)

INVALID_TOKEN = 'Bearer error="invalid_token"'


def public_key_secrets(public_pem: bytes, published_jwk: dict[str, str]) -> dict[str, bytes]:
    """Every form of the public key an attacker might try as an HMAC secret."""
    public = serialization.load_pem_public_key(public_pem)
    forms = {
        "spki-pem": public_pem,
        "spki-pem-without-newline": public_pem.rstrip(b"\n"),
        "spki-der": public.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        "jwk-json": json.dumps(published_jwk).encode(),
        "jwk-json-compact": json.dumps(published_jwk, separators=(",", ":")).encode(),
    }
    if isinstance(public, rsa.RSAPublicKey):
        forms["pkcs1-pem"] = public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.PKCS1
        )
    return forms


def foreign_private_key(algorithm: str) -> ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey:
    if algorithm == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


async def genuine_login(start_app, keys, algorithm):
    key = keys(algorithm)
    app = await start_app(**key_settings(key))
    await make_user(app.services)
    return app, key


@pytest.mark.parametrize("algorithm", ALGORITHMS)
async def test_an_hs256_token_keyed_with_the_public_key_is_refused(start_app, keys, algorithm):
    app, key = await genuine_login(start_app, keys, algorithm)
    async with client_of(app) as client:
        genuine = await login(client)
        (published,) = (await fetch_jwks(client))["keys"]
        header, claims = token_parts(genuine.access_token)
        assert (await client.get("/users/me", headers=genuine.headers)).status_code == 200

        for form, secret in public_key_secrets(key.public_pem, published).items():
            for forged_header in (
                {**header, "alg": "HS256"},
                {"alg": "HS256", "typ": "at+jwt"},
            ):
                forged = hmac_jws(forged_header, claims, secret)
                refused = await client.get(
                    "/users/me", headers={"Authorization": f"Bearer {forged}"}
                )
                assert refused.status_code == 401, (form, forged_header)
                assert refused.headers["www-authenticate"] == INVALID_TOKEN


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
async def test_an_unsigned_token_is_refused(start_app, keys, algorithm, alg):
    app, _ = await genuine_login(start_app, keys, algorithm)
    async with client_of(app) as client:
        header, claims = token_parts((await login(client)).access_token)
        unsigned = hmac_jws({**header, "alg": alg}, claims, None)

        refused = await client.get("/users/me", headers={"Authorization": f"Bearer {unsigned}"})

    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == INVALID_TOKEN


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("foreign_algorithm", ALGORITHMS)
async def test_a_token_signed_by_a_foreign_key_under_a_real_kid_is_refused(
    start_app, keys, algorithm, foreign_algorithm
):
    app, key = await genuine_login(start_app, keys, algorithm)
    async with client_of(app) as client:
        _, claims = token_parts((await login(client)).access_token)
        forged = jwt.encode(
            claims,
            foreign_private_key(foreign_algorithm),
            algorithm=foreign_algorithm,
            headers={"kid": key.kid, "typ": "at+jwt"},
        )

        refused = await client.get("/users/me", headers={"Authorization": f"Bearer {forged}"})

    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == INVALID_TOKEN


@pytest.mark.parametrize("algorithm", ALGORITHMS)
async def test_introspection_reports_confused_and_foreign_tokens_inactive(
    start_app, keys, algorithm
):
    app, key = await genuine_login(start_app, keys, algorithm)
    async with client_of(app) as client:
        admin = await admin_headers(client, app.services)
        header, claims = token_parts((await login(client)).access_token)
        forged = [
            hmac_jws({**header, "alg": "HS256"}, claims, key.public_pem),
            hmac_jws({**header, "alg": "none"}, claims, None),
            jwt.encode(
                claims,
                foreign_private_key(algorithm),
                algorithm=algorithm,
                headers={"kid": key.kid, "typ": "at+jwt"},
            ),
        ]
        for token in forged:
            answer = await client.post("/token/introspect", data={"token": token}, headers=admin)
            assert answer.status_code == 200
            assert answer.json() == {"active": False}


async def test_the_default_hs256_instance_refuses_an_asymmetrically_signed_token(client, services):
    await make_user(services)
    _, claims = token_parts((await login(client)).access_token)
    forged = jwt.encode(
        claims,
        foreign_private_key("ES256"),
        algorithm="ES256",
        headers={"typ": "at+jwt"},
    )

    refused = await client.get("/users/me", headers={"Authorization": f"Bearer {forged}"})

    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == INVALID_TOKEN
