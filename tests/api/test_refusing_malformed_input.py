"""Malformed and oversized input is refused with a 4xx that says what was wrong; no input,
however malformed, produces a 500 (docs/contract.md)."""

import base64
import hmac
import json

import pytest

from tests.conftest import make_settings
from tests.factories import DEFAULT_PASSWORD, login, make_user
from tests.fixtures.signed_in_users import enable_totp, password_form

MAX_BODY_BYTES = 64 * 1024
MFA_OTP_GRANT = "urn:keygate:params:oauth:grant-type:mfa-otp"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def signed_token(claims: dict[str, object]) -> str:
    """An HS256 access token signed with the test app's secret: what only keygate (or a
    holder of its key) can make, so its claims are trusted input."""
    secret = make_settings().jwt_secret
    assert secret is not None
    header = {"alg": "HS256", "typ": "at+jwt"}
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    signature = hmac.digest(secret.get_secret_value().encode(), signing_input.encode(), "sha256")
    return f"{signing_input}.{b64url(signature)}"


def oauth_error(response, status=400):
    assert response.status_code == status, response.text
    body = response.json()
    assert isinstance(body["error_description"], str)
    return body["error"]


# --- body size ------------------------------------------------------------------------------


async def test_a_json_body_over_64_kib_is_413(client):
    body = json.dumps({"username": "alice", "password": "x" * MAX_BODY_BYTES}).encode()
    response = await client.post(
        "/users", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413, response.text
    assert response.json() == {"detail": "Content Too Large"}


async def test_a_token_form_over_64_kib_is_413(client):
    form = f"grant_type=password&username=alice&password={'x' * MAX_BODY_BYTES}"
    response = await client.post("/token", content=form.encode(), headers=FORM)
    assert response.status_code == 413, response.text
    assert response.json() == {"detail": "Content Too Large"}


async def test_a_chunked_body_over_64_kib_without_content_length_is_413(client, admin):
    async def chunks():
        yield b'{"name": "'
        for _ in range(80):
            yield b"x" * 1024
        yield b'", "price": "1.00"}'

    response = await client.post(
        "/products",
        content=chunks(),
        headers={**admin.headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 413, response.text
    assert response.json() == {"detail": "Content Too Large"}


async def test_a_body_over_64_kib_to_a_route_that_reads_none_is_413_before_it_runs(
    client, services
):
    await make_user(services)
    tokens = await login(client)

    response = await client.post(
        "/logout", content=b"x" * (MAX_BODY_BYTES + 1), headers=tokens.headers
    )

    assert response.status_code == 413, response.text
    assert response.json() == {"detail": "Content Too Large"}
    # Refused before the route ran: the session was not ended.
    assert (await client.get("/users/me", headers=tokens.headers)).status_code == 200


async def test_a_token_form_over_its_own_8_kib_bound_is_invalid_request(client):
    form = f"grant_type=password&username=alice&password={'x' * 9000}"
    response = await client.post("/token", content=form.encode(), headers=FORM)
    assert oauth_error(response) == "invalid_request"


# --- ids and paging -------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/users/abc", "/users/1.5", "/users/1e3", "/users/%00"])
async def test_a_user_id_that_is_not_an_integer_is_422(client, admin, path):
    response = await client.get(path, headers=admin.headers)
    assert response.status_code == 422, response.text


@pytest.mark.parametrize(
    "path", ["/products/abc", "/products/1.5", "/products/0x10", "/products/%00"]
)
async def test_a_product_id_that_is_not_an_integer_is_422(client, admin, path):
    for method in ("GET", "PATCH", "DELETE"):
        response = await client.request(method, path, headers=admin.headers, json={})
        assert response.status_code == 422, (method, response.text)


async def test_a_product_id_past_bigint_is_422(client, admin):
    response = await client.get(f"/products/{2**63}", headers=admin.headers)
    assert response.status_code == 422, response.text


@pytest.mark.parametrize("collection", ["/users", "/products"])
@pytest.mark.parametrize(
    "params",
    [{"offset": -1}, {"limit": 10**9}, {"limit": 0}, {"limit": -5}, {"offset": 10**30}],
    ids=["negative-offset", "huge-limit", "zero-limit", "negative-limit", "huge-offset"],
)
async def test_a_page_outside_the_bounds_is_422(client, admin, collection, params):
    response = await client.get(collection, params=params, headers=admin.headers)
    assert response.status_code == 422, response.text


# --- usernames and text fields --------------------------------------------------------------


@pytest.mark.parametrize(
    "username",
    ["ali\x00ce", "ali\x07ce", "ali\nce", "alice\t", "ali\u0085ce", "ali\u202ece", "a" * 51],
    ids=["nul", "bell", "newline", "tab", "c1-control", "rtl-override", "51-chars"],
)
async def test_a_username_with_control_characters_or_over_50_chars_is_422(client, username):
    response = await client.post(
        "/users", json={"username": username, "password": "tulip-meadow-42"}
    )
    assert response.status_code == 422, response.text


async def test_a_full_width_username_is_the_same_name_as_its_plain_form(client):
    full_width_alice = "\uff41\uff4c\uff49\uff43\uff45"
    response = await client.post(
        "/users", json={"username": full_width_alice, "password": "tulip-meadow-42"}
    )
    assert response.status_code == 201, response.text
    assert response.json()["username"] == "alice"
    again = await client.post("/users", json={"username": "alice", "password": "tulip-meadow-42"})
    assert again.status_code == 409, again.text


@pytest.mark.parametrize(
    "name", ["WINE\x00GLASS", "WINE\x1bGLASS", "\ud800"], ids=["nul", "escape", "lone-surrogate"]
)
async def test_a_product_name_with_nul_control_or_lone_surrogate_is_422(client, admin, name):
    # Raw JSON, so the lone surrogate travels as the "\ud800" escape a client can send.
    body = json.dumps({"name": name, "price": "1.00"})
    headers = {**admin.headers, "Content-Type": "application/json"}
    created = await client.post("/products", content=body, headers=headers)
    assert created.status_code == 422, created.text


@pytest.mark.parametrize("name", ["WINE\x00GLASS", "\ud800"], ids=["nul", "lone-surrogate"])
async def test_renaming_a_product_to_a_name_with_nul_or_a_lone_surrogate_is_422(
    client, admin, name
):
    created = await client.post(
        "/products", json={"name": "WINE GLASS", "price": "9.75"}, headers=admin.headers
    )
    assert created.status_code == 201, created.text
    product_id = created.json()["id"]
    body = json.dumps({"name": name})
    headers = {**admin.headers, "Content-Type": "application/json"}
    response = await client.patch(f"/products/{product_id}", content=body, headers=headers)
    assert response.status_code == 422, response.text


@pytest.mark.parametrize("full_name", ["Alice\x00", "\ud800", "A" * 201])
async def test_a_full_name_with_nul_a_lone_surrogate_or_over_200_chars_is_422(
    client, alice, full_name
):
    body = json.dumps({"full_name": full_name})
    headers = {**alice.headers, "Content-Type": "application/json"}
    response = await client.patch("/users/me", content=body, headers=headers)
    assert response.status_code == 422, response.text


async def test_a_registration_with_a_lone_surrogate_in_the_full_name_is_422(client):
    body = json.dumps(
        {"username": "alice", "password": "tulip-meadow-42", "full_name": "Al\ud800ice"}
    )
    response = await client.post(
        "/users", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422, response.text


async def test_an_email_over_254_chars_is_422(client):
    email = "a" * 64 + "@" + ".".join(["b" * 60] * 4) + ".com"
    response = await client.post(
        "/users", json={"username": "alice", "password": "tulip-meadow-42", "email": email}
    )
    assert response.status_code == 422, response.text


# --- JSON bodies ----------------------------------------------------------------------------


async def test_unknown_json_fields_on_registration_are_ignored(client):
    # The decision: unknown fields are ignored (Pydantic's default, the same for every JSON
    # body), never refused, and never able to set what the schema does not offer.
    response = await client.post(
        "/users",
        json={
            "username": "alice",
            "password": "tulip-meadow-42",
            "is_admin": True,
            "is_active": False,
            "totp_enabled": True,
            "id": 1,
            "role": "superuser",
        },
    )
    assert response.status_code == 201, response.text
    user = response.json()
    assert (user["is_admin"], user["is_active"], user["totp_enabled"]) == (False, True, False)
    assert "role" not in user


async def test_unknown_json_fields_on_a_product_are_ignored(client, admin):
    response = await client.post(
        "/products",
        json={"name": "WINE GLASS", "price": "9.75", "id": 2**40, "owner": "me"},
        headers=admin.headers,
    )
    assert response.status_code == 201, response.text
    product = response.json()
    assert product["id"] != 2**40
    assert (product["name"], product["price"]) == ("WINE GLASS", "9.75")
    assert "owner" not in product


@pytest.mark.parametrize(
    "content",
    [
        b"{",
        b"[]",
        b"null",
        b'"alice"',
        b"\xff\xfe{}",
        b'{"username": "\x80lice", "password": "tulip-meadow-42"}',
        b"\x80",
        b'{"username": 5, "password": []}',
    ],
    ids=[
        "truncated",
        "array",
        "null",
        "string",
        "utf16-bom",
        "not-utf8-in-a-string",
        "not-utf8",
        "wrong-types",
    ],
)
async def test_a_malformed_json_body_is_422(client, content):
    response = await client.post(
        "/users", content=content, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422, response.text


async def test_a_deeply_nested_json_body_is_a_client_error(client):
    depth = 20_000
    content = b"[" * depth + b"]" * depth
    response = await client.post(
        "/users", content=content, headers={"Content-Type": "application/json"}
    )
    assert 400 <= response.status_code < 500, response.text


async def test_a_registration_sent_as_a_form_is_422(client):
    response = await client.post(
        "/users", data={"username": "alice", "password": "tulip-meadow-42"}
    )
    assert response.status_code == 422, response.text


# --- the /token form ------------------------------------------------------------------------


async def test_a_repeated_token_parameter_is_invalid_request(client, services):
    await make_user(services)
    form = b"grant_type=password&username=alice&username=bob&password=x"
    response = await client.post("/token", content=form, headers=FORM)
    assert oauth_error(response) == "invalid_request"


async def test_a_json_token_request_is_invalid_request(client, services):
    await make_user(services)
    response = await client.post("/token", json=password_form())
    assert oauth_error(response) == "invalid_request"


async def test_a_token_form_that_is_not_utf8_is_400(client, services):
    await make_user(services)
    form = b"grant_type=password&username=\xff\xfe&password=\xc3\x28"
    response = await client.post("/token", content=form, headers=FORM)
    assert oauth_error(response) == "invalid_request"


async def test_percent_encoded_invalid_utf8_in_the_token_form_is_invalid_grant(client, services):
    # Decoded to replacement characters: a name no user has.
    await make_user(services)
    form = b"grant_type=password&username=%FF%FE&password=%C3%28abcdefgh"
    response = await client.post("/token", content=form, headers=FORM)
    assert oauth_error(response) == "invalid_grant"


async def test_a_token_form_with_too_many_fields_is_invalid_request(client):
    form = "&".join(f"f{n}=x" for n in range(100)).encode()
    response = await client.post("/token", content=form, headers=FORM)
    assert oauth_error(response) == "invalid_request"


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({"username": "ali\x00ce"}, "invalid_grant"),
        ({"password": "pass\x00word-long"}, "invalid_grant"),
        ({"username": "x" * 5000}, "invalid_grant"),
        ({"username": "ali\u202ece"}, "invalid_grant"),
        ({"scope": "me\x00"}, "invalid_scope"),
    ],
    ids=["nul-username", "nul-password", "long-username", "rtl-override-username", "nul-scope"],
)
async def test_odd_password_grant_fields_are_a_400_not_a_500(client, services, form, error):
    await make_user(services)
    response = await client.post("/token", data={**password_form(), **form})
    assert oauth_error(response) == error


# A lone surrogate cannot be encoded as UTF-8, so a form can only carry its bytes: raw (not
# UTF-8: the whole form is refused) or percent-encoded (decoded to replacement characters,
# which then match no user or token).
SURROGATE_BYTES = [b"\xed\xa0\x80", b"%ED%A0%80"]
SURROGATE_ERRORS = [
    pytest.param(b"\xed\xa0\x80", "invalid_request", id="raw"),
    pytest.param(b"%ED%A0%80", "invalid_grant", id="percent-encoded"),
]


@pytest.mark.parametrize(("encoded", "error"), SURROGATE_ERRORS)
@pytest.mark.parametrize(
    "form",
    [
        b"grant_type=password&password=tulip-meadow-42&username=",
        b"grant_type=password&username=alice&password=",
        b"grant_type=refresh_token&refresh_token=",
        b"grant_type=" + MFA_OTP_GRANT.encode() + b"&otp=123456&mfa_token=",
    ],
    ids=["username", "password", "refresh-token", "mfa-token"],
)
async def test_surrogate_bytes_in_the_token_form_are_a_400(client, services, form, encoded, error):
    await make_user(services)
    response = await client.post("/token", content=form + encoded, headers=FORM)
    assert oauth_error(response) == error


@pytest.mark.parametrize("encoded", SURROGATE_BYTES, ids=["raw", "percent-encoded"])
@pytest.mark.parametrize("path", ["/token/revoke", "/token/introspect"])
async def test_surrogate_bytes_in_a_token_to_revoke_or_introspect_are_not_a_500(
    client, admin, path, encoded
):
    response = await client.post(
        path, content=b"token=" + encoded, headers={**FORM, **admin.headers}
    )
    assert response.status_code in (200, 400), response.text


FULL_WIDTH_DIGITS = "\uff11\uff12\uff13\uff14\uff15\uff16"


@pytest.mark.parametrize("otp", ["12\x003456", "x" * 5000, " ", "ali\u202ece", FULL_WIDTH_DIGITS])
async def test_an_odd_one_time_code_is_invalid_grant(client, services, clock, otp):
    await make_user(services)
    await enable_totp(client, await login(client), clock)
    response = await client.post("/token", data={**password_form(), "otp": otp})
    assert oauth_error(response) == "invalid_grant"


@pytest.mark.parametrize("token", ["abc\x00def", "x" * 5000, "..", "a.b.c"])
async def test_an_odd_refresh_token_is_invalid_grant(client, token):
    response = await client.post(
        "/token", data={"grant_type": "refresh_token", "refresh_token": token}
    )
    assert oauth_error(response) == "invalid_grant"


@pytest.mark.parametrize("mfa_token", ["abc\x00def", "x" * 5000, "a.b.c"])
async def test_an_odd_mfa_token_is_invalid_grant(client, mfa_token):
    response = await client.post(
        "/token", data={"grant_type": MFA_OTP_GRANT, "mfa_token": mfa_token, "otp": "123456"}
    )
    assert oauth_error(response) == "invalid_grant"


@pytest.mark.parametrize("token", ["abc\x00def", "x" * 5000, "a.b.c"])
async def test_revoking_an_odd_token_is_200(client, token):
    response = await client.post("/token/revoke", data={"token": token})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("token", ["abc\x00def", "x" * 5000, "a.b.c"])
async def test_introspecting_an_odd_token_is_inactive(client, admin, token):
    response = await client.post("/token/introspect", data={"token": token}, headers=admin.headers)
    assert response.status_code == 200, response.text
    assert response.json() == {"active": False}


# --- credentials in headers -----------------------------------------------------------------


async def test_a_10_kb_bearer_token_is_401(client):
    response = await client.get("/users/me", headers=bearer("a" * 10_240))
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'


async def test_a_10_kb_basic_credential_is_401(client):
    credentials = base64.b64encode(b"alice:" + b"x" * 10_240).decode()
    response = await client.get("/users/me", headers={"Authorization": f"Basic {credentials}"})
    assert response.status_code == 401, response.text


@pytest.mark.parametrize(
    "credentials",
    ["!!!not-base64!!!", "YWxpY2U", "YWxpY2U6", "=", "//79/A==", "AA=="],
    ids=["not-base64", "bad-padding", "empty-password", "only-padding", "not-utf8", "nul"],
)
async def test_malformed_basic_credentials_are_401(client, services, credentials):
    await make_user(services)
    response = await client.get("/users/me", headers={"Authorization": f"Basic {credentials}"})
    assert response.status_code == 401, response.text


async def test_basic_credentials_with_a_nul_in_the_username_are_401(client, services):
    await make_user(services)
    credentials = base64.b64encode(b"ali\x00ce:correct horse battery staple").decode()
    response = await client.get("/users/me", headers={"Authorization": f"Basic {credentials}"})
    assert response.status_code == 401, response.text


async def test_a_jwt_with_a_5000_char_payload_is_401(client):
    header = b64url(json.dumps({"alg": "HS256", "typ": "at+jwt"}).encode())
    payload = b64url(json.dumps({"sub": "1", "pad": "x" * 3800}).encode())
    assert len(payload) >= 5000
    token = f"{header}.{payload}.{b64url(b'sig')}"
    response = await client.get("/users/me", headers=bearer(token))
    assert response.status_code == 401, response.text


@pytest.mark.parametrize(
    "claims",
    [
        {"sub": "abc", "sid": "not-a-uuid"},
        {"sub": str(2**80), "sid": "00000000-0000-0000-0000-000000000000"},
        {"sub": "1", "sid": "00000000-0000-0000-0000-000000000000", "scope": ["me"]},
        {"sub": None, "exp": "soon"},
    ],
    ids=["non-numeric-sub", "huge-sub", "list-scope", "wrong-types"],
)
async def test_a_correctly_signed_token_with_odd_claims_is_401(client, claims):
    now = 2_000_000_000
    full = {
        "scope": "me",
        "iat": now - 10**9,
        "exp": now,
        "jti": "j",
        "iss": "keygate",
        "aud": "keygate",
        **claims,
    }
    token = signed_token(full)
    response = await client.get("/users/me", headers=bearer(token))
    assert response.status_code == 401, response.text


@pytest.mark.parametrize(
    "token",
    ["a.b", "....", "eyJ.eyJ.x", "\u00e9t\u00e9.x.y"],
    ids=["two-parts", "empty-parts", "bad-base64", "latin1"],
)
async def test_a_garbled_bearer_token_is_401(client, token):
    response = await client.get(
        "/users/me", headers={"Authorization": f"Bearer {token}".encode("latin-1")}
    )
    assert response.status_code == 401, response.text


@pytest.mark.parametrize("scheme", ["Digest abc", "Bearer", "Basic", "", "Negotiate " + "x" * 5000])
async def test_an_unusable_authorization_header_is_401(client, scheme):
    response = await client.get("/users/me", headers={"Authorization": scheme})
    assert response.status_code == 401, response.text


async def test_a_session_id_that_is_not_a_uuid_is_422(client, alice):
    response = await client.delete("/users/me/sessions/not-a-uuid", headers=alice.headers)
    assert response.status_code == 422, response.text


@pytest.mark.parametrize("code", ["", "x" * 33, "12\x003456"])
async def test_an_odd_totp_confirmation_code_is_a_client_error(client, alice, code):
    enrolment = await client.post(
        "/users/me/totp", headers=alice.headers, json={"password": DEFAULT_PASSWORD}
    )
    assert enrolment.status_code == 201, enrolment.text
    response = await client.post(
        "/users/me/totp/confirm", json={"code": code}, headers=alice.headers
    )
    assert response.status_code in (400, 422), response.text


# --- prices ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "price",
    [b'"1e-999999999"', b'"9e999999999"', b"1" * 4000, b"1e400", b'"' + b"1" * 40 + b'"', b"{}"],
    ids=["tiny-exponent", "huge-exponent", "4000-digits", "float-overflow", "40-chars", "object"],
)
async def test_an_extreme_price_is_a_client_error(client, admin, price):
    body = b'{"name": "WINE GLASS", "price": ' + price + b"}"
    headers = {**admin.headers, "Content-Type": "application/json"}
    response = await client.post("/products", content=body, headers=headers)
    assert 400 <= response.status_code < 500, response.text


# --- headers that end up stored or echoed ---------------------------------------------------


async def test_a_10_kb_user_agent_does_not_break_login_or_the_session_list(client, services):
    await make_user(services)
    headers = {"User-Agent": "x" * 10_240}
    response = await client.post("/token", data=password_form(), headers=headers)
    assert response.status_code == 200, response.text
    token = response.json()["access_token"]
    sessions = await client.get("/users/me/sessions", headers=bearer(token))
    assert sessions.status_code == 200, sessions.text


async def test_a_10_kb_request_id_does_not_break_a_request(client):
    response = await client.get("/health", headers={"X-Request-ID": "r" * 10_240})
    assert response.status_code == 200, response.text


async def test_a_scoped_ipv6_forwarded_address_from_a_trusted_proxy_does_not_break_login(
    start_app,
):
    proxied = await start_app(trusted_proxies="203.0.113.7")
    await make_user(proxied.services)
    async with proxied.client() as proxy:
        response = await proxy.post(
            "/token", data=password_form(), headers={"X-Forwarded-For": "fe80::1%eth0"}
        )
        assert response.status_code == 200, response.text
        token = response.json()["access_token"]
        sessions = await proxy.get("/users/me/sessions", headers=bearer(token))
    assert sessions.status_code == 200, sessions.text


@pytest.mark.parametrize("method", ["PUT", "TRACE"])
async def test_an_unsupported_method_is_405(client, method):
    response = await client.request(method, "/products")
    assert response.status_code == 405, response.text


@pytest.mark.parametrize("path", ["/token", "/token/revoke", "/token/introspect"])
async def test_a_client_that_leaves_before_its_form_arrives_is_no_server_error(app, path, caplog):
    # The ASGI messages a server passes on when the client closes the connection mid-body.
    messages = [
        {"type": "http.request", "body": b"grant_type=pass", "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[dict] = []

    async def receive() -> dict:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"keygate.test"),
            (b"content-type", b"application/x-www-form-urlencoded"),
            (b"content-length", b"100"),
        ],
        "client": ("203.0.113.7", 40000),
        "server": ("keygate.test", 80),
    }
    await app.asgi(scope, receive, send)

    assert sent[0]["type"] == "http.response.start"
    assert sent[0]["status"] < 500
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
