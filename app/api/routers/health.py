"""/health (the process serves) and /ready (what it depends on answers)."""

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from app.api.deps import DatabaseDep, RedisGuardDep
from app.api.presolved_route import PresolvedRoute

router = APIRouter(tags=["operations"], route_class=PresolvedRoute)


@router.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/ready", responses={503: {"description": "PostgreSQL is unreachable"}})
async def ready(db: DatabaseDep, redis_guard: RedisGuardDep) -> JSONResponse:
    postgres_ok, redis_ok = await asyncio.gather(db.ping(), redis_guard.ping())
    body = {
        "status": "ok" if postgres_ok and redis_ok else "degraded",
        "postgres": "ok" if postgres_ok else "unavailable",
        "redis": "ok" if redis_ok else "unavailable",
    }
    return JSONResponse(body, status_code=200 if postgres_ok else 503)
