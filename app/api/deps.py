"""Everything a route may ask for, as Annotated aliases over the objects the container built
(kept on `app.state.services` by the lifespan). The accessors know each object's type, not
the container's: the API does not depend on the wiring above it."""

from typing import Annotated, Any

from fastapi import Depends, Request, Security
from fastapi.security import OAuth2PasswordBearer, SecurityScopes

from app.accounts.registration import Registration
from app.accounts.service import AccountService
from app.api.client import client_ip, origin_of
from app.api.server_timing import auth_timing
from app.authentication.authenticator import Authenticator
from app.authentication.principal import Principal
from app.core.db import Database
from app.core.errors import InsufficientScope
from app.core.redis import RedisGuard
from app.core.settings import Settings
from app.login.request_origin import RequestOrigin
from app.mfa.enrolment import TotpEnrolment
from app.oauth.introspection import Introspector
from app.oauth.registry import GrantRegistry
from app.ops.metrics import Metrics
from app.products.cache import ProductCache
from app.recovery.service import RecoveryService
from app.sessions.service import SessionService
from app.tokens.codec import TokenCodec
from app.users.repository import UserRepository
from app.users.scopes import SCOPE_DESCRIPTIONS, Scope


def _services(request: Request) -> Any:
    return request.app.state.services


def _authorization_header(request: Request) -> str | None:
    """The first Authorization header, as `request.headers.get` finds it, read from the raw
    headers: this runs on every authenticated request, and `request.headers` builds a
    mapping of them all."""
    for name, value in request.scope["headers"]:
        if name == b"authorization":
            header: str = value.decode("latin-1")
            return header
    return None


class BearerOrBasic(OAuth2PasswordBearer):
    """The security dependency. As an OAuth2PasswordBearer it declares the password flow to
    OpenAPI (the /docs Authorize dialog and its scopes); as a dependency it accepts a bearer
    token or, when enabled, HTTP Basic, and checks the scopes the route asks for. One
    dependency, not two nested: this runs on every authenticated request."""

    async def __call__(  # type: ignore[override]
        self, request: Request, security_scopes: SecurityScopes
    ) -> Principal:
        services = _services(request)
        authenticator: Authenticator = services.authenticator
        principal = await authenticator.authenticate(
            _authorization_header(request),
            lambda: client_ip(request, services.trusted_proxies),
        )
        # For the request observer: the Server-Timing header of whatever response follows
        # (an error after authentication included) and the access log's user. Written into
        # the request's state dict itself: `request.state` wraps it in an object per request.
        state = request.scope.setdefault("state", {})
        state["server_timing"] = auth_timing(principal.source, principal.duration_ms)
        state["user_id"] = principal.user_id
        for scope in security_scopes.scopes:
            if scope not in principal.scopes:
                raise InsufficientScope(scope)
        return principal


authenticate = BearerOrBasic(
    tokenUrl="token",
    scopes=SCOPE_DESCRIPTIONS,
    scheme_name="OAuth2PasswordBearer",
    auto_error=False,
)


# The accessors are `async def` though they never await: FastAPI runs a plain `def`
# dependency in a worker thread, a thread hop per dependency on every request.
async def get_settings(request: Request) -> Settings:
    settings: Settings = _services(request).settings
    return settings


async def get_users(request: Request) -> UserRepository:
    users: UserRepository = _services(request).users
    return users


async def get_accounts(request: Request) -> AccountService:
    accounts: AccountService = _services(request).accounts
    return accounts


async def get_registration(request: Request) -> Registration:
    registration: Registration = _services(request).registration
    return registration


async def get_products(request: Request) -> ProductCache:
    products: ProductCache = _services(request).products
    return products


async def get_sessions(request: Request) -> SessionService:
    sessions: SessionService = _services(request).sessions
    return sessions


async def get_grants(request: Request) -> GrantRegistry:
    grants: GrantRegistry = _services(request).grants
    return grants


async def get_codec(request: Request) -> TokenCodec:
    codec: TokenCodec = _services(request).codec
    return codec


async def get_introspector(request: Request) -> Introspector:
    introspector: Introspector = _services(request).introspector
    return introspector


async def get_enrolment(request: Request) -> TotpEnrolment:
    enrolment: TotpEnrolment = _services(request).enrolment
    return enrolment


async def get_database(request: Request) -> Database:
    db: Database = _services(request).db
    return db


async def get_redis_guard(request: Request) -> RedisGuard:
    guard: RedisGuard = _services(request).redis_guard
    return guard


async def get_metrics(request: Request) -> Metrics:
    metrics: Metrics = _services(request).metrics
    return metrics


async def get_recovery(request: Request) -> RecoveryService:
    recovery: RecoveryService = _services(request).recovery
    return recovery


async def get_origin(request: Request) -> RequestOrigin:
    return origin_of(request, _services(request).trusted_proxies)


SettingsDep = Annotated[Settings, Depends(get_settings)]
Users = Annotated[UserRepository, Depends(get_users)]
Accounts = Annotated[AccountService, Depends(get_accounts)]
Registrations = Annotated[Registration, Depends(get_registration)]
Products = Annotated[ProductCache, Depends(get_products)]
Sessions = Annotated[SessionService, Depends(get_sessions)]
Grants = Annotated[GrantRegistry, Depends(get_grants)]
Codec = Annotated[TokenCodec, Depends(get_codec)]
IntrospectorDep = Annotated[Introspector, Depends(get_introspector)]
Enrolment = Annotated[TotpEnrolment, Depends(get_enrolment)]
DatabaseDep = Annotated[Database, Depends(get_database)]
RedisGuardDep = Annotated[RedisGuard, Depends(get_redis_guard)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
Origin = Annotated[RequestOrigin, Depends(get_origin)]
Recovery = Annotated[RecoveryService, Depends(get_recovery)]

Authenticated = Annotated[Principal, Security(authenticate)]
Me = Annotated[Principal, Security(authenticate, scopes=[Scope.ME])]
Admin = Annotated[Principal, Security(authenticate, scopes=[Scope.ADMIN])]
ReadProducts = Annotated[Principal, Security(authenticate, scopes=[Scope.PRODUCTS_READ])]
WriteProducts = Annotated[Principal, Security(authenticate, scopes=[Scope.PRODUCTS_WRITE])]
