"""`keygate keys generate` as an operator runs it: a key of JWT_ALGORITHM's kind, readable by
its owner alone, never overwritten by accident, and a rotation it explains how to finish."""

import stat

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tests.conftest import make_settings, running_app
from tests.factories import login, make_user
from tests.fixtures.keys_and_servers import (
    ALGORITHMS,
    KeyFile,
    client_of,
    run_keygate,
    write_public_pem,
)

KIND = {"ES256": ec.EllipticCurvePrivateKey, "RS256": rsa.RSAPrivateKey}


async def generate(tmp_path, algorithm: str, *flags: str):
    (tmp_path / "keys").mkdir(exist_ok=True)
    return await run_keygate(
        "keys",
        "generate",
        *flags,
        cwd=tmp_path,
        JWT_ALGORITHM=algorithm,
        JWT_PRIVATE_KEY_FILE=str(tmp_path / "keys" / "signing.pem"),
    )


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def key_file(tmp_path, algorithm: str, path) -> KeyFile:
    public_path = tmp_path / f"{path.name}.pub"
    write_public_pem(path, public_path)
    return KeyFile(algorithm, path, public_path)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
async def test_generate_writes_a_key_of_the_configured_kind_readable_by_its_owner_only(
    tmp_path, algorithm
):
    done = await generate(tmp_path, algorithm)

    assert done.returncode == 0, done.stderr
    path = tmp_path / "keys" / "signing.pem"
    assert mode(path) == 0o600
    private = serialization.load_pem_private_key(path.read_bytes(), password=None)
    assert isinstance(private, KIND[algorithm])
    if isinstance(private, ec.EllipticCurvePrivateKey):
        assert isinstance(private.curve, ec.SECP256R1)
    assert key_file(tmp_path, algorithm, path).kid in done.stdout


@pytest.mark.parametrize("algorithm", ALGORITHMS)
async def test_generate_refuses_to_overwrite_a_key_in_one_line(tmp_path, algorithm):
    assert (await generate(tmp_path, algorithm)).returncode == 0
    path = tmp_path / "keys" / "signing.pem"
    original = path.read_bytes()

    again = await generate(tmp_path, algorithm)

    assert again.returncode != 0
    assert len(again.error_lines) == 1, again.stderr
    assert "Traceback" not in again.stderr
    assert "--force" in again.error_lines[0]
    assert path.read_bytes() == original


@pytest.mark.parametrize("algorithm", ALGORITHMS)
async def test_force_keeps_the_old_public_key_beside_the_new_one_and_says_how_to_roll_it_in(
    tmp_path, algorithm
):
    assert (await generate(tmp_path, algorithm)).returncode == 0
    path = tmp_path / "keys" / "signing.pem"
    original = path.read_bytes()
    old_public = (
        serialization.load_pem_private_key(original, password=None)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )

    forced = await generate(tmp_path, algorithm, "--force")

    assert forced.returncode == 0, forced.stderr
    assert path.read_bytes() != original
    assert mode(path) == 0o600
    (kept,) = [p for p in path.parent.iterdir() if p != path]
    assert kept.read_bytes() == old_public  # the retired key's public half only
    assert mode(kept) == 0o600
    assert str(kept) in forced.stdout
    assert "JWT_PREVIOUS_PUBLIC_KEY_FILES" in forced.stdout


@pytest.mark.parametrize("algorithm", ALGORITHMS)
async def test_following_the_rotation_message_keeps_tokens_of_the_old_key_working(
    tmp_path, database, clock, algorithm
):
    assert (await generate(tmp_path, algorithm)).returncode == 0
    path = tmp_path / "keys" / "signing.pem"
    old_settings = make_settings(jwt_algorithm=algorithm, jwt_private_key_file=path)
    async with running_app(old_settings, clock) as before, client_of(before) as client:
        await make_user(before.services)
        old = await login(client)
    old_key = key_file(tmp_path, algorithm, path)
    forced = await generate(tmp_path, algorithm, "--force")
    (kept,) = [p for p in path.parent.iterdir() if p != path and str(p) in forced.stdout]

    # What the message says: the kept file goes into JWT_PREVIOUS_PUBLIC_KEY_FILES.
    new_settings = make_settings(
        jwt_algorithm=algorithm,
        jwt_private_key_file=path,
        jwt_previous_public_key_files=str(kept),
    )
    async with running_app(new_settings, clock) as after, client_of(after) as client:
        assert (await client.get("/users/me", headers=old.headers)).status_code == 200
        new = await login(client)

    assert jwt.get_unverified_header(old.access_token)["kid"] == old_key.kid
    assert jwt.get_unverified_header(new.access_token)["kid"] != old_key.kid


async def test_generate_with_hs256_refuses_in_one_line(tmp_path):
    done = await run_keygate(
        "keys",
        "generate",
        cwd=tmp_path,
        JWT_ALGORITHM="HS256",
        JWT_PRIVATE_KEY_FILE=str(tmp_path / "signing.pem"),
    )

    assert done.returncode != 0
    assert len(done.error_lines) == 1, done.stderr
    assert "JWT_ALGORITHM" in done.error_lines[0]
    assert not (tmp_path / "signing.pem").exists()


async def test_generate_creates_no_directory_and_says_so_in_one_line(tmp_path):
    path = tmp_path / "etc" / "keygate" / "signing.pem"

    done = await run_keygate(
        "keys",
        "generate",
        cwd=tmp_path,
        JWT_ALGORITHM="ES256",
        JWT_PRIVATE_KEY_FILE=str(path),
    )

    assert done.returncode == 1
    assert len(done.error_lines) == 1, done.stderr
    assert "JWT_PRIVATE_KEY_FILE" in done.error_lines[0]
    assert str(path.parent) in done.error_lines[0]
    assert not (tmp_path / "etc").exists()
