"""The route class of every keygate route solves the dependencies that need only the request
itself, before FastAPI solves the rest: an endpoint must see exactly what FastAPI would have
given it, and a failing dependency must answer as it would have."""

from datetime import date
from typing import Annotated

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Path, Query, Request, Security
from fastapi.exceptions import ResponseValidationError
from fastapi.responses import PlainTextResponse
from fastapi.routing import APIRoute
from fastapi.security import SecurityScopes
from pydantic import BaseModel

from app.api.presolved_route import PresolvedRoute
from app.main import create_app


class Calls:
    def __init__(self) -> None:
        self.made: list[str] = []


calls = Calls()


async def who(request: Request, security_scopes: SecurityScopes) -> str:
    calls.made.append("who:" + security_scopes.scope_str)
    name = request.headers.get("x-user")
    if name is None:
        raise HTTPException(401, "who are you?", headers={"WWW-Authenticate": "Bearer"})
    if "admin" in security_scopes.scopes and name != "root":
        raise HTTPException(403, "not an admin")
    return name


async def service(request: Request) -> str:
    calls.made.append("service")
    return f"service of {request.url.path}"


async def audit() -> None:
    calls.made.append("audit")


Who = Annotated[str, Security(who)]
Admin = Annotated[str, Security(who, scopes=["admin"])]
Service = Annotated[str, Depends(service)]


class Item(BaseModel):
    name: str


async def me(user: Who, svc: Service) -> dict[str, str]:
    return {"user": user, "service": svc}


async def twice(first: Who, second: Who) -> list[str]:
    return [first, second]


async def admin(n: int, user: Admin, request: Request, q: str = "") -> dict[str, object]:
    return {"n": n, "user": user, "q": q, "path": request.url.path}


async def create(item: Item, user: Who) -> dict[str, str]:
    return {"item": item.name, "by": user}


def make_app(*, included: bool = False) -> FastAPI:
    app = FastAPI()
    router = APIRouter(route_class=PresolvedRoute, dependency_overrides_provider=app)
    router.get("/me")(me)
    router.get("/twice")(twice)
    router.get("/admin/{n}", dependencies=[Depends(audit)])(admin)
    router.post("/items", status_code=201)(create)
    if included:
        app.include_router(router)
    else:  # as keygate adds its routes
        app.router.routes.extend(router.routes)
    return app


@pytest.fixture(params=[False, True], ids=["in the app's table", "in an included router"])
async def client(request):
    calls.made.clear()
    app = make_app(included=request.param)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as http:
        http.app = app  # type: ignore[attr-defined]
        yield http


async def test_the_endpoint_gets_each_dependency_value(client):
    response = await client.get("/me", headers={"x-user": "ada"})
    assert response.status_code == 200
    assert response.json() == {"user": "ada", "service": "service of /me"}
    assert calls.made == ["who:", "service"]


async def test_a_dependency_asked_for_twice_is_called_once(client):
    response = await client.get("/twice", headers={"x-user": "ada"})
    assert response.json() == ["ada", "ada"]
    assert calls.made == ["who:"]


async def test_scopes_path_query_request_and_route_dependencies_all_arrive(client):
    response = await client.get("/admin/7?q=x", headers={"x-user": "root"})
    assert response.status_code == 200
    assert response.json() == {"n": 7, "user": "root", "q": "x", "path": "/admin/7"}
    assert sorted(calls.made) == ["audit", "who:admin"]


async def test_a_failing_dependency_answers_as_it_raised(client):
    missing = await client.get("/admin/7", headers={})
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    not_admin = await client.get("/admin/7", headers={"x-user": "ada"})
    assert not_admin.status_code == 403


async def test_invalid_parameters_and_bodies_are_still_422(client):
    assert (await client.get("/admin/seven", headers={"x-user": "root"})).status_code == 422
    bad_body = await client.post("/items", json={"nom": "x"}, headers={"x-user": "ada"})
    assert bad_body.status_code == 422
    good = await client.post("/items", json={"name": "x"}, headers={"x-user": "ada"})
    assert good.status_code == 201
    assert good.json() == {"item": "x", "by": "ada"}


async def test_an_unauthenticated_body_is_refused_before_it_is_parsed():
    app = make_app()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.post(
            "/items", content=b"{not json", headers={"content-type": "application/json"}
        )
    assert response.status_code == 401


async def test_dependency_overrides_are_honoured(client):
    async def nobody(security_scopes: SecurityScopes) -> str:
        return "override"

    client.app.dependency_overrides[who] = nobody
    response = await client.get("/me")
    assert response.json() == {"user": "override", "service": "service of /me"}


def test_every_keygate_route_is_a_presolved_route():
    app = create_app()
    api_routes = [route for route in app.routes if isinstance(route, APIRoute)]
    assert api_routes
    assert all(isinstance(route, PresolvedRoute) for route in api_routes)


# --- routes with nothing but path and query parameters left for FastAPI to solve: answered
# by the route class itself, with those parameters validated by FastAPI's own function ------


class Account(BaseModel):
    name: str
    nickname: str | None = None
    secret: str = "hidden"


async def health() -> dict[str, str]:
    return {"status": "ok"}


async def account(user: Who) -> Account:
    return Account(name=user)


async def loose(request: Request):  # type: ignore[no-untyped-def]  # no response model at all
    return {"path": request.url.path, "when": date(2026, 12, 6), "item": Item(name="x")}


async def nothing(user: Who) -> None:
    calls.made.append("nothing")


async def text(user: Who) -> PlainTextResponse:
    return PlainTextResponse(f"hello {user}", headers={"x-made": "by hand"})


async def wrong() -> Account:
    return {"nom": "no name"}  # type: ignore[return-value]


async def page(
    user: Who,
    limit: Annotated[int, Query(ge=1, le=10)] = 5,
    offset: Annotated[int, Query(ge=0)] = 0,
    tag: Annotated[str | None, Query(alias="t", max_length=3)] = None,
) -> dict[str, object]:
    return {"user": user, "limit": limit, "offset": offset, "tag": tag}


async def one(item_id: Annotated[int, Path(ge=1)], user: Who, verbose: bool = False) -> Item:
    return Item(name=f"{item_id} {verbose}")


async def tags(t: Annotated[list[str], Query()] = []) -> list[str]:  # noqa: B006 (FastAPI copies it)
    return t


async def required(q: str) -> str:
    return q


def answering_app(route_class: type[APIRoute], *, prefix: str = "") -> FastAPI:
    """The same routes, served by `route_class`: FastAPI's own APIRoute is the reference."""
    app = FastAPI()
    router = APIRouter(route_class=route_class, dependency_overrides_provider=app)
    router.get("/health")(health)
    router.get("/account", response_model_exclude={"secret"}, response_model_exclude_none=True)(
        account
    )
    router.post("/account", status_code=201, response_model=Account)(account)
    router.get("/loose")(loose)
    router.delete("/nothing", status_code=204)(nothing)
    router.get("/text")(text)
    router.get("/wrong")(wrong)
    router.get("/page")(page)
    router.get("/items/{item_id}")(one)
    router.get("/tags")(tags)
    router.get("/required")(required)
    if prefix:
        app.include_router(router, prefix=prefix)
    else:
        app.router.routes.extend(router.routes)
    return app


ANSWERED_REQUESTS = [
    ("GET", "/health", {}),
    ("GET", "/health%0A", {}),  # Starlette's pattern also matches a path and one newline
    ("GET", "/health/", {}),
    ("POST", "/health", {}),  # 405 from the route's partial match
    ("GET", "/account", {"x-user": "ada"}),
    ("GET", "/account", {}),  # its dependency refuses: 401
    ("POST", "/account", {"x-user": "ada"}),
    ("GET", "/loose", {}),
    ("DELETE", "/nothing", {"x-user": "ada"}),
    ("GET", "/text", {"x-user": "ada"}),
    ("GET", "/nowhere", {}),
    ("GET", "/page", {"x-user": "ada"}),  # every default
    ("GET", "/page?limit=3&offset=2&t=x", {"x-user": "ada"}),
    ("GET", "/page?limit=2&limit=4&tag=y", {"x-user": "ada"}),  # the last of two; no alias
    ("GET", "/page?limit=0&offset=-1&t=long", {"x-user": "ada"}),  # three errors at once
    ("GET", "/page?limit=abc", {"x-user": "ada"}),
    ("GET", "/page?limit=0", {}),  # the dependency refuses first: 401
    ("GET", "/items/5?verbose=yes", {"x-user": "ada"}),
    ("GET", "/items/0?verbose=maybe", {"x-user": "ada"}),  # path and query errors together
    ("GET", "/items/x", {}),
    ("GET", "/items/5/", {"x-user": "ada"}),  # redirected to /items/5
    ("GET", "/item/5", {"x-user": "ada"}),
    ("GET", "/tags?t=a&t=b", {}),
    ("GET", "/tags", {}),
    ("GET", "/required?q=", {}),
    ("GET", "/required", {}),
]


async def answers(app: FastAPI, prefix: str = "") -> list[tuple[int, list[tuple[str, str]], bytes]]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        got = []
        for method, path, headers in ANSWERED_REQUESTS:
            response = await client.request(method, prefix + path, headers=headers)
            got.append((response.status_code, response.headers.multi_items(), response.content))
        return got


@pytest.mark.parametrize("prefix", ["", "/v1"], ids=["in the app's table", "included, prefixed"])
async def test_a_route_the_route_class_answers_answers_exactly_as_fastapi_does(prefix):
    calls.made.clear()
    reference = await answers(answering_app(APIRoute, prefix=prefix), prefix)
    made_by_fastapi = list(calls.made)
    calls.made.clear()
    assert await answers(answering_app(PresolvedRoute, prefix=prefix), prefix) == reference
    assert calls.made == made_by_fastapi
    statuses = [status for status, _, _ in reference]
    assert statuses[:11] == [200, 200, 307, 405, 200, 401, 201, 200, 204, 200, 404]
    assert statuses[11:] == [
        200,
        200,
        200,
        422,
        422,
        401,
        200,
        422,
        401,
        307,
        404,
        200,
        200,
        200,
        422,
    ]


@pytest.mark.parametrize("route_class", [APIRoute, PresolvedRoute])
async def test_a_value_its_response_model_refuses_is_a_server_error_as_in_fastapi(route_class):
    transport = httpx.ASGITransport(app=answering_app(route_class))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        with pytest.raises(ResponseValidationError) as raised:
            await client.get("/wrong")
    assert "GET /wrong" in str(raised.value)
