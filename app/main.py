"""The FastAPI application: `create_app(settings)`, and `app` for `uvicorn app.main:app`."""

from fastapi import FastAPI

from app.api.account_page import add_account_page
from app.api.docs import add_docs
from app.api.errors import register_error_renderers
from app.api.openapi import install_openapi
from app.api.presolved_route import PresolvedRoute
from app.api.routers import discovery, health, metrics, products, token, totp, users
from app.api.routers import recovery as account_recovery
from app.core.clock import Clock, system_clock
from app.core.settings import Settings
from app.lifespan import make_lifespan
from app.ops.body_limit import BodyLimit
from app.ops.metrics import Metrics
from app.ops.requests import RequestObserver

# Every body keygate accepts is a small form or JSON object; larger ones are 413 unread.
MAX_BODY_BYTES = 64 * 1024
DOCS_TAG_ORDER = ("auth", "discovery", "users", "two-factor", "products", "operations")

DESCRIPTION = """\
keygate authenticates users against PostgreSQL, with Redis caching what login and every
authenticated request need.

**Try it here:** press *Authorize*, type a username and password (leave client_id
empty), tick the scopes you want (none ticked means all of yours), then use
*Try it out* on any endpoint.
"""


def create_app(settings: Settings | None = None, *, clock: Clock = system_clock) -> FastAPI:
    settings = settings or Settings()
    app_metrics = Metrics()
    app = FastAPI(
        title="keygate",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=make_lifespan(settings, app_metrics, clock),
        docs_url=None,
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
        openapi_tags=[{"name": tag} for tag in DOCS_TAG_ORDER],
        # FastAPI's built-in OpenTelemetry hooks cost time on every request and would record
        # validation failures (with their input) where we do not control redaction.
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
    )
    app.router.route_class = PresolvedRoute  # for the routes added below with app.get
    register_error_renderers(app)
    install_openapi(app)
    app.add_middleware(BodyLimit, max_bytes=MAX_BODY_BYTES)
    app.add_middleware(RequestObserver, metrics=app_metrics)  # outermost: it sees every answer
    # FastAPI tries the routes in this order on every request, one by one: the hot paths come
    # first (the tags keep their order in /docs: openapi_tags above). The routes go straight
    # into the app's table, as in a one-file app: an included router is matched through a
    # wrapper of its own, on every request (README, Performance: routing).
    for module in (health, users, products, token, totp, discovery, metrics):
        app.router.routes.extend(module.router.routes)
    app.router.routes.extend(account_recovery.router.routes)
    # FastAPI puts its /openapi.json first, where every request would be matched against it;
    # it is asked for once per visit to /docs, so it is tried after the API's own routes.
    openapi_route = next(
        r for r in app.router.routes if getattr(r, "path", None) == app.openapi_url
    )
    app.router.routes.remove(openapi_route)
    app.router.routes.append(openapi_route)
    add_docs(app)
    if settings.account_page_enabled:
        add_account_page(app)
    return app


app = create_app()
