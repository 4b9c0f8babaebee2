"""/health and /ready, as a load balancer or orchestrator probes them."""

import pytest

# Every test here also checks that no response it saw contained a password hash.
pytestmark = pytest.mark.usefixtures("responses")


async def test_health_answers_200_without_credentials(client):
    response = await client.get("/health")
    assert response.status_code == 200


async def test_ready_reports_postgres_and_redis_ok(client):
    response = await client.get("/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "postgres": "ok", "redis": "ok"}


async def test_ready_reports_degraded_when_only_redis_is_unreachable(start_client):
    no_redis = await start_client(redis_url="redis://127.0.0.1:1/0")
    response = await no_redis.get("/ready")
    assert response.status_code == 200
    assert response.json()["status"] == "degraded"
    assert response.json()["postgres"] == "ok"
    assert response.json()["redis"] != "ok"


async def test_ready_is_503_when_postgres_is_unreachable(start_client):
    no_postgres = await start_client(database_url="postgresql://postgres@127.0.0.1:1/keygate")
    response = await no_postgres.get("/ready")
    assert response.status_code == 503
    assert response.json()["postgres"] != "ok"
    assert (await no_postgres.get("/health")).status_code == 200
