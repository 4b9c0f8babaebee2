"""Recovery codes stand in for the authenticator: each one logs in once, by the password
grant's `otp` or by the mfa exchange, and PostgreSQL keeps only their hashes."""

from tests.factories import login, make_user
from tests.fixtures.totp import (
    as_login,
    enable_totp,
    mfa_exchange,
    mfa_token_for,
    password_login,
)


async def test_a_recovery_code_logs_in_in_one_step(client, totp_user):
    response = await password_login(client, otp=totp_user.recovery_codes[0])

    tokens = as_login(response)
    assert (await client.get("/users/me", headers=tokens.headers)).status_code == 200


async def test_a_recovery_code_completes_the_mfa_exchange(client, totp_user):
    mfa_token = await mfa_token_for(client)

    response = await mfa_exchange(client, mfa_token, totp_user.recovery_codes[0])

    assert response.status_code == 200


async def test_a_recovery_code_used_in_one_step_is_refused_the_second_time(client, totp_user):
    code = totp_user.recovery_codes[0]
    assert (await password_login(client, otp=code)).status_code == 200

    again = await password_login(client, otp=code)
    exchanged = await mfa_exchange(client, await mfa_token_for(client), code)

    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"
    assert exchanged.status_code == 400
    assert exchanged.json()["error"] == "invalid_grant"


async def test_a_recovery_code_used_in_the_exchange_is_refused_the_second_time(client, totp_user):
    code = totp_user.recovery_codes[0]
    assert (await mfa_exchange(client, await mfa_token_for(client), code)).status_code == 200

    exchanged = await mfa_exchange(client, await mfa_token_for(client), code)
    one_step = await password_login(client, otp=code)

    assert exchanged.status_code == 400
    assert exchanged.json()["error"] == "invalid_grant"
    assert one_step.status_code == 400
    assert one_step.json()["error"] == "invalid_grant"


async def test_using_one_recovery_code_leaves_the_others_usable(client, totp_user):
    first, *others = totp_user.recovery_codes
    assert (await password_login(client, otp=first)).status_code == 200

    for code in others:
        assert (await password_login(client, otp=code)).status_code == 200, code


async def test_another_users_recovery_code_does_not_log_in(client, services, totp_user, clock):
    await make_user(services, "bob")
    bob = await enable_totp(client, await login(client, "bob"), clock)

    response = await password_login(client, otp=bob.recovery_codes[0])

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


async def test_recovery_codes_are_stored_hashed(database, totp_user):
    async with database.acquire() as conn:
        rows = await conn.fetch("SELECT t::text AS text, t.* FROM totp_recovery_codes t")

    assert len(rows) == len(totp_user.recovery_codes)
    stored = " ".join(row["text"] for row in rows).lower()
    raw = b"".join(
        bytes(value) for row in rows for value in row.values() if isinstance(value, bytes)
    )
    for code in totp_user.recovery_codes:
        compact = code.replace("-", "").lower()
        assert code.lower() not in stored
        assert compact not in stored
        assert compact.encode() not in raw
        assert compact.encode().hex() not in stored
