"""Authenticated requests read Redis (MGET) on one connection a worker, taken over from
redis-py once it has connected (so TLS, the password and the database of the URL hold for
it): each read gets its own values, a Redis that hangs or drops the connection fails the
reads waiting on it at once or within the timeout, as any other Redis call does (the caller
falls back to PostgreSQL), and the next read connects anew."""

import asyncio
import datetime
import ipaddress
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from redis.asyncio import Redis

from app.core.redis import BREAKER_OPEN_SECONDS, CacheUnavailable, RedisGuard
from app.core.redis_connection import connect_redis
from tests.conftest import redis_url_through
from tests.faults import RedisServer, RedisTls, TcpProxy

TIMEOUT_SECONDS = 0.3
A, B, MISSING = "kg:test:read-a", "kg:test:read-b", "kg:test:read-missing"


@pytest.fixture
async def guard(redis_proxy: TcpProxy) -> AsyncIterator[RedisGuard]:
    client = connect_redis(redis_url_through(redis_proxy), TIMEOUT_SECONDS)
    guarded = RedisGuard(client)
    yield guarded
    await guarded.close()
    await client.aclose()


async def test_reads_on_the_one_connection_each_get_their_own_values(redis, redis_proxy, guard):
    await redis.mset({A: "1", B: "2"})
    asked = [[A, B, MISSING], [B], [MISSING], [A]] * 5

    values = await asyncio.gather(*(guard.mget(keys) for keys in asked))

    assert values == [[b"1", b"2", None], [b"2"], [None], [b"1"]] * 5
    assert redis_proxy.connections_accepted == 1
    await redis.set(A, "changed")
    assert await guard.mget([A]) == [b"changed"]  # read from Redis, never kept here
    assert redis_proxy.connections_accepted == 1


async def test_a_redis_that_stops_answering_fails_the_read_within_its_timeout(
    redis, redis_proxy, guard
):
    await redis.set(A, "1")
    assert await guard.mget([A]) == [b"1"]
    redis_proxy.pause()
    started = time.monotonic()
    with pytest.raises(CacheUnavailable):
        await guard.mget([A])
    assert time.monotonic() - started < TIMEOUT_SECONDS + 0.5
    redis_proxy.resume()

    await asyncio.sleep(BREAKER_OPEN_SECONDS)  # the breaker lets the next call probe Redis
    assert await guard.mget([A]) == [b"1"]
    # The hung connection, the breaker's probe (redis-py's pool), and a new read connection.
    assert redis_proxy.connections_accepted == 3


async def test_a_dropped_connection_fails_the_reads_waiting_on_it_at_once(
    redis, redis_proxy, guard
):
    await redis.set(A, "1")
    assert await guard.mget([A]) == [b"1"]
    redis_proxy.pause()  # the read is sent, and waits
    waiting = asyncio.create_task(guard.mget([A]))
    await asyncio.sleep(0.05)
    started = time.monotonic()
    await redis_proxy.close_connections()
    with pytest.raises(CacheUnavailable):
        await waiting
    assert time.monotonic() - started < TIMEOUT_SECONDS / 2  # not left to its timeout
    redis_proxy.resume()

    await asyncio.sleep(BREAKER_OPEN_SECONDS)
    assert await guard.mget([A]) == [b"1"]
    assert redis_proxy.connections_accepted == 3  # as above: probe, then a new read connection


async def test_a_connection_closed_between_reads_is_replaced_by_the_next_read(
    redis, redis_proxy, guard
):
    await redis.set(A, "1")
    assert await guard.mget([A]) == [b"1"]
    await redis_proxy.close_connections()
    await asyncio.sleep(0.05)  # the close reaches the worker before its next read

    assert await guard.mget([A]) == [b"1"]
    assert redis_proxy.connections_accepted == 2


async def test_values_are_strings_when_the_url_asks_redis_py_to_decode_them(redis, redis_proxy):
    client: Redis = Redis.from_url(redis_url_through(redis_proxy, "decode_responses=true"))
    guarded = RedisGuard(client)
    try:
        await redis.set(A, "née")
        assert await guarded.mget([A, MISSING]) == ["née", None]
    finally:
        await guarded.close()
        await client.aclose()


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, written to `directory`."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "redis.crt", directory / "redis.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture
async def tls_redis_url(tmp_path: Path) -> AsyncIterator[str]:
    """A private redis-server that speaks only TLS and asks for a password: the URL of its
    database 2."""
    server = RedisServer(tls=RedisTls(*self_signed_certificate(tmp_path)), password="s3cret")
    await server.start()
    yield server.url_of(2)
    await server.kill()


async def test_reads_go_over_tls_with_the_password_and_database_of_the_url(tls_redis_url):
    client = connect_redis(tls_redis_url, TIMEOUT_SECONDS)
    guarded = RedisGuard(client)
    try:
        assert isinstance(client, Redis)
        await client.set(A, "over tls")
        assert await guarded.mget([A, MISSING]) == [b"over tls", None]
        await client.set(A, "changed")
        assert await guarded.mget([A]) == [b"changed"]
    finally:
        await guarded.close()
        await client.aclose()
