"""A Redis client for every form REDIS_URL takes: one server (`redis://`, `rediss://`,
`unix://`), a master found through Sentinels (`redis+sentinel://`), or a Redis Cluster
(`redis+cluster://`). Every client fails fast: short timeouts, no retries, no health-check
pings, so a dead or failing-over Redis costs one timeout and the caller falls back."""

from dataclasses import dataclass, field
from typing import Final, TypedDict
from urllib.parse import SplitResult, unquote, urlsplit

from redis.asyncio import Redis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.connection import parse_url
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool
from redis.backoff import NoBackoff

SENTINEL_SCHEME: Final = "redis+sentinel"
CLUSTER_SCHEME: Final = "redis+cluster"
SERVER_SCHEMES: Final = ("redis", "rediss", "unix")
DEFAULT_SENTINEL_PORT: Final = 26379
DEFAULT_REDIS_PORT: Final = 6379

ENCODING_HINT: Final = " (percent-encode / ? # @ : in user names and passwords)"

Address = tuple[str, int]
RedisClient = Redis | RedisCluster


@dataclass(frozen=True)
class Credentials:
    username: str | None = None
    password: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class ServerLocation:
    """One Redis server; redis-py reads the URL itself."""

    url: str = field(repr=False)


@dataclass(frozen=True)
class SentinelLocation:
    sentinels: tuple[Address, ...]
    service_name: str
    db: int
    credentials: Credentials


@dataclass(frozen=True)
class ClusterLocation:
    nodes: tuple[Address, ...]
    credentials: Credentials


RedisLocation = ServerLocation | SentinelLocation | ClusterLocation


def parse_redis_url(url: str) -> RedisLocation:
    """Reads REDIS_URL without connecting; a malformed URL raises ValueError saying what is
    wrong (never echoing the URL, which may hold a password)."""
    parts = urlsplit(url)
    if parts.scheme in SERVER_SCHEMES:
        _port_of(parts, 0, DEFAULT_REDIS_PORT)
        try:
            parse_url(url)  # the parser Redis.from_url uses, to fail here rather than later
        except ValueError as exc:  # its messages name query options, never their values
            raise ValueError(f"REDIS_URL ({parts.scheme}://): {exc}") from None
        return ServerLocation(url)
    # Hosts first: a password with an unencoded / ? or # cuts the host list short, and the
    # port error then says to percent-encode it.
    if parts.scheme == SENTINEL_SCHEME:
        credentials, hosts = _split_netloc(parts.netloc)
        sentinels = _addresses(hosts, DEFAULT_SENTINEL_PORT)
        _refuse_query_and_fragment(parts)
        service_name, db = _sentinel_path(parts.path)
        return SentinelLocation(sentinels, service_name, db, credentials)
    if parts.scheme == CLUSTER_SCHEME:
        credentials, hosts = _split_netloc(parts.netloc)
        nodes = _addresses(hosts, DEFAULT_REDIS_PORT)
        _refuse_query_and_fragment(parts)
        if parts.path not in ("", "/"):
            raise ValueError(
                f"REDIS_URL ({CLUSTER_SCHEME}://): takes no path: a cluster has only database 0"
            )
        return ClusterLocation(nodes, credentials)
    schemes = ", ".join(
        f"{scheme}://" for scheme in (*SERVER_SCHEMES, SENTINEL_SCHEME, CLUSTER_SCHEME)
    )
    raise ValueError(f"REDIS_URL must start with one of {schemes}")


def _refuse_query_and_fragment(parts: SplitResult) -> None:
    if parts.query or parts.fragment:
        raise ValueError(f"REDIS_URL ({parts.scheme}://): takes no query string or fragment")


def _sentinel_path(path: str) -> tuple[str, int]:
    segments = path.removeprefix("/").split("/")
    if not segments[0] or len(segments) > 2:
        raise ValueError(
            f"REDIS_URL ({SENTINEL_SCHEME}://): the path must be /service_name or /service_name/db"
        )
    if len(segments) == 1:
        return unquote(segments[0]), 0
    if not segments[1].isdigit():
        raise ValueError(
            f"REDIS_URL ({SENTINEL_SCHEME}://): the database after the service name must be "
            "a number"
        )
    return unquote(segments[0]), int(segments[1])


def _split_netloc(netloc: str) -> tuple[Credentials, str]:
    userinfo, has_credentials, hosts = netloc.rpartition("@")
    if not has_credentials:
        return Credentials(), hosts
    username, has_password, password = userinfo.partition(":")
    if not has_password:
        raise ValueError("REDIS_URL: credentials must be written [user]:password@")
    return Credentials(unquote(username) or None, unquote(password) or None), hosts


def _addresses(hosts: str, default_port: int) -> tuple[Address, ...]:
    addresses = []
    for number, host in enumerate(hosts.split(","), start=1):
        parts = urlsplit(f"//{host}")
        port = _port_of(parts, number, default_port)
        if not parts.hostname:
            raise ValueError(f"REDIS_URL: host {number} is not host or host:port{ENCODING_HINT}")
        addresses.append((parts.hostname, port))
    return tuple(addresses)


def _port_of(parts: SplitResult, number: int, default_port: int) -> int:
    """The port of the `number`th host (0: the only one). The messages never quote the URL:
    a password with an unencoded / ? or # ends up where the host should be."""
    try:
        port = parts.port
    except ValueError:
        which = f"host {number}" if number else "the host"
        raise ValueError(f"REDIS_URL: {which} has no valid port{ENCODING_HINT}") from None
    return port or default_port


class FailFastOptions(TypedDict):
    socket_timeout: float
    socket_connect_timeout: float
    retry: Retry
    health_check_interval: int


class SentinelMasterRedis(Redis):
    """The master as the Sentinels name it; closing it closes the Sentinel connections too."""

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        try:
            await super().aclose(close_connection_pool)
        finally:
            if isinstance(self.connection_pool, SentinelConnectionPool):
                await self.connection_pool.sentinel_manager.aclose()


def connect_redis(url: str, timeout_seconds: float) -> RedisClient:
    """A client for REDIS_URL; connections are made on first use."""
    options = FailFastOptions(
        socket_timeout=timeout_seconds,
        socket_connect_timeout=timeout_seconds,
        retry=Retry(NoBackoff(), 0),
        health_check_interval=0,
    )
    location = parse_redis_url(url)
    if isinstance(location, ServerLocation):
        return Redis.from_url(location.url, **options)
    credentials = location.credentials
    if isinstance(location, SentinelLocation):
        # The URL's credentials are the data nodes': Sentinels are asked without them,
        # as redis-py does by default (a Sentinel without a password refuses AUTH).
        # redis-py leaves Sentinel's constructor unannotated.
        sentinel = Sentinel(location.sentinels, sentinel_kwargs=options)  # type: ignore[no-untyped-call]
        master: SentinelMasterRedis = sentinel.master_for(
            location.service_name,
            redis_class=SentinelMasterRedis,
            db=location.db,
            username=credentials.username,
            password=credentials.password,
            **options,
        )
        return master
    return RedisCluster(
        startup_nodes=[ClusterNode(host, port) for host, port in location.nodes],
        username=credentials.username,
        password=credentials.password,
        **options,
    )


async def drop_idle_connections(client: RedisClient) -> None:
    """Closes every pooled connection not in use; each connects anew when next used. After
    an outage all of them are dead together: dropped one failure at a time, each would fail
    once more and hold the circuit breaker open again (measured: 5 s and more)."""
    if isinstance(client, RedisCluster):
        for node in client.get_nodes():
            await node.disconnect_free_connections()
        return
    await client.connection_pool.disconnect(inuse_connections=False)


async def master_identity(client: RedisClient) -> str:
    """Who is master now: the master's run_id (new after a failover or a restart); for a
    cluster, the run_ids of every master the client knows, sorted and joined. A change means
    writes acknowledged before it may be missing."""
    if isinstance(client, RedisCluster):
        await client.initialize()
        run_ids = [
            str((await client.info("server", target_nodes=node))["run_id"])
            for node in client.get_primaries()
        ]
        return ",".join(sorted(run_ids))
    if isinstance(client.connection_pool, SentinelConnectionPool):
        # Asking the Sentinels also drops idle connections to a master they no longer name:
        # measured, a pooled connection to a paused-then-resumed old master keeps taking (and
        # acknowledging) writes for 10 s and more after the failover, and INFO through it
        # would name the old master. (redis-py leaves this method unannotated.)
        await client.connection_pool.get_master_address()  # type: ignore[no-untyped-call]
    return str((await client.info("server"))["run_id"])
