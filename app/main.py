"""The FastAPI application: `create_app(settings)`, and `app` for `uvicorn app.main:app`."""

from fastapi import FastAPI

from app.api.account_page import add_account_page
from app.auth.discovery import router as discovery_router
from app.auth.router import router as auth_router
from app.clock import Clock, system_clock
from app.errors import register_error_renderers
from app.lifespan import make_lifespan
from app.openapi import install_openapi
from app.ops.docs import add_docs
from app.ops.health import router as health_router
from app.ops.metrics import Metrics
from app.ops.metrics_router import router as metrics_router
from app.ops.requests import RequestObserver
from app.products.router import router as products_router
from app.settings import Settings
from app.users.router import router as users_router
from app.users.totp_router import router as totp_router

# Every body keygate accepts is a small form or JSON object; larger ones are 413 unread.
MAX_BODY_BYTES = 64 * 1024

DESCRIPTION = """\
keygate authenticates users against PostgreSQL, with Redis caching what login and every
authenticated request need.

**Try it here:** press *Authorize*, type a username and password (leave client_id and
client_secret empty), tick the scopes you want (none ticked means all of yours), then use
*Try it out* on any endpoint.
"""


def create_app(settings: Settings | None = None, *, clock: Clock = system_clock) -> FastAPI:
    settings = settings or Settings()
    metrics = Metrics()
    app = FastAPI(
        title="keygate",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=make_lifespan(settings, metrics, clock),
        docs_url=None,
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
        max_body_size=MAX_BODY_BYTES,
        # FastAPI's built-in OpenTelemetry hooks cost time on every request and would record
        # validation failures (with their input) where we do not control redaction.
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
    )
    register_error_renderers(app)
    install_openapi(app)
    app.add_middleware(RequestObserver, metrics=metrics)
    add_docs(app)
    if settings.account_page_enabled:
        add_account_page(app)
    routers = (
        auth_router,
        discovery_router,
        users_router,
        totp_router,
        products_router,
        health_router,
        metrics_router,
    )
    for router in routers:
        app.include_router(router)
    return app


app = create_app()
