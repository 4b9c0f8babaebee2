"""Enrolment: POST /users/me/totp shows a secret, an otpauth URI and a QR code; TOTP is on
only once POST /users/me/totp/confirm gets a valid code, which returns the recovery codes."""

import base64
import hashlib
import hmac
import re
import struct
import xml.etree.ElementTree as ET
from urllib.parse import parse_qs, urlsplit

import pyotp
import segno

from tests.factories import DEFAULT_PASSWORD, login, make_user
from tests.fixtures.totp import (
    code_at,
    enable_totp,
    move_to_the_middle_of_a_step,
    password_login,
    totp_enabled,
    wrong_code,
)

# RFC 6238 Appendix B: the SHA1 seed is the ASCII string "12345678901234567890".
RFC_SEED = b"12345678901234567890"
RFC_SEED_BASE32 = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"


def rfc6238_code(secret_base32: str, moment: float, digits: int = 6) -> str:
    """RFC 6238 (HOTP of RFC 4226 over 30-second steps, HMAC-SHA1), written from the RFCs."""
    key = base64.b32decode(secret_base32)
    mac = hmac.digest(key, struct.pack(">Q", int(moment) // 30), hashlib.sha1)
    offset = mac[-1] & 0x0F
    value = struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(value % 10**digits).zfill(digits)


def qr_modules(svg: str) -> set[tuple[int, int]]:
    """The dark modules of a QR code drawn as SVG path runs (`M x y`, `m dx dy`, `h n`), in
    module units, relative to the top-left dark module."""
    root = ET.fromstring(svg)  # noqa: S314 (the service's own output, not untrusted input)
    paths = [el for el in root.iter() if el.tag.endswith("path")]
    assert len(paths) == 1
    dark: set[tuple[int, int]] = set()
    x = y = 0.0
    for command, args in re.findall(r"([MmHh])([^MmHh]*)", paths[0].attrib["d"]):
        numbers = [float(n) for n in args.replace(",", " ").split()]
        if command == "M":
            x, y = numbers
        elif command == "m":
            x, y = x + numbers[0], y + numbers[1]
        else:
            length = numbers[0] if command == "h" else numbers[0] - x
            dark.update((int(x) + i, int(y)) for i in range(int(length)))
            x += length
    left = min(col for col, _ in dark)
    top = min(row for _, row in dark)
    return {(col - left, row - top) for col, row in dark}


def segno_modules(uri: str, error: str) -> set[tuple[int, int]]:
    matrix = segno.make(uri, error=error).matrix
    return {(col, row) for row, line in enumerate(matrix) for col, bit in enumerate(line) if bit}


async def begin(client, tokens):
    response = await client.post(
        "/users/me/totp", headers=tokens.headers, json={"password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 201, response.text
    return response.json()


def test_the_rfc_6238_sha1_vector_gives_the_six_digit_code_keygate_expects():
    assert base64.b32encode(RFC_SEED).decode() == RFC_SEED_BASE32
    assert pyotp.TOTP(RFC_SEED_BASE32, digits=8).at(59) == "94287082"
    assert pyotp.TOTP(RFC_SEED_BASE32, digits=6).at(59) == "287082"
    assert rfc6238_code(RFC_SEED_BASE32, 59, digits=8) == "94287082"
    assert rfc6238_code(RFC_SEED_BASE32, 1111111109, digits=8) == "07081804"
    assert rfc6238_code(RFC_SEED_BASE32, 59) == "287082"


async def test_enrolment_shows_a_160_bit_secret_an_otpauth_uri_and_a_qr_code(client, services):
    await make_user(services)
    tokens = await login(client)

    body = await begin(client, tokens)

    assert set(body) == {"secret", "otpauth_uri", "qr_svg"}
    secret = body["secret"]
    assert re.fullmatch(r"[A-Z2-7]{32}", secret)
    assert len(base64.b32decode(secret)) * 8 == 160
    uri = urlsplit(body["otpauth_uri"])
    assert (uri.scheme, uri.netloc, uri.path) == ("otpauth", "totp", "/keygate:alice")
    assert parse_qs(uri.query)["secret"] == [secret]
    assert parse_qs(uri.query)["issuer"] == ["keygate"]


async def test_the_qr_code_is_an_svg_of_the_otpauth_uri(client, services):
    await make_user(services)
    tokens = await login(client)

    body = await begin(client, tokens)

    root = ET.fromstring(body["qr_svg"])  # noqa: S314 (the service's own output)
    assert root.tag.endswith("svg")
    modules = qr_modules(body["qr_svg"])
    assert len(modules) > 200  # a real QR symbol, not an empty picture
    # No QR decoder is installed: the picture must be, module for module, the QR code segno
    # makes of the same URI (at one of the four error-correction levels).
    assert any(modules == segno_modules(body["otpauth_uri"], level) for level in "lmqh")


async def test_totp_is_not_active_before_the_enrolment_is_confirmed(client, services):
    await make_user(services)
    tokens = await login(client)

    await begin(client, tokens)

    assert await totp_enabled(client, tokens) is False
    assert (await password_login(client)).status_code == 200


async def test_a_wrong_confirmation_code_is_refused_and_leaves_totp_off(client, services, clock):
    await make_user(services)
    tokens = await login(client)
    move_to_the_middle_of_a_step(clock)
    secret = (await begin(client, tokens))["secret"]

    refused = await client.post(
        "/users/me/totp/confirm",
        json={"code": wrong_code(secret, clock())},
        headers=tokens.headers,
    )

    assert refused.status_code == 400
    assert await totp_enabled(client, tokens) is False
    assert (await password_login(client)).status_code == 200


async def test_the_right_code_turns_totp_on_and_returns_ten_distinct_recovery_codes(
    client, services, clock
):
    await make_user(services)
    tokens = await login(client)
    move_to_the_middle_of_a_step(clock)
    secret = (await begin(client, tokens))["secret"]

    confirmed = await client.post(
        "/users/me/totp/confirm",
        json={"code": pyotp.TOTP(secret).at(clock())},
        headers=tokens.headers,
    )

    assert confirmed.status_code == 200
    codes = confirmed.json()["recovery_codes"]
    assert len(codes) == 10
    assert len(set(codes)) == 10
    assert await totp_enabled(client, tokens) is True
    assert (await password_login(client)).json()["error"] == "mfa_required"


async def test_a_code_computed_by_the_rfc_6238_algorithm_confirms_the_enrolment(
    client, services, clock
):
    await make_user(services)
    tokens = await login(client)
    move_to_the_middle_of_a_step(clock)
    secret = (await begin(client, tokens))["secret"]

    code = rfc6238_code(secret, clock())
    confirmed = await client.post(
        "/users/me/totp/confirm", json={"code": code}, headers=tokens.headers
    )

    assert code == pyotp.TOTP(secret).at(clock())
    assert confirmed.status_code == 200


async def test_restarting_enrolment_replaces_the_secret(client, services, clock):
    await make_user(services)
    tokens = await login(client)
    move_to_the_middle_of_a_step(clock)
    first = (await begin(client, tokens))["secret"]
    second = (await begin(client, tokens))["secret"]
    assert first != second

    stale = await client.post(
        "/users/me/totp/confirm", json={"code": code_at(first, clock())}, headers=tokens.headers
    )
    assert stale.status_code == 400
    fresh = await client.post(
        "/users/me/totp/confirm", json={"code": code_at(second, clock())}, headers=tokens.headers
    )
    assert fresh.status_code == 200


async def test_enrolling_again_once_totp_is_on_is_409(client, services, clock):
    await make_user(services)
    tokens = await login(client)
    await enable_totp(client, tokens, clock)

    again = await client.post(
        "/users/me/totp", headers=tokens.headers, json={"password": DEFAULT_PASSWORD}
    )

    assert again.status_code == 409
    assert "secret" not in again.json()


async def test_the_secret_is_never_shown_after_enrolment(client, services, clock):
    await make_user(services)
    tokens = await login(client)
    enabled = await enable_totp(client, tokens, clock)

    me = await client.get("/users/me", headers=tokens.headers)

    assert me.status_code == 200
    assert me.json()["totp_enabled"] is True
    assert not any("secret" in key for key in me.json())
    assert enabled.secret not in me.text


async def test_the_secret_is_stored_encrypted_in_postgresql_and_redis(
    client, services, clock, database, redis
):
    await make_user(services)
    tokens = await login(client)
    move_to_the_middle_of_a_step(clock)
    secret = (await begin(client, tokens))["secret"]
    async with database.acquire() as conn:
        pending_row = await conn.fetchval("SELECT u::text FROM users u WHERE username = 'alice'")
    assert secret not in pending_row

    confirmed = await client.post(
        "/users/me/totp/confirm", json={"code": code_at(secret, clock())}, headers=tokens.headers
    )
    assert confirmed.status_code == 200
    await password_login(client)  # puts alice's record, TOTP on, in the auth cache

    async with database.acquire() as conn:
        stored = await conn.fetchval(
            "SELECT totp_secret_encrypted FROM users WHERE username = 'alice'"
        )
        row = await conn.fetchval("SELECT u::text FROM users u WHERE username = 'alice'")
    assert stored
    assert secret not in stored
    assert secret.lower() not in stored.lower()
    assert secret not in row
    assert base64.b32decode(secret).hex() not in row
    for key in await redis.keys("*"):
        assert secret.encode() not in await redis_value(redis, key), key


async def redis_value(redis, key: bytes) -> bytes:
    kind = (await redis.type(key)).decode()
    if kind == "string":
        return await redis.get(key)
    if kind == "hash":
        return b" ".join(k + b"=" + v for k, v in (await redis.hgetall(key)).items())
    if kind == "set":
        return b" ".join(await redis.smembers(key))
    if kind == "zset":
        return b" ".join(await redis.zrange(key, 0, -1))
    if kind == "list":
        return b" ".join(await redis.lrange(key, 0, -1))
    return b""


async def test_enrolment_needs_the_me_scope(client, services):
    await make_user(services)
    tokens = await login(client, scope="products:read")

    response = await client.post("/users/me/totp", headers=tokens.headers)

    assert response.status_code == 403


async def test_enrolment_without_credentials_is_401(client):
    assert (await client.post("/users/me/totp")).status_code == 401
