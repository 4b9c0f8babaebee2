"""No token input gives a 500 (docs/contract.md): JWT-shaped input with deeply nested or
huge JSON in its header or payload, bytes that are not UTF-8, lone surrogates and oversized
fields is refused by every reader of tokens the way any other bad token is: 401
invalid_token on a bearer request, 200 on revocation, {"active": false} on introspection,
invalid_grant as a refresh token or an mfa_token.

Payloads are read only after the signature is verified, so the payload cases are signed with
the test apps' key: what reaches the JSON parser of a real keygate only from a holder of its
key, or from any client of a resource server that parses before verifying."""

import asyncio
import base64
import json
from collections.abc import Awaitable, Callable
from typing import Final

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.factories import Login, login, make_user
from tests.fixtures.attacks import assert_invalid_grant, bearer, client_at, compact_jws

ACCESS_HEADER: Final = b'{"alg":"HS256","typ":"at+jwt"}'
EXAMPLES_PER_READER: Final = 40


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


CASES: Final = {
    "header-nested-arrays": compact_jws(b"[" * 2900, b"{}", signed=False),
    "header-nested-and-closed": compact_jws(nested(1400), b"{}", signed=False),
    "header-nested-objects": compact_jws(b'{"a":' * 700 + b"1" + b"}" * 700, b"{}", signed=False),
    "payload-nested-arrays": compact_jws(ACCESS_HEADER, b"[" * 2800, signed=True),
    "payload-nested-objects": compact_jws(
        ACCESS_HEADER, b'{"sub":' * 500 + b"1" + b"}" * 500, signed=True
    ),
    "header-huge-number": compact_jws(
        b'{"alg":"HS256","typ":"at+jwt","kid":' + b"9" * 2500 + b"}", b"{}", signed=False
    ),
    "payload-huge-numbers": compact_jws(
        ACCESS_HEADER,
        b'{"sub":' + b"7" * 1200 + b',"exp":' + b"9" * 1200 + b',"iat":-' + b"1" * 300 + b"}",
        signed=True,
    ),
    "payload-huge-float": compact_jws(ACCESS_HEADER, b'{"exp":1e999,"iat":-1e999}', signed=True),
    "header-not-utf8": compact_jws(b'{"alg":"HS256","typ":"\xff\xfe"}', b"{}", signed=False),
    "payload-not-utf8": compact_jws(ACCESS_HEADER, b'{"sub":"\xc3\x28"}', signed=True),
    "header-lone-surrogate": compact_jws(
        b'{"alg":"HS256","typ":"at+jwt","kid":"\\ud800"}', b"{}", signed=False
    ),
    "payload-lone-surrogates": compact_jws(
        ACCESS_HEADER,
        b'{"sub":"\\ud800","exp":9999999999,"iat":1,"iss":"keygate","aud":"keygate",'
        b'"scope":"\\udfff","sid":"\\ud800","jti":"\\ud800"}',
        signed=True,
    ),
    "header-oversized-kid": compact_jws(
        b'{"alg":"HS256","typ":"at+jwt","kid":"' + b"k" * 2900 + b'"}', b"{}", signed=False
    ),
    "payload-oversized-sid": compact_jws(
        ACCESS_HEADER, b'{"sub":"1","sid":"' + b"s" * 2900 + b'"}', signed=True
    ),
    "header-not-an-object": compact_jws(b'"at+jwt"', b"{}", signed=False),
    "payload-not-an-object": compact_jws(ACCESS_HEADER, b"[1,2,3]", signed=True),
}

Reader = Callable[[httpx.AsyncClient, Login, str], Awaitable[None]]


async def read_as_bearer(client: httpx.AsyncClient, _: Login, token: str) -> None:
    response = await client.get("/users/me", headers=bearer(token))
    assert response.status_code == 401, response.text
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


async def read_for_revocation(client: httpx.AsyncClient, _: Login, token: str) -> None:
    response = await client.post("/token/revoke", data={"token": token})
    assert response.status_code == 200, response.text


async def read_for_introspection(client: httpx.AsyncClient, admin: Login, token: str) -> None:
    response = await client.post("/token/introspect", data={"token": token}, headers=admin.headers)
    assert response.status_code == 200, response.text
    assert response.json() == {"active": False}


async def read_as_refresh_token(client: httpx.AsyncClient, _: Login, token: str) -> None:
    form = {"grant_type": "refresh_token", "refresh_token": token}
    assert_invalid_grant(await client.post("/token", data=form))


async def read_as_mfa_token(client: httpx.AsyncClient, _: Login, token: str) -> None:
    form = {
        "grant_type": "urn:keygate:params:oauth:grant-type:mfa-otp",
        "mfa_token": token,
        "otp": "123456",
    }
    assert_invalid_grant(await client.post("/token", data=form))


READERS: Final[dict[str, Reader]] = {
    "bearer": read_as_bearer,
    "revoke": read_for_revocation,
    "introspect": read_for_introspection,
    "refresh-grant": read_as_refresh_token,
    "mfa-grant": read_as_mfa_token,
}


@pytest.fixture
async def admin(client, services) -> Login:
    await make_user(services, "root", is_admin=True)
    return await login(client, "root")


@pytest.fixture
async def hardened(app) -> httpx.AsyncClient:
    async with client_at(app) as client:
        yield client


@pytest.mark.parametrize("reader", READERS.values(), ids=READERS.keys())
@pytest.mark.parametrize("token", CASES.values(), ids=CASES.keys())
async def test_a_malformed_token_is_refused_like_any_bad_token_by_every_reader(
    hardened, admin, reader, token
):
    await reader(hardened, admin, token)


async def test_the_session_of_the_admin_survives_every_malformed_revocation(hardened, admin):
    for token in CASES.values():
        await hardened.post("/token/revoke", data={"token": token})
    response = await hardened.get("/users/me", headers=admin.headers)
    assert response.status_code == 200, response.text


# --- generated: JWT-shaped garbage ------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**300), max_value=10**300)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
header_fields = st.fixed_dictionaries(
    {},
    optional={
        "alg": st.sampled_from(["HS256", "none", "RS256", "ES256", "hs256", ""]) | json_values,
        "typ": st.sampled_from(["at+jwt", "JWT", ""]) | json_values,
        "kid": st.text(max_size=40) | json_values,
        "cty": json_values,
    },
)
claims = st.fixed_dictionaries(
    {},
    optional={
        name: json_values | st.text(max_size=40)
        for name in ("sub", "exp", "iat", "nbf", "iss", "aud", "scope", "sid", "jti")
    },
)


def as_json(value: object) -> bytes:
    return json.dumps(value).encode()


# Segments stay under 2000 bytes (2667 base64url characters), so that two of them fit the
# 8 KiB form of /token, /token/revoke and /token/introspect: the token itself is read.
MAX_SEGMENT_BYTES: Final = 2000


@st.composite
def deeply_nested(draw: st.DrawFn) -> bytes:
    """Arrays nested past Python's recursion limit (1000 frames, wherever the parser stands),
    alone or as the value of a field of an otherwise plausible header or payload."""
    prefix = draw(st.sampled_from([b"", b'{"alg":"HS256","typ":"at+jwt","kid":', b'{"sub":']))
    depth = draw(st.integers(min_value=1200, max_value=MAX_SEGMENT_BYTES - len(prefix)))
    return prefix + b"[" * depth


segment_bytes = st.one_of(
    header_fields.map(as_json),
    claims.map(as_json),
    json_values.map(as_json),
    st.binary(max_size=200),
    deeply_nested(),
    st.integers(min_value=1, max_value=MAX_SEGMENT_BYTES).map(lambda digits: b"9" * digits),
    st.sampled_from([b'"\\ud800"', b'{"kid":"\\udfff"}', b"\xff\xfe\xfd", b"\xc3\x28"]),
)


@st.composite
def jwt_shaped(draw: st.DrawFn) -> str:
    # Nesting gets a branch of its own: it is the input most likely to break a JSON parser.
    header = draw(st.one_of(header_fields.map(as_json), deeply_nested(), segment_bytes))
    payload = draw(st.one_of(claims.map(as_json), deeply_nested(), segment_bytes))
    return compact_jws(header, payload, signed=draw(st.booleans()))


@pytest.mark.slow  # Hypothesis fuzzing
@pytest.mark.parametrize("reader", READERS.values(), ids=READERS.keys())
async def test_no_jwt_shaped_garbage_is_a_server_error_for_any_reader(hardened, admin, reader):
    loop = asyncio.get_running_loop()

    @settings(
        max_examples=EXAMPLES_PER_READER,
        derandomize=True,  # the same examples on every run: failures reproduce
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        print_blob=True,
    )
    @given(token=jwt_shaped())
    def fuzz(token: str) -> None:
        asyncio.run_coroutine_threadsafe(reader(hardened, admin, token), loop).result(timeout=30)

    await asyncio.to_thread(fuzz)


# --- oversized credentials ----------------------------------------------------------------


async def test_a_megabyte_bearer_token_is_401_invalid_token(hardened):
    response = await hardened.get("/users/me", headers=bearer("a." * 500_000 + "a"))
    assert response.status_code == 401, response.text
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


async def test_a_megabyte_of_basic_credentials_is_401(hardened):
    credentials = base64.b64encode(b"alice:" + b"x" * 1_000_000).decode()
    response = await hardened.get("/users/me", headers={"Authorization": f"Basic {credentials}"})
    assert response.status_code == 401, response.text
