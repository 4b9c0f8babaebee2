"""Redis never holds a plaintext password or an unkeyed fast digest of one, and never the
key of a keyed one (docs/contract.md): every key and value in the test Redis database is
read back and searched."""

import base64
import hashlib

import httpx
from redis.asyncio import Redis

from tests.conftest import RunningApp
from tests.factories import basic, login

PASSWORD = "Tr0ub4dor & a long secret phrase"
NEW_PASSWORD = "another entirely fresh passphrase"
WRONG_PASSWORD = "a wrong guess at the passphrase"


def forbidden_forms(secret: bytes, label: str) -> dict[bytes, str]:
    forms = {secret: label, secret.hex().encode(): f"hex({label})"}
    forms[base64.b64encode(secret)] = f"base64({label})"
    forms[base64.urlsafe_b64encode(secret).rstrip(b"=")] = f"base64url({label})"
    for name in ("md5", "sha1", "sha256", "sha512"):
        digest = hashlib.new(name, secret).digest()
        forms[digest] = f"{name}({label})"
        forms[digest.hex().encode()] = f"{name}-hex({label})"
        forms[digest.hex().upper().encode()] = f"{name}-HEX({label})"
        forms[base64.b64encode(digest)] = f"{name}-base64({label})"
    return forms


async def everything_in(redis: Redis) -> list[tuple[bytes, bytes]]:
    """(key, value) for every key: each member, field and score of non-string types."""
    found: list[tuple[bytes, bytes]] = []
    async for key in redis.scan_iter(count=500):
        kind = (await redis.type(key)).decode()
        values: list[bytes] = []
        if kind == "string":
            values = [await redis.get(key)]
        elif kind == "list":
            values = await redis.lrange(key, 0, -1)
        elif kind == "set":
            values = list(await redis.smembers(key))
        elif kind == "zset":
            values = [
                member + b" " + str(score).encode()
                for member, score in await redis.zrange(key, 0, -1, withscores=True)
            ]
        elif kind == "hash":
            values = [k + b" " + v for k, v in (await redis.hgetall(key)).items()]
        elif kind == "stream":
            values = [repr(await redis.xrange(key)).encode()]
        else:
            values = [await redis.dump(key) or b""]
        found.extend((key, value) for value in values)
    return found


async def test_redis_holds_no_password_and_no_unkeyed_digest_of_one(
    app: RunningApp, client: httpx.AsyncClient, redis: Redis
):
    registered = await client.post("/users", json={"username": "alice", "password": PASSWORD})
    assert registered.status_code == 201, registered.text
    tokens = await login(client, password=PASSWORD)
    for _ in range(3):
        assert (await client.get("/users/me", headers=basic("alice", PASSWORD))).is_success
        assert (await client.get("/users/me", headers=basic("alice", WRONG_PASSWORD))).is_error
        assert (await client.get("/users/me", headers=tokens.headers)).is_success
    wrong_login = await client.post(
        "/token", data={"grant_type": "password", "username": "alice", "password": WRONG_PASSWORD}
    )
    assert wrong_login.status_code == 400
    changed = await client.post(
        "/users/me/password",
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        headers=tokens.headers,
    )
    assert changed.status_code == 204, changed.text
    await login(client, password=NEW_PASSWORD)
    assert (await client.get("/users/me", headers=basic("alice", NEW_PASSWORD))).is_success

    forbidden: dict[bytes, str] = {}
    for secret, label in (
        (PASSWORD, "password"),
        (NEW_PASSWORD, "new password"),
        (WRONG_PASSWORD, "wrong password"),
        (f"alice:{PASSWORD}", "basic credentials"),
        (f"alice:{NEW_PASSWORD}", "new basic credentials"),
    ):
        forbidden.update(forbidden_forms(secret.encode(), label))
    # The per-process key of the Basic verifier's HMACs must stay in the process.
    verifier_key: bytes = app.services.authenticator.passwords.verified._key
    forbidden.update(forbidden_forms(verifier_key, "basic verifier key"))

    stored = await everything_in(redis)
    assert stored, "nothing was cached: the search below would prove nothing"
    leaks = [
        (key.decode(errors="replace"), form)
        for key, value in stored
        for text in (key, value)
        for secret, form in forbidden.items()
        if secret in text
    ]
    assert not leaks
