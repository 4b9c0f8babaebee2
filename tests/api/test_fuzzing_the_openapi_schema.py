"""Schemathesis generates requests from the app's own OpenAPI schema, valid and invalid, and
sends them as an admin: no response is a server error, and every response is one the schema
documents (status code, content type, body).

Why not `schemathesis.openapi.from_asgi(...)` and `case.call_and_validate()`: that transport
runs the app in schemathesis' own event-loop thread and starts a second lifespan there,
whose asyncpg pool and Redis client would outlive each test's cleanup on another loop. Here
the schema is the one the session app serves, each case goes to that app through httpx on
the test loop, and schemathesis validates the httpx response. Hypothesis drives generation
in a worker thread (it is synchronous), handing each request back to the loop."""

import asyncio
from collections.abc import AsyncIterator
from typing import Any, Final

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode, checks
from schemathesis.core.result import Err, Ok

from app.main import create_app
from tests.conftest import RunningApp, make_settings
from tests.factories import login, make_user

BASE_URL: Final = "http://keygate.test"
EXAMPLES_PER_OPERATION: Final = 30
CHECKS: Final = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
]

# The schema as create_app builds it, with no I/O, so that pytest can name one test per
# operation; the first test below checks that the running app serves exactly this schema.
OPENAPI: Final[dict[str, Any]] = create_app(make_settings()).openapi()
SCHEMA = schemathesis.openapi.from_dict(OPENAPI)
LOADED: Final = list(SCHEMA.get_all_operations())
OPERATIONS: Final = sorted(result.ok().label for result in LOADED if isinstance(result, Ok))


def has_input(label: str) -> bool:
    operation = SCHEMA.find_operation_by_label(label)
    assert operation is not None
    parts = (operation.path_parameters, operation.query, operation.headers, operation.body)
    return any(len(part) for part in parts)


# Invalid requests need something to make invalid: operations without parameters or a body
# (GET /health, POST /logout, ...) get valid ones only.
CASES: Final = [
    pytest.param(label, mode, id=f"{label}-{mode.value}")
    for label in OPERATIONS
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if mode is GenerationMode.POSITIVE or has_input(label)
]


@pytest.fixture
async def server_errors_as_responses(app: RunningApp) -> AsyncIterator[httpx.AsyncClient]:
    """A client that turns an unhandled exception into the 500 a real server would send,
    so schemathesis sees (and reports) it as a response."""
    transport = httpx.ASGITransport(
        app=app.asgi, raise_app_exceptions=False, client=("203.0.113.7", 40000)
    )
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        yield client


async def test_the_fuzzed_schema_is_the_one_the_app_serves(client):
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    assert response.json() == OPENAPI


def test_every_operation_can_be_generated():
    unusable = [str(result.err()) for result in LOADED if isinstance(result, Err)]
    assert unusable == []
    assert len(OPERATIONS) >= 20, OPERATIONS


def test_every_protected_operation_documents_401_and_403():
    # docs/contract.md names both for every authenticated request: bad or missing
    # credentials, and a missing scope. Without them a client generated from the schema
    # has no type for the answers it will certainly get.
    undocumented = {
        f"{method.upper()} {path}": sorted({"401", "403"} - set(operation["responses"]))
        for path, operations in OPENAPI["paths"].items()
        for method, operation in operations.items()
        if operation.get("security") and not {"401", "403"} <= set(operation["responses"])
    }
    assert undocumented == {}


def as_httpx_request(case: schemathesis.Case, headers: dict[str, str]) -> dict[str, Any]:
    """The request schemathesis would send, serialized by requests (form, JSON and text
    bodies alike), as keyword arguments for httpx."""
    prepared = requests.Request(**case.as_transport_kwargs(BASE_URL, headers)).prepare()
    return {
        "method": prepared.method,
        "url": prepared.url,
        "headers": dict(prepared.headers),
        "content": prepared.body,
    }


@pytest.mark.slow  # schemathesis fuzzing
@pytest.mark.parametrize(("label", "mode"), CASES)
async def test_no_generated_request_is_a_server_error_or_breaks_the_schema(
    server_errors_as_responses, client, services, label, mode
):
    await make_user(services, "root", is_admin=True)
    admin = await login(client, "root")
    operation = SCHEMA.find_operation_by_label(label)
    assert operation is not None
    loop = asyncio.get_running_loop()

    def send(case: schemathesis.Case) -> httpx.Response:
        request = server_errors_as_responses.request(**as_httpx_request(case, admin.headers))
        return asyncio.run_coroutine_threadsafe(request, loop).result(timeout=30)

    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        derandomize=True,  # the same examples on every run: CI failures reproduce
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        print_blob=True,
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def fuzz(case: schemathesis.Case) -> None:
        case.validate_response(send(case), checks=CHECKS)

    await asyncio.to_thread(fuzz)
