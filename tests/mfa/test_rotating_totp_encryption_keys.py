"""TOTP_ENCRYPTION_KEYS (docs/contract.md): comma-separated Fernet keys for the stored
TOTP secrets; the first encrypts, all decrypt. Keys rotate without losing an enrolment, and
with the keys set, changing JWT_SECRET never makes a stored secret unreadable."""

from cryptography.fernet import Fernet

from tests.conftest import make_settings, running_app
from tests.factories import login, make_user
from tests.fixtures.attacks import password_form
from tests.fixtures.totp import STEP_SECONDS, code_at, enable_totp, move_to_the_middle_of_a_step

OTHER_JWT_SECRET = "another-secret-" + "y" * 40
THIRD_JWT_SECRET = "a-third-secret-" + "z" * 40


def new_key() -> str:
    return Fernet.generate_key().decode()


async def enrol(app, clock, username: str) -> str:
    """Makes `username`, enrols and confirms TOTP through `app`; returns the secret."""
    await make_user(app.services, username)
    async with app.client() as client:
        session = await login(client, username)
        move_to_the_middle_of_a_step(clock)
        enabled = await enable_totp(client, session, clock)
    clock.advance(3 * STEP_SECONDS)  # the confirming code's step is out of the way
    return enabled.secret


async def log_in_with_a_code(app, clock, username: str, secret: str):
    async with app.client() as client:
        return await client.post(
            "/token", data=password_form(username, otp=code_at(secret, clock()))
        )


async def test_an_enrolment_survives_a_new_first_key_and_a_new_jwt_secret(database, clock):
    key_a, key_b = new_key(), new_key()
    async with running_app(make_settings(totp_encryption_keys=key_a), clock) as before:
        secret = await enrol(before, clock, "alice")

    rotated = make_settings(totp_encryption_keys=f"{key_b},{key_a}", jwt_secret=OTHER_JWT_SECRET)
    async with running_app(rotated, clock) as after:
        response = await log_in_with_a_code(after, clock, "alice", secret)
    assert response.status_code == 200, response.text


async def test_new_enrolments_are_encrypted_with_the_first_key(database, redis, clock):
    key_a, key_b = new_key(), new_key()
    rotated = make_settings(totp_encryption_keys=f"{key_b},{key_a}", jwt_secret=OTHER_JWT_SECRET)
    async with running_app(rotated, clock) as during:
        secret = await enrol(during, clock, "bob")
    await redis.flushdb()  # the next app reads the secret as PostgreSQL stores it

    only_b = make_settings(totp_encryption_keys=key_b, jwt_secret=THIRD_JWT_SECRET)
    async with running_app(only_b, clock) as after:
        response = await log_in_with_a_code(after, clock, "bob", secret)
    assert response.status_code == 200, response.text


async def test_a_secret_under_a_key_no_longer_listed_is_not_read(database, redis, clock):
    key_a, key_b = new_key(), new_key()
    async with running_app(make_settings(totp_encryption_keys=key_a), clock) as before:
        secret = await enrol(before, clock, "alice")
    await redis.flushdb()

    async with running_app(make_settings(totp_encryption_keys=key_b), clock) as after:
        response = await log_in_with_a_code(after, clock, "alice", secret)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_grant"
