"""/metrics shows logins by result, auth-cache hits and misses, Redis fallbacks and request
latency (docs/contract.md), and they move as the cache is used."""

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.factories import DEFAULT_PASSWORD, basic, login, make_user
from tests.fixtures.fault_lab import CLOSED_REDIS_URL, FaultLab

WARM_REQUESTS = 5


async def scrape(client: httpx.AsyncClient) -> dict[str, float]:
    """Every sample as `name{label="value",...}` -> value, labels sorted."""
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples: dict[str, float] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}"] = sample.value
    return samples


def total(samples: dict[str, float], name: str) -> float:
    return sum(v for k, v in samples.items() if k.startswith(name + "{"))


async def test_metrics_name_logins_cache_hits_and_misses_fallbacks_and_latency(
    client: httpx.AsyncClient, services
):
    await make_user(services)
    tokens = await login(client)
    assert (await client.get("/users/me", headers=tokens.headers)).status_code == 200

    samples = await scrape(client)

    for name in (
        "keygate_logins_total",
        "keygate_auth_cache_hits_total",
        "keygate_auth_cache_misses_total",
        "keygate_redis_fallbacks_total",
        "keygate_request_duration_seconds_count",
        "keygate_request_duration_seconds_bucket",
    ):
        assert any(key.startswith(name + "{") for key in samples), name


async def test_warm_requests_count_as_cache_hits(client: httpx.AsyncClient, services):
    await make_user(services)
    tokens = await login(client)
    credentials = basic("alice", DEFAULT_PASSWORD)
    assert (await client.get("/users/me", headers=credentials)).status_code == 200
    before = await scrape(client)

    for _ in range(WARM_REQUESTS):
        assert (await client.get("/users/me", headers=tokens.headers)).status_code == 200
        assert (await client.get("/users/me", headers=credentials)).status_code == 200
    after = await scrape(client)

    hits = total(after, "keygate_auth_cache_hits_total") - total(
        before, "keygate_auth_cache_hits_total"
    )
    misses = total(after, "keygate_auth_cache_misses_total") - total(
        before, "keygate_auth_cache_misses_total"
    )
    assert hits == 2 * WARM_REQUESTS
    assert misses == 0
    latency = 'keygate_request_duration_seconds_count{method="GET",route="/users/me"}'
    assert after[latency] - before.get(latency, 0) == 2 * WARM_REQUESTS


async def test_logins_are_counted_by_result(client: httpx.AsyncClient, services):
    await make_user(services)
    before = await scrape(client)

    await login(client)
    wrong = await client.post(
        "/token", data={"grant_type": "password", "username": "alice", "password": "wrong!!!"}
    )
    assert wrong.status_code == 400
    after = await scrape(client)

    ok = 'keygate_logins_total{grant="password",result="ok"}'
    failed = 'keygate_logins_total{grant="password",result="invalid_grant"}'
    assert after[ok] - before.get(ok, 0) == 1
    assert after[failed] - before.get(failed, 0) == 1


async def test_a_cold_login_counts_a_miss(client: httpx.AsyncClient, services):
    await make_user(services)
    before = await scrape(client)

    await login(client)
    after = await scrape(client)

    misses = total(after, "keygate_auth_cache_misses_total") - total(
        before, "keygate_auth_cache_misses_total"
    )
    assert misses >= 1


async def test_requests_without_redis_count_as_redis_fallbacks(lab: FaultLab):
    running = await lab.app(redis_url=CLOSED_REDIS_URL)
    await make_user(running.services)
    async with running.client() as client:
        before = await scrape(client)
        tokens = await login(client)
        assert (await client.get("/users/me", headers=tokens.headers)).status_code == 200
        after = await scrape(client)

    fallbacks = "keygate_redis_fallbacks_total{}"
    assert after[fallbacks] > before[fallbacks]
