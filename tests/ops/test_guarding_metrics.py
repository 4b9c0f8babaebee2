"""/metrics (docs/contract.md §8, METRICS_TOKEN): with a token set, only a scraper that sends it
reads the counters; without one, production answers 404 and development stays open."""

import pytest

from tests.conftest import make_settings, running_app

METRICS_TOKEN = "scraper-token-" + "m" * 32
PRODUCTION_SECRET = "production-secret-" + "p" * 32


@pytest.mark.parametrize("app_env", ["development", "production"])
async def test_metrics_with_a_token_set_need_it(database, clock, app_env):
    settings = make_settings(
        app_env=app_env, metrics_token=METRICS_TOKEN, jwt_secret=PRODUCTION_SECRET
    )
    async with running_app(settings, clock) as app, app.client() as client:
        with_token = await client.get(
            "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
        )
        lower_case_scheme = await client.get(
            "/metrics", headers={"Authorization": f"bearer {METRICS_TOKEN}"}
        )
        without = await client.get("/metrics")
        wrong = await client.get("/metrics", headers={"Authorization": "Bearer guess"})
        as_basic = await client.get("/metrics", headers={"Authorization": f"Basic {METRICS_TOKEN}"})

    assert with_token.status_code == 200
    assert "keygate_request_duration_seconds" in with_token.text
    assert lower_case_scheme.status_code == 200
    for refused in (without, wrong, as_basic):
        assert refused.status_code == 401
        assert METRICS_TOKEN not in refused.text
        assert "keygate_" not in refused.text


async def test_metrics_without_a_token_are_not_found_in_production(database, clock):
    settings = make_settings(app_env="production", jwt_secret=PRODUCTION_SECRET)
    async with running_app(settings, clock) as app, app.client() as client:
        response = await client.get("/metrics")

    assert response.status_code == 404
    assert "keygate_" not in response.text


async def test_metrics_without_a_token_are_open_in_development(client):
    response = await client.get("/metrics")

    assert response.status_code == 200
    assert "keygate_request_duration_seconds" in response.text
