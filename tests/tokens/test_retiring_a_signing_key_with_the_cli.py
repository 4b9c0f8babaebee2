"""`keygate keys generate --force` keeps the replaced key beside the new one as a retired key
(docs/contract.md): its public half only, which is all JWT_PREVIOUS_PUBLIC_KEY_FILES
needs, so a rotation leaves no second copy of a private key behind; readable by its owner
alone."""

import stat

from cryptography.hazmat.primitives import serialization

from tests.cli import keygate as run_keygate


async def generate(tmp_path, *flags: str):
    (tmp_path / "keys").mkdir(exist_ok=True)
    return await run_keygate(
        "keys",
        "generate",
        *flags,
        cwd=tmp_path,
        JWT_ALGORITHM="ES256",
        JWT_PRIVATE_KEY_FILE=str(tmp_path / "keys" / "signing.pem"),
    )


def public_pem_of(private_pem: bytes) -> bytes:
    private = serialization.load_pem_private_key(private_pem, password=None)
    return private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


async def test_force_keeps_only_the_public_half_of_the_replaced_key(tmp_path):
    assert (await generate(tmp_path)).returncode == 0
    path = tmp_path / "keys" / "signing.pem"
    replaced = path.read_bytes()

    forced = await generate(tmp_path, "--force")

    assert forced.returncode == 0, forced.stderr
    retired = path.with_name("signing.pem.previous")
    assert b"PRIVATE KEY" not in retired.read_bytes()
    public = serialization.load_pem_public_key(retired.read_bytes())
    assert public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ) == public_pem_of(replaced)


async def test_the_retired_key_file_is_readable_by_its_owner_only(tmp_path):
    assert (await generate(tmp_path)).returncode == 0
    forced = await generate(tmp_path, "--force")
    assert forced.returncode == 0, forced.stderr
    retired = tmp_path / "keys" / "signing.pem.previous"
    assert stat.S_IMODE(retired.stat().st_mode) == 0o600
