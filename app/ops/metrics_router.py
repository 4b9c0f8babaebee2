"""/metrics in the Prometheus text format."""

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from app.deps import AppServices

router = APIRouter(tags=["operations"])


@router.get("/metrics", response_class=Response)
async def metrics(services: AppServices) -> Response:
    return Response(generate_latest(services.metrics.registry), media_type=CONTENT_TYPE_LATEST)
