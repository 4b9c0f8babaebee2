"""TOTP (RFC 6238) codes, secrets encrypted at rest, QR codes and recovery codes."""

import base64
import hashlib
import hmac
import io
import secrets
from typing import Final

import pyotp
import segno
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

ISSUER: Final = "keygate"
STEP_SECONDS: Final = 30
# One step either way absorbs clock drift between phone and server (RFC 6238 §5.2).
ALLOWED_DRIFT_STEPS: Final = 1
RECOVERY_CODE_COUNT: Final = 10
MAX_CODE_CHARS: Final = 32


def new_secret() -> str:
    return pyotp.random_base32()  # 32 base32 characters: 160 bits, RFC 4226's recommendation


def provisioning_uri(secret: str, username: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    buffer = io.BytesIO()
    segno.make(uri, error="m").save(buffer, kind="svg", scale=4, xmldecl=False)
    return buffer.getvalue().decode()


def is_totp_code(code: str) -> bool:
    return len(code) == 6 and code.isascii() and code.isdigit()


def matching_step(secret: str, code: str, now: float) -> int | None:
    """The time step whose code this is, within the allowed drift, or None."""
    if not is_totp_code(code):
        return None
    totp = pyotp.TOTP(secret)
    current = int(now) // STEP_SECONDS
    for step in range(current - ALLOWED_DRIFT_STEPS, current + ALLOWED_DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def new_recovery_codes() -> list[str]:
    # 12 base32 characters (60 bits) in three groups, easy to type from paper.
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = base64.b32encode(secrets.token_bytes(8)).decode()[:12].lower()
        codes.append(f"{raw[:4]}-{raw[4:8]}-{raw[8:]}")
    return codes


def recovery_code_hash(code: str) -> bytes:
    # Recovery codes are random (60 bits) and single use: SHA-256 suffices, no slow hash.
    normalized = code.strip().lower().replace(" ", "").replace("-", "")
    return hashlib.sha256(normalized.encode()).digest()


class SecretCipher:
    """Encrypts TOTP secrets for PostgreSQL (and the Redis auth record) with keys that live
    only in the service's settings: the first key encrypts, every key decrypts, so keys rotate
    without losing an enrolment."""

    def __init__(self, keys: list[bytes]) -> None:
        self._fernet = MultiFernet([Fernet(key) for key in keys])

    @classmethod
    def derived_from(cls, key_material: str) -> "SecretCipher":
        """One key derived from other key material (the JWT secret, when no keys are set)."""
        key = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"keygate totp secrets"
        ).derive(key_material.encode())
        return cls([base64.urlsafe_b64encode(key)])

    def encrypt(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode()).decode()

    def decrypt(self, token: str) -> str | None:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            return None
