"""The route class of every keygate route."""

import dataclasses
import functools
import inspect
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Final

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, _effective_route_context_var
from fastapi.security import SecurityScopes
from fastapi.security.base import SecurityBase
from starlette.requests import Request
from starlette.responses import Response

Handler = Callable[[Request], Coroutine[Any, Any, Response]]

# Where a request keeps the values of its pre-solved dependencies for its endpoint.
SOLVED_KEY: Final = "keygate.presolved"
# The endpoint's request parameter, when the endpoint itself declares none.
REQUEST_PARAM: Final = "keygate_request"


@dataclasses.dataclass(frozen=True, slots=True)
class Direct:
    """A dependency FastAPI would solve by calling it with the request and, for a security
    dependency, its scopes: nothing of its own to read, validate or clean up."""

    name: str | None
    call: Callable[..., Awaitable[Any]]
    request_param: str | None
    scopes_param: str | None
    scopes: SecurityScopes
    use_cache: bool
    cache_key: tuple[Any, ...]

    @classmethod
    def of(cls, dependant: Dependant) -> "Direct | None":
        call = dependant.call
        if (
            call is None
            or not _is_async_function(call)
            or dependant.dependencies
            or dependant.path_params
            or dependant.query_params
            or dependant.header_params
            or dependant.cookie_params
            or dependant.body_params
            or dependant.http_connection_param_name
            or dependant.websocket_param_name
            or dependant.response_param_name
            or dependant.background_tasks_param_name
            or dependant.concurrency is not None
        ):
            return None
        # As FastAPI: a security dependency's scopes are its own and those of the dependencies
        # above it, and they are part of its cache key only when it uses scopes.
        scopes = list(
            dict.fromkeys(
                [*(dependant.parent_oauth_scopes or ()), *(dependant.own_oauth_scopes or ())]
            )
        )
        uses_scopes = bool(
            dependant.own_oauth_scopes
            or dependant.security_scopes_param_name
            or isinstance(call, SecurityBase)
        )
        return cls(
            name=dependant.name,
            call=call,
            request_param=dependant.request_param_name,
            scopes_param=dependant.security_scopes_param_name,
            scopes=SecurityScopes(scopes),
            use_cache=dependant.use_cache,
            cache_key=(call, tuple(sorted(set(scopes))) if uses_scopes else ()),
        )

    def __call__(self, request: Request) -> Awaitable[Any]:
        arguments: dict[str, Any] = {}
        if self.request_param is not None:
            arguments[self.request_param] = request
        if self.scopes_param is not None:
            arguments[self.scopes_param] = self.scopes
        return self.call(**arguments)


def _is_async_function(call: Callable[..., Any]) -> bool:
    if inspect.isclass(call):
        return False
    return inspect.iscoroutinefunction(call) or inspect.iscoroutinefunction(
        getattr(call, "__call__", None)  # noqa: B004 (a dependency object's own method)
    )


class PresolvedRoute(APIRoute):
    """FastAPI's APIRoute, with the dependencies that need nothing but the request (the
    security dependency, the service accessors of app/api/deps.py) called directly, in their
    order, before FastAPI solves the rest (path, query and body parameters, other
    dependencies). The endpoint gets the same values, a dependency the route names twice is
    called once, and their errors answer as before. (A direct dependency that another,
    FastAPI-solved dependency also asks for is called again there: keygate has none.) Kept by
    hand for a measured reason: FastAPI's solver costs each such dependency about as much as
    checking a cached bearer token does (README, Performance). With dependency overrides set
    (tests), FastAPI solves everything, as usual."""

    def get_route_handler(self) -> Handler:
        solved_by_fastapi = super().get_route_handler()
        endpoint = self.dependant.call
        direct: list[Direct] = []
        rest: list[Dependant] = []
        for dependency in self.dependant.dependencies:
            solved = Direct.of(dependency)
            if solved is None:
                rest.append(dependency)
            else:
                direct.append(solved)
        if (
            not direct
            or endpoint is None
            or not inspect.iscoroutinefunction(endpoint)
            or self._is_included()
        ):
            return solved_by_fastapi
        solved_after = self._solving_only(rest, endpoint)
        overrides = self.dependency_overrides_provider

        async def handler(request: Request) -> Response:
            if overrides is not None and overrides.dependency_overrides:
                return await solved_by_fastapi(request)
            values: dict[str, Any] = {}
            cache: dict[tuple[Any, ...], Any] = {}
            for dependency in direct:
                if dependency.use_cache and dependency.cache_key in cache:
                    value = cache[dependency.cache_key]
                else:
                    value = cache[dependency.cache_key] = await dependency(request)
                if dependency.name is not None:
                    values[dependency.name] = value
            request.scope[SOLVED_KEY] = values
            return await solved_after(request)

        return handler

    def _is_included(self) -> bool:
        """Whether FastAPI is building this handler for the route as an included router
        holds it, with that router's dependencies added: FastAPI then reads another dependant
        than this route's own (a private variable of fastapi.routing, pinned by uv.lock), and
        solves it all itself. keygate adds its routes to the app's own table."""
        context = _effective_route_context_var.get()
        return context is not None and context.original_route is self

    def _solving_only(
        self, dependencies: list[Dependant], endpoint: Callable[..., Awaitable[Any]]
    ) -> Handler:
        """FastAPI's handler for this route solving only `dependencies`: its endpoint takes
        the values of the direct ones from the request."""
        own_request_param = self.dependant.request_param_name
        request_param = own_request_param or REQUEST_PARAM

        @functools.wraps(endpoint)  # FastAPI names the endpoint in its validation errors
        async def call(**values: Any) -> Any:
            request = values[request_param] if own_request_param else values.pop(request_param)
            return await endpoint(**values, **request.scope[SOLVED_KEY])

        original = self.dependant
        self.dependant = dataclasses.replace(
            original,
            dependencies=dependencies,
            call=call,
            request_param_name=request_param,
        )
        try:  # FastAPI builds a handler from the route's own attributes
            return super().get_route_handler()
        finally:
            self.dependant = original
