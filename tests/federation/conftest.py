"""Fixtures of the federation tests: signing keys made once per session, apps with other
settings, an independent verifier (PyJWT, not the python-jose the app uses), hand-made
tokens, and real `keygate` processes."""

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import os
import signal
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from app.container import Container
from app.tokens.keys import generate_private_key_file
from tests.cli import KEYGATE, keygate
from tests.clock import MovableClock
from tests.conftest import TEST_DATABASE_URL, TEST_REDIS_URL, RunningApp, make_settings, running_app
from tests.factories import login, make_user

ALGORITHMS = ("ES256", "RS256")
# RFC 7638 §3.2: the required members of each key type, the only ones the thumbprint hashes.
REQUIRED_MEMBERS = {"EC": ("crv", "kty", "x", "y"), "RSA": ("e", "kty", "n")}
# Members of a JWK that belong to a private key (RFC 7518 §6.2.2 and §6.3.2).
PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}
SERVER_START_SECONDS = 30.0
SERVER_STOP_SECONDS = 30.0


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _uint(value: int) -> str:
    return b64url(value.to_bytes((value.bit_length() + 7) // 8 or 1, "big"))


# --- keys -------------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyFile:
    algorithm: str
    private_path: Path
    public_path: Path  # the public half alone, as an operator would keep a retired key

    @property
    def public_pem(self) -> bytes:
        return self.public_path.read_bytes()

    @property
    def public_jwk(self) -> dict[str, str]:
        """Computed here from the key's numbers with `cryptography`, not by the app."""
        public = serialization.load_pem_public_key(self.public_pem)
        if isinstance(public, ec.EllipticCurvePublicKey):
            numbers = public.public_numbers()
            return {
                "kty": "EC",
                "crv": "P-256",
                "x": b64url(numbers.x.to_bytes(32, "big")),
                "y": b64url(numbers.y.to_bytes(32, "big")),
            }
        assert isinstance(public, rsa.RSAPublicKey)
        rsa_numbers = public.public_numbers()
        return {"kty": "RSA", "n": _uint(rsa_numbers.n), "e": _uint(rsa_numbers.e)}

    @property
    def kid(self) -> str:
        return rfc7638_thumbprint(self.public_jwk)


def rfc7638_thumbprint(jwk: dict[str, Any]) -> str:
    """SHA-256 over the required members in lexicographic order, no whitespace (RFC 7638 §3)."""
    members = {name: jwk[name] for name in REQUIRED_MEMBERS[jwk["kty"]]}
    canonical = json.dumps(members, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return b64url(hashlib.sha256(canonical.encode()).digest())


def write_public_pem(private_path: Path, public_path: Path) -> None:
    private = serialization.load_pem_private_key(private_path.read_bytes(), password=None)
    public_path.write_bytes(
        private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


class KeyShelf:
    """Keys made on first use and kept for the session (a 3072-bit RSA key takes a while)."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._keys: dict[tuple[str, str], KeyFile] = {}

    def __call__(self, algorithm: str, name: str = "a") -> KeyFile:
        if (algorithm, name) not in self._keys:
            private_path = self._directory / f"{algorithm.lower()}-{name}.pem"
            public_path = self._directory / f"{algorithm.lower()}-{name}.pub.pem"
            generate_private_key_file(private_path, algorithm, force=False)
            write_public_pem(private_path, public_path)
            self._keys[algorithm, name] = KeyFile(algorithm, private_path, public_path)
        return self._keys[algorithm, name]


@pytest.fixture(scope="session")
def keys(tmp_path_factory: pytest.TempPathFactory) -> KeyShelf:
    return KeyShelf(tmp_path_factory.mktemp("signing-keys"))


def key_settings(key: KeyFile, *previous: KeyFile, **overrides: Any) -> dict[str, Any]:
    """make_settings overrides for an app signing with `key` and still accepting `previous`."""
    return {
        "jwt_algorithm": key.algorithm,
        "jwt_private_key_file": key.private_path,
        "jwt_previous_public_key_files": ",".join(str(p.public_path) for p in previous),
        **overrides,
    }


# --- apps -------------------------------------------------------------------------------

StartApp = Callable[..., Awaitable[RunningApp]]


@pytest.fixture
async def start_app(database: asyncpg.Pool, clock: MovableClock) -> AsyncIterator[StartApp]:
    """Starts another instance on the test database, Redis and clock, with some settings
    changed (`await start_app(jwt_algorithm="ES256", ...)`); all stop when the test ends."""
    async with AsyncExitStack() as stack:

        async def start(**overrides: Any) -> RunningApp:
            return await stack.enter_async_context(running_app(make_settings(**overrides), clock))

        yield start


@asynccontextmanager
async def client_of(app: RunningApp, ip: str = "203.0.113.7") -> AsyncIterator[httpx.AsyncClient]:
    async with app.client(ip) as c:
        yield c


async def fetch_jwks(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/.well-known/jwks.json")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


# --- an independent verifier ------------------------------------------------------------


def verify_with_jwks(
    token: str,
    jwks: dict[str, Any],
    *,
    algorithm: str,
    issuer: str = "keygate",
    audience: str = "keygate",
) -> dict[str, Any]:
    """What a resource server does with PyJWT and nothing but the published JWKS: pick the
    key the token's kid names, pin the algorithm, require and check exp, iss and aud."""
    kid = jwt.get_unverified_header(token)["kid"]
    (jwk,) = [k for k in jwks["keys"] if k["kid"] == kid]
    key = jwt.PyJWK(jwk, algorithm=algorithm)
    claims: dict[str, Any] = jwt.decode(
        token,
        key,
        algorithms=[algorithm],
        issuer=issuer,
        audience=audience,
        options={"require": ["exp", "iat", "iss", "aud", "sub"]},
    )
    return claims


# --- hand-made tokens -------------------------------------------------------------------


def token_parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    header, payload, _ = token.split(".")
    return json.loads(b64url_decode(header)), json.loads(b64url_decode(payload))


def hmac_jws(header: dict[str, Any], claims: dict[str, Any], secret: bytes | None) -> str:
    """A compact JWS signed by hand with HMAC-SHA256 over `secret` (any bytes, a PEM
    included, which no JOSE library lets one do), or unsigned with `secret=None`."""
    signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
    signature = b"" if secret is None else hmac.digest(secret, signing_input.encode(), "sha256")
    return signing_input + "." + b64url(signature)


# --- users ------------------------------------------------------------------------------


async def admin_headers(client: httpx.AsyncClient, services: Container) -> dict[str, str]:
    """Makes the admin `root` (if missing) and returns a bearer header for it."""
    if await services.users.get_by_username("root") is None:
        await make_user(services, "root", is_admin=True)
    return (await login(client, "root")).headers


# --- real processes ---------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def process_env(cwd: Path, **env: str) -> dict[str, str]:
    """The test database and Redis, cheap bcrypt, and nothing from the caller's environment
    but PATH; `env` on top."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(cwd),
        "DATABASE_URL": TEST_DATABASE_URL,
        "REDIS_URL": TEST_REDIS_URL,
        "BCRYPT_ROUNDS": "4",
        **env,
    }


# The console script in a real process (tests.cli.keygate), under the name these tests use.
run_keygate = keygate


@dataclass
class ServedKeygate:
    """`keygate serve` in a real process; its stdout and stderr go to files."""

    process: asyncio.subprocess.Process
    url: str
    stdout_path: Path
    stderr_path: Path
    returncode: int | None = field(default=None)

    @property
    def stdout(self) -> str:
        return self.stdout_path.read_text()

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text()

    def terminate(self) -> None:
        self.process.send_signal(signal.SIGTERM)

    async def wait(self) -> int:
        try:
            self.returncode = await asyncio.wait_for(self.process.wait(), SERVER_STOP_SECONDS)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
            pytest.fail(f"keygate serve still running {SERVER_STOP_SECONDS}s after SIGTERM")
        return self.returncode

    async def stop(self) -> int:
        self.terminate()
        return await self.wait()


async def _wait_until_serving(served: ServedKeygate) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    async with httpx.AsyncClient(base_url=served.url) as probe:
        while time.monotonic() < deadline:
            if served.process.returncode is not None:
                pytest.fail(f"keygate serve exited {served.process.returncode}: {served.stderr}")
            try:
                if (await probe.get("/health")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.05)  # bounded polling of a real server starting up
    pytest.fail(f"keygate serve not answering after {SERVER_START_SECONDS}s: {served.stderr}")


@asynccontextmanager
async def served_keygate(
    cwd: Path, workers: int = 1, port: int | None = None, **env: str
) -> AsyncIterator[ServedKeygate]:
    """Runs `keygate serve` on `port` (a free one by default) with the test database and
    Redis; kills it at the end if the test has not stopped it."""
    port = port or free_port()
    stdout_path, stderr_path = cwd / "serve.stdout", cwd / "serve.stderr"
    with stdout_path.open("wb") as stdout, stderr_path.open("wb") as stderr:
        process = await asyncio.create_subprocess_exec(
            KEYGATE,
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            env=process_env(cwd, **env),
            cwd=cwd,
            start_new_session=True,  # its workers too can be killed at the end, as a group
        )
    served = ServedKeygate(process, f"http://127.0.0.1:{port}", stdout_path, stderr_path)
    try:
        await _wait_until_serving(served)
        yield served
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        await process.wait()
