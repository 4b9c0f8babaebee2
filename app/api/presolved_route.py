"""The route class of every keygate route."""

import dataclasses
import functools
import inspect
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Final

from fastapi.datastructures import DefaultPlaceholder
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import request_params_to_args
from fastapi.exceptions import EndpointContext, RequestValidationError
from fastapi.routing import (
    _FASTAPI_SCOPE_KEY,
    APIRoute,
    _effective_route_context_var,
    _extract_endpoint_context,
    _get_scope_effective_route_context,
    serialize_response,
)
from fastapi.security import SecurityScopes
from fastapi.security.base import SecurityBase
from fastapi.utils import is_body_allowed_for_status_code
from starlette._utils import get_route_path
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Match
from starlette.types import Scope

Handler = Callable[[Request], Coroutine[Any, Any, Response]]
# A route's answer to a request, given the values of its dependencies.
Answer = Callable[[Request, dict[str, Any]], Awaitable[Response]]

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
            or _asks_for_parameters(dependant)
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


def _asks_for_parameters(dependant: Dependant) -> bool:
    """Whether FastAPI has something of the request to read for `dependant` itself: a path,
    query, header, cookie or body parameter, or a connection, response or background tasks
    object to hand it."""
    return bool(dependant.path_params or dependant.query_params or _asks_for_more(dependant))


def _asks_for_more(dependant: Dependant) -> bool:
    """Whether FastAPI has more to read for `dependant` than its path and query parameters."""
    return bool(
        dependant.header_params
        or dependant.cookie_params
        or dependant.body_params
        or dependant.http_connection_param_name
        or dependant.websocket_param_name
        or dependant.response_param_name
        or dependant.background_tasks_param_name
    )


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
    (tests), FastAPI solves everything, as usual.

    A route left with nothing for FastAPI to solve but path and query parameters (no body,
    header or cookie, no other dependency: /health, /users/me, the product and session
    reads, the admin lists) is answered by this class, as FastAPI's handler answers it,
    without the handler's per-request work for what the route does not have. And a request
    for another path is turned away by comparing strings."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        # A path without parameters: Starlette's pattern for it (`^<path>$`) matches that
        # path and, as `$` does, that path followed by one newline; nothing else. A path with
        # parameters: its pattern matches only paths that begin with the text before them.
        if self.param_convertors:
            self._literal_paths, self._beginning = None, path.partition("{")[0]
        else:
            self._literal_paths, self._beginning = (path, path + "\n"), path

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        """As APIRoute's, with a request for another path turned away by comparing strings:
        a request is tried against every route before its own, and the pattern, the root
        path and FastAPI's route context cost more than that. Left to APIRoute while FastAPI
        matches this route as an included router holds it (under that router's prefix)."""
        path = get_route_path(scope) if scope.get("root_path") else scope["path"]
        literal_paths = self._literal_paths
        if (
            path not in literal_paths
            if literal_paths is not None
            else not path.startswith(self._beginning)
        ) and not self._is_included_in(scope):
            return Match.NONE, {}
        return super().matches(scope)

    def _is_included_in(self, scope: Scope) -> bool:
        # FastAPI keeps its part of the scope (private to fastapi.routing, pinned by uv.lock)
        # only for a request that went through an included router.
        return _FASTAPI_SCOPE_KEY in scope and self._is_held_by(
            _get_scope_effective_route_context(scope)
        )

    def _is_held_by(self, context: Any) -> bool:
        """Whether FastAPI's route context (private to fastapi.routing, pinned by uv.lock) is
        this route as an included router holds it."""
        return context is not None and context.original_route is self

    def get_route_handler(self) -> Handler:
        solved_by_fastapi = super().get_route_handler()
        endpoint = self.dependant.call
        if endpoint is None or not inspect.iscoroutinefunction(endpoint) or self._is_included():
            return solved_by_fastapi
        direct: list[Direct] = []
        rest: list[Dependant] = []
        for dependency in self.dependant.dependencies:
            solved = Direct.of(dependency)
            if solved is None:
                rest.append(dependency)
            else:
                direct.append(solved)
        answer = None if rest else self._answering(endpoint)
        if answer is None:
            if not direct:
                return solved_by_fastapi
            answer = self._solved_after(rest, endpoint)
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
            return await answer(request, values)

        return handler

    def _answering(self, endpoint: Callable[..., Awaitable[Any]]) -> Answer | None:
        """For a route whose endpoint asks for nothing but path and query parameters and the
        values of direct dependencies (no body, header or cookie, no other dependency, no
        Response or BackgroundTasks to fill; JSON, not a stream): what FastAPI's handler does
        with it, without the handler's per-request work for what the route does not have.
        The parameters are read and validated by FastAPI's own request_params_to_args, from
        the same sources, and their errors raised as FastAPI raises them. A Response the
        endpoint returns is sent as it is; any other value is validated and serialized by
        FastAPI's own serialize_response, against the route's response model, with its status
        code. None for any other route. FastAPI's telemetry spans are not opened here:
        keygate's app turns them off (app/main.py)."""
        dependant = self.dependant
        response_class = self.response_class
        if (
            _asks_for_more(dependant)
            or self.body_field is not None
            or dependant.security_scopes_param_name
            or self.stream_item_field is not None
            or self.is_json_stream
            or not isinstance(response_class, DefaultPlaceholder)
            or response_class.value is not JSONResponse
        ):
            return None
        field = self.response_field
        # As FastAPI: the route's status code, or the response class's (200) when it has none.
        status_code = self.status_code or 200
        request_param = dependant.request_param_name
        path_fields, query_fields = dependant.path_params, dependant.query_params
        # Named in a request or response validation error, as FastAPI names it (a copy:
        # FastAPI keeps one per function and writes each request's path into it).
        endpoint_ctx: EndpointContext = {**_extract_endpoint_context(endpoint)}
        if self.methods and len(self.methods) == 1:
            (method,) = self.methods
            endpoint_ctx["path"] = f"{method} {self.path}"
        serialized = functools.partial(
            serialize_response,
            field=field,
            include=self.response_model_include,
            exclude=self.response_model_exclude,
            by_alias=self.response_model_by_alias,
            exclude_unset=self.response_model_exclude_unset,
            exclude_defaults=self.response_model_exclude_defaults,
            exclude_none=self.response_model_exclude_none,
            is_coroutine=True,
            endpoint_ctx=endpoint_ctx,
            # As FastAPI: JSON straight from pydantic when there is a response model.
            dump_json=field is not None,
        )

        async def answer(request: Request, values: dict[str, Any]) -> Response:
            if path_fields or query_fields:
                # As FastAPI: every parameter is validated, and the errors of all are raised
                # together (path first), before the endpoint runs.
                path_values, errors = request_params_to_args(path_fields, request.path_params)
                query_values, query_errors = request_params_to_args(
                    query_fields, request.query_params
                )
                if errors or query_errors:
                    raise RequestValidationError(
                        errors + query_errors, body=None, endpoint_ctx=endpoint_ctx
                    )
                values.update(path_values)
                values.update(query_values)
            if request_param is not None:
                values[request_param] = request
            returned = await endpoint(**values)
            if isinstance(returned, Response):
                return returned
            content = await serialized(response_content=returned)
            response = (
                Response(content, status_code, media_type="application/json")
                if field is not None
                else JSONResponse(content, status_code)
            )
            if not is_body_allowed_for_status_code(response.status_code):
                response.body = b""
            return response

        return answer

    def _is_included(self) -> bool:
        """Whether FastAPI is building this handler for the route as an included router
        holds it, with that router's dependencies added: FastAPI then reads another dependant
        than this route's own (a private variable of fastapi.routing, pinned by uv.lock), and
        solves it all itself. keygate adds its routes to the app's own table."""
        return self._is_held_by(_effective_route_context_var.get())

    def _solved_after(
        self, dependencies: list[Dependant], endpoint: Callable[..., Awaitable[Any]]
    ) -> Answer:
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
            solved_by_fastapi = super().get_route_handler()
        finally:
            self.dependant = original

        async def answer(request: Request, values: dict[str, Any]) -> Response:
            request.scope[SOLVED_KEY] = values
            return await solved_by_fastapi(request)

        return answer
