"""Everything a route may ask for, as Annotated aliases over the objects the lifespan built."""

from typing import Annotated

from fastapi import Depends, Request, Response, Security
from fastapi.security import OAuth2PasswordBearer, SecurityScopes

from app.auth.principal import Principal
from app.auth.scopes import SCOPE_DESCRIPTIONS, Scope
from app.auth.sessions import SessionService
from app.client_address import client_ip
from app.errors import InsufficientScope
from app.lifespan import Services
from app.products.repository import ProductRepository
from app.users.repository import UserRepository
from app.users.service import UserService


class BearerOrBasic(OAuth2PasswordBearer):
    """The security dependency. As an OAuth2PasswordBearer it declares the password flow to
    OpenAPI (the /docs Authorize dialog and its scopes); as a dependency it accepts a bearer
    token or, when enabled, HTTP Basic, and checks the scopes the route asks for. One
    dependency, not two nested: this runs on every authenticated request."""

    async def __call__(  # type: ignore[override]
        self, request: Request, response: Response, security_scopes: SecurityScopes
    ) -> Principal:
        services = get_services(request)
        principal = await services.authenticator.authenticate(
            request.headers.get("authorization"), client_ip(request, services.trusted_proxies)
        )
        response.headers["Server-Timing"] = principal.server_timing
        request.state.server_timing = principal.server_timing  # for error responses after auth
        request.state.user_id = principal.user_id  # for the access log
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


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def get_users(request: Request) -> UserRepository:
    return get_services(request).users


def get_user_service(request: Request) -> UserService:
    return get_services(request).user_service


def get_products(request: Request) -> ProductRepository:
    return get_services(request).products


def get_sessions(request: Request) -> SessionService:
    return get_services(request).sessions


AppServices = Annotated[Services, Depends(get_services)]
Users = Annotated[UserRepository, Depends(get_users)]
UserServiceDep = Annotated[UserService, Depends(get_user_service)]
Products = Annotated[ProductRepository, Depends(get_products)]
Sessions = Annotated[SessionService, Depends(get_sessions)]

Authenticated = Annotated[Principal, Security(authenticate)]
Me = Annotated[Principal, Security(authenticate, scopes=[Scope.ME])]
Admin = Annotated[Principal, Security(authenticate, scopes=[Scope.ADMIN])]
ReadProducts = Annotated[Principal, Security(authenticate, scopes=[Scope.PRODUCTS_READ])]
WriteProducts = Annotated[Principal, Security(authenticate, scopes=[Scope.PRODUCTS_WRITE])]
