"""/metrics in the Prometheus text format."""

import hmac
from typing import Annotated

from fastapi import APIRouter, Header, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from app.api.deps import MetricsDep, SettingsDep
from app.api.presolved_route import PresolvedRoute
from app.core.errors import InvalidToken, NotFound

router = APIRouter(tags=["operations"], route_class=PresolvedRoute)


@router.get("/metrics", response_class=Response)
async def metrics(
    metrics: MetricsDep,
    settings: SettingsDep,
    authorization: Annotated[str, Header(include_in_schema=False)] = "",
) -> Response:
    """Counters and latencies for Prometheus. When the server sets `METRICS_TOKEN`, send it as
    `Authorization: Bearer <METRICS_TOKEN>`."""
    if settings.metrics_token is None:
        # Unguarded counters would tell anyone how the service is used: production needs a token.
        if settings.app_env == "production":
            raise NotFound
    else:
        scheme, _, presented = authorization.partition(" ")
        expected = settings.metrics_token.get_secret_value()
        is_bearer = scheme.lower() == "bearer"
        if not (hmac.compare_digest(presented.strip().encode(), expected.encode()) and is_bearer):
            raise InvalidToken
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
