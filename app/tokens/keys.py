"""Signing keys for ES256 and RS256: loading, generating, publishing as JWKS (RFC 7517), and
the key id every instance derives alike from the key itself (RFC 7638 thumbprint)."""

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jose import jwk
from jose.backends.base import Key

RSA_KEY_BITS: Final = 3072
# RFC 7638 §3.2: the required members of each key type, the only ones hashed.
THUMBPRINT_MEMBERS: Final = {"EC": ("crv", "kty", "x", "y"), "RSA": ("e", "kty", "n")}


class KeyFileError(Exception):
    """A key file is missing, unreadable or of the wrong kind; the message says which."""


@dataclass(frozen=True)
class VerificationKey:
    kid: str
    key: Key  # built once: rebuilding from PEM on every request costs more than verifying
    public_jwk: dict[str, str]
    public_pem: str


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_pem: str


def rfc7638_key_id(public_jwk: dict[str, Any]) -> str:
    members = THUMBPRINT_MEMBERS[public_jwk["kty"]]
    canonical = json.dumps({m: public_jwk[m] for m in members}, separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _public_jwk(public_pem: str, algorithm: str) -> dict[str, str]:
    fields = jwk.construct(public_pem, algorithm).to_dict()
    return {k: v for k, v in fields.items() if k in ("kty", "crv", "x", "y", "n", "e")}


def _check_kind(key: object, algorithm: str, path: Path) -> None:
    wanted = ec.EllipticCurvePrivateKey if algorithm == "ES256" else rsa.RSAPrivateKey
    wanted_public = ec.EllipticCurvePublicKey if algorithm == "ES256" else rsa.RSAPublicKey
    if not isinstance(key, wanted | wanted_public):
        raise KeyFileError(f"{path} does not hold a {algorithm} key")
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) and not isinstance(
        key.curve, ec.SECP256R1
    ):
        raise KeyFileError(f"{path}: ES256 needs a P-256 key")


def verification_key(public_pem: str, algorithm: str) -> VerificationKey:
    public_jwk = _public_jwk(public_pem, algorithm)
    kid = rfc7638_key_id(public_jwk)
    published = {**public_jwk, "kid": kid, "use": "sig", "alg": algorithm}
    return VerificationKey(kid, jwk.construct(public_pem, algorithm), published, public_pem)


def load_signing_key(path: Path, algorithm: str) -> tuple[SigningKey, VerificationKey]:
    try:
        private = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise KeyFileError(f"cannot read a private key from {path}: {exc}") from exc
    _check_kind(private, algorithm, path)
    private_pem = path.read_text()
    public_pem = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    verifier = verification_key(public_pem, algorithm)
    return SigningKey(verifier.kid, private_pem), verifier


def load_public_key(path: Path, algorithm: str) -> VerificationKey:
    """A retired key: a public key PEM, or the old private key file itself."""
    data = path.read_bytes() if path.exists() else None
    if data is None:
        raise KeyFileError(f"previous key file {path} does not exist")
    try:
        public = serialization.load_pem_public_key(data)
    except ValueError:
        try:
            public = serialization.load_pem_private_key(data, password=None).public_key()
        except (ValueError, TypeError) as exc:
            raise KeyFileError(f"cannot read a public key from {path}: {exc}") from exc
    _check_kind(public, algorithm, path)
    public_pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    return verification_key(public_pem, algorithm)


def _write_new_file(path: Path, data: bytes) -> None:
    """Created 0600 before any byte is written (a key is never readable by others, even for a
    moment), replacing what was there."""
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(data)


def retire_key_file(path: Path, retired_path: Path, algorithm: str) -> None:
    """Keeps the public half of the key in `path` at `retired_path`, for
    JWT_PREVIOUS_PUBLIC_KEY_FILES: verifiers need no private key."""
    public = load_public_key(path, algorithm)
    _write_new_file(retired_path, public.public_pem.encode())


def generate_private_key_file(path: Path, algorithm: str, *, force: bool) -> VerificationKey:
    if path.exists() and not force:
        raise KeyFileError(f"{path} exists; pass --force to replace it")
    if algorithm == "ES256":
        private: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey = ec.generate_private_key(
            ec.SECP256R1()
        )
    else:
        private = rsa.generate_private_key(public_exponent=65537, key_size=RSA_KEY_BITS)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    _write_new_file(path, pem)
    return load_signing_key(path, algorithm)[1]
