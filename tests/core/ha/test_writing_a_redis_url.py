"""An operator writes REDIS_URL for one server, for Sentinels or for a Redis Cluster; a
malformed one is refused with a message that says what is wrong and never shows a password."""

from pathlib import Path

import pytest
from pydantic import ValidationError

from app.core.redis_connection import (
    ClusterLocation,
    Credentials,
    SentinelLocation,
    ServerLocation,
    parse_redis_url,
)
from app.core.settings import Settings
from tests.cli import keygate


def test_a_sentinel_url_names_the_sentinels_the_service_the_database_and_the_credentials() -> None:
    location = parse_redis_url(
        "redis+sentinel://app:p%40ss@10.0.0.1:26379,10.0.0.2:26380/mymaster/2"
    )

    assert location == SentinelLocation(
        sentinels=(("10.0.0.1", 26379), ("10.0.0.2", 26380)),
        service_name="mymaster",
        db=2,
        credentials=Credentials("app", "p@ss"),
    )


def test_a_sentinel_url_without_user_port_or_database_uses_the_defaults() -> None:
    location = parse_redis_url("redis+sentinel://:secret@sentinel-a,sentinel-b:5000/keygate")

    assert location == SentinelLocation(
        sentinels=(("sentinel-a", 26379), ("sentinel-b", 5000)),
        service_name="keygate",
        db=0,
        credentials=Credentials(None, "secret"),
    )


def test_a_cluster_url_names_its_startup_nodes() -> None:
    location = parse_redis_url("redis+cluster://node-a:7000,[::1]:7001,node-c")

    assert location == ClusterLocation(
        nodes=(("node-a", 7000), ("::1", 7001), ("node-c", 6379)),
        credentials=Credentials(),
    )


@pytest.mark.parametrize(
    "url", ["redis://:pw@127.0.0.1:6379/3", "rediss://cache.example:6380", "unix:///run/r.sock"]
)
def test_a_single_server_url_is_left_to_redis_py(url: str) -> None:
    assert parse_redis_url(url) == ServerLocation(url)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("memcached://127.0.0.1:11211", "must start with one of"),
        ("redis+sentinel://127.0.0.1:26379", "path must be /service_name"),
        ("redis+sentinel://127.0.0.1:26379/", "path must be /service_name"),
        ("redis+sentinel://127.0.0.1:26379/keygate/one", "must be a number"),
        ("redis+sentinel://127.0.0.1:26379/keygate/1/2", "path must be /service_name"),
        ("redis+sentinel://127.0.0.1:x/keygate", "host 1 has no valid port"),
        ("redis+sentinel://a:1,,b:2/keygate", "host 2 is not host or host:port"),
        ("redis+sentinel://a:1/keygate?ssl=true", "takes no query string"),
        ("redis+sentinel://justapassword@a:1/keygate", "credentials must be"),
        ("redis+cluster://a:1/0", "takes no path"),
        ("redis+cluster://a:70000", "host 1 has no valid port"),
        ("redis://127.0.0.1:port/0", "the host has no valid port"),
        ("redis://127.0.0.1/0?socket_timeout=soon", "Invalid value for 'socket_timeout'"),
    ],
)
def test_a_malformed_url_is_refused_with_the_reason(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_redis_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "redis+sentinel://:s3cr3t/x@127.0.0.1:26379/keygate",
        "redis+cluster://:s3cr3t?x@127.0.0.1:7000",
        "redis://:s3cr3t#x@127.0.0.1:6379/0",
    ],
)
def test_a_password_with_an_unencoded_separator_is_never_shown(url: str) -> None:
    with pytest.raises(ValueError, match="percent-encode") as refused:
        parse_redis_url(url)

    assert "s3cr3t" not in str(refused.value)


def test_settings_refuse_a_malformed_redis_url_naming_the_variable_not_the_url() -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(_env_file=None, redis_url="redis+sentinel://:s3cr3t@a:1,b:x/keygate")  # type: ignore[call-arg]

    assert "REDIS_URL: host 2 has no valid port" in str(refused.value)
    assert "s3cr3t" not in str(refused.value)


async def test_keygate_refuses_to_start_with_one_line_naming_redis_url(tmp_path: Path) -> None:
    done = await keygate("serve", cwd=tmp_path, REDIS_URL="redis+cluster://:s3cr3t@node-a:7000/0")

    assert done.returncode == 1
    assert done.error_lines == [
        "keygate: invalid configuration (REDIS_URL): REDIS_URL (redis+cluster://): takes no "
        "path: a cluster has only database 0"
    ]
    assert "s3cr3t" not in done.stdout + done.stderr
