"""RFC 8414 metadata: given only keygate's URL, a client finds the issuer, the endpoints and the
keys, and a resource server can verify tokens and ask whether they are still live."""

from urllib.parse import urlsplit

import pytest

from tests.factories import login, make_user
from tests.fixtures.keys_and_servers import admin_headers, client_of, key_settings, verify_with_jwks

METADATA = "/.well-known/oauth-authorization-server"
MFA_OTP_GRANT = "urn:keygate:params:oauth:grant-type:mfa-otp"
ENDPOINTS = {
    "token_endpoint": "/token",
    "revocation_endpoint": "/token/revoke",
    "introspection_endpoint": "/token/introspect",
    "jwks_uri": "/.well-known/jwks.json",
}


def path_of(url: str) -> str:
    parts = urlsplit(url)
    assert parts.scheme in ("http", "https"), url
    assert parts.netloc, url
    return parts.path


async def test_the_metadata_names_the_issuer_endpoints_grants_and_scopes(client):
    response = await client.get(METADATA)

    assert response.status_code == 200
    assert "public" in response.headers["cache-control"]
    body = response.json()
    assert body["issuer"] == "keygate"
    assert {name: path_of(body[name]) for name in ENDPOINTS} == ENDPOINTS
    assert {"password", "refresh_token", MFA_OTP_GRANT} <= set(body["grant_types_supported"])
    assert set(body["scopes_supported"]) == {"me", "products:read", "products:write", "admin"}


async def test_the_endpoints_in_the_metadata_answer_at_the_addresses_given(client):
    body = (await client.get(METADATA)).json()

    assert (await client.get(body["jwks_uri"])).status_code == 200
    # Form posts without credentials: each endpoint exists and answers as itself.
    token = await client.post(body["token_endpoint"], data={"grant_type": "password"})
    assert token.json()["error"] == "invalid_request"
    assert (await client.post(body["revocation_endpoint"], data={"token": "x"})).status_code == 200
    assert (
        await client.post(body["introspection_endpoint"], data={"token": "x"})
    ).status_code == 401


async def test_the_metadata_issuer_follows_jwt_issuer(start_app):
    app = await start_app(jwt_issuer="https://id.example")
    async with client_of(app) as client:
        body = (await client.get(METADATA)).json()

    assert body["issuer"] == "https://id.example"


@pytest.mark.parametrize("algorithm", ["ES256", "RS256"])
async def test_a_resource_server_given_only_the_url_verifies_tokens_and_checks_revocation(
    start_app, keys, algorithm
):
    app = await start_app(**key_settings(keys(algorithm), jwt_issuer="https://id.example"))
    alice = await make_user(app.services)
    async with client_of(app) as client:
        tokens = await login(client)
        admin = await admin_headers(client, app.services)

        # The resource server's side: metadata, then the JWKS it points at.
        metadata = (await client.get(METADATA)).json()
        jwks = (await client.get(metadata["jwks_uri"])).json()
        claims = verify_with_jwks(
            tokens.access_token, jwks, algorithm=algorithm, issuer=metadata["issuer"]
        )
        live = await client.post(
            metadata["introspection_endpoint"], data={"token": tokens.access_token}, headers=admin
        )

        await client.post("/logout", headers=tokens.headers)
        dead = await client.post(
            metadata["introspection_endpoint"], data={"token": tokens.access_token}, headers=admin
        )

    assert claims["sub"] == str(alice.id)
    assert claims["iss"] == "https://id.example"
    assert live.json()["active"] is True
    assert dead.json() == {"active": False}
