"""A read costs PostgreSQL one statement: the list routes get their rows and total together,
and the pool sends nothing when it takes back a connection that nothing changed. (A product
read the worker has in memory costs none: tests/products/test_serving_products_from_memory.py;
here the first one is counted.)"""

from collections.abc import AsyncIterator

import pytest

from tests.conftest import RunningApp, make_settings, running_app
from tests.factories import login, make_user


@pytest.fixture
async def one_connection(database, clock) -> AsyncIterator[RunningApp]:
    """An app whose pool holds one connection, so every statement goes through it."""
    async with running_app(make_settings(database_pool_size=1), clock) as app:
        yield app


@pytest.fixture
async def statements(one_connection: RunningApp) -> list[str]:
    """Every statement the app's pool sends, once the fixture is set up."""
    sent: list[str] = []
    async with one_connection.services.db.pool.acquire() as conn:
        conn.add_query_logger(lambda record: sent.append(record.query))
    return sent


async def read_costs_one_statement(
    app: RunningApp, statements: list[str], path: str, headers, warm_path: str | None = None
):
    async with app.client() as client:
        # The credentials reach the cache.
        warm = await client.get(warm_path or path, headers=headers)
        assert warm.status_code == 200, warm.text
        statements.clear()
        response = await client.get(path, headers=headers)
    assert response.status_code == 200, response.text
    assert len(statements) == 1, statements
    return response.json()


async def signed_in(app: RunningApp, username: str = "alice", *, is_admin: bool = False):
    await make_user(app.services, username, is_admin=is_admin)
    async with app.client() as client:
        return await login(client, username)


async def test_a_page_of_products_costs_one_statement(one_connection, statements):
    admin = await signed_in(one_connection, "root", is_admin=True)
    async with one_connection.client() as client:
        for name in ("A", "B", "C"):
            created = await client.post(
                "/products", json={"name": name, "price": "1.00"}, headers=admin.headers
            )
            assert created.status_code == 201
    page = await read_costs_one_statement(
        one_connection, statements, "/products?limit=2&offset=1", admin.headers, "/users/me"
    )
    assert [p["name"] for p in page["items"]] == ["B", "C"]
    assert page["total"] == 3


async def test_a_product_costs_one_statement(one_connection, statements):
    admin = await signed_in(one_connection, "root", is_admin=True)
    async with one_connection.client() as client:
        created = await client.post(
            "/products", json={"name": "A", "price": "1.00"}, headers=admin.headers
        )
    product = await read_costs_one_statement(
        one_connection,
        statements,
        f"/products/{created.json()['id']}",
        admin.headers,
        "/users/me",
    )
    assert product["name"] == "A"


async def test_my_sessions_cost_one_statement(one_connection, statements):
    alice = await signed_in(one_connection)
    sessions = await read_costs_one_statement(
        one_connection, statements, "/users/me/sessions", alice.headers
    )
    assert [s["current"] for s in sessions] == [True]


async def test_a_page_of_users_costs_one_statement(one_connection, statements):
    admin = await signed_in(one_connection, "root", is_admin=True)
    page = await read_costs_one_statement(one_connection, statements, "/users", admin.headers)
    assert [u["username"] for u in page["items"]] == ["root"]
    assert page["total"] == 1


async def test_a_page_past_the_end_still_reports_the_total(one_connection):
    admin = await signed_in(one_connection, "root", is_admin=True)
    async with one_connection.client() as client:
        created = await client.post(
            "/products", json={"name": "A", "price": "1.00"}, headers=admin.headers
        )
        assert created.status_code == 201
        products = await client.get("/products?offset=1000", headers=admin.headers)
        users = await client.get("/users?offset=1000&limit=1", headers=admin.headers)
    assert products.json() == {"items": [], "total": 1, "limit": 50, "offset": 1000}
    assert users.json() == {"items": [], "total": 1, "limit": 1, "offset": 1000}
