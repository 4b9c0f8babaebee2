"""Warm product reads come from the worker's memory, with no SQL statement, and a product
that an operator inserts, updates or deletes with SQL is served from the next request, on
every worker (docs/contract.md, Products). While the worker's LISTEN connection is cut or
hangs, reads go to PostgreSQL and stay current; once it is back, memory serves again. Many
different pages never grow the cache past its bound."""

import asyncio
import time
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from app.products.cache import MAX_BYTES, MAX_ENTRIES
from tests.conftest import TEST_DATABASE_URL, RunningApp
from tests.factories import Login, login, make_user
from tests.faults import TcpProxy
from tests.fixtures.fault_lab import FaultLab, database_url_on_port, eventually

# A LISTEN connection dropped is taken up again within a second or two.
RECONNECT_TIMEOUT_SECONDS = 10.0
# docs/contract.md, The auth cache: a request that needs PostgreSQL is answered within 2 s.
ANSWERED_WITHIN_SECONDS = 2.0
FAR_ID = 10**12  # an id no product has unless a test gives it


async def served_from_memory(reader: "Reader", database: asyncpg.Pool) -> int:
    """A product read until its reads send PostgreSQL no statement; its id."""
    (wine,) = await insert(database, "WINE GLASS")
    await reader.warm(wine)
    assert await reader.statements_of_reading(wine) == []
    return wine


async def insert(database: asyncpg.Pool, *names: str) -> list[int]:
    rows = await database.fetch(
        "INSERT INTO products (name, price) SELECT n, 2.50 FROM unnest($1::text[]) AS n"
        " RETURNING id",
        list(names),
    )
    return [row["id"] for row in rows]


async def signed_in(app: RunningApp) -> Login:
    await make_user(app.services)
    async with app.client() as client:
        return await login(client)


class Reader:
    """A user of one app reading a page and one product, and the statements the app's pool
    sends meanwhile (its pool holds one connection, whose statements are logged)."""

    def __init__(
        self, app: RunningApp, client: httpx.AsyncClient, tokens: Login, statements: list[str]
    ) -> None:
        self.app = app
        self.client = client
        self.tokens = tokens
        self.statements = statements

    async def page(self) -> dict:
        response = await self.client.get("/products", headers=self.tokens.headers)
        assert response.status_code == 200, response.text
        return response.json()

    async def names(self) -> list[str]:
        return [p["name"] for p in (await self.page())["items"]]

    async def product(self, product_id: int) -> httpx.Response:
        return await self.client.get(f"/products/{product_id}", headers=self.tokens.headers)

    async def warm(self, product_id: int) -> tuple[dict, dict]:
        """Reads the page and the product into the app's memory, once the app has heard of
        every change made so far (a notification arriving later would clear them)."""
        assert await self.app.services.notifications.caught_up()
        return await self.page(), (await self.product(product_id)).json()

    async def statements_of_reading(self, product_id: int) -> list[str]:
        self.statements.clear()
        await self.page()
        await self.product(product_id)
        return list(self.statements)


async def reader_of(app: RunningApp) -> AsyncIterator[Reader]:
    tokens = await signed_in(app)
    statements: list[str] = []
    async with app.services.db.pool.acquire() as conn:
        conn.add_query_logger(lambda record: statements.append(record.query))
    async with app.client() as client:
        yield Reader(app, client, tokens, statements)


@pytest.fixture
async def reader(lab: FaultLab) -> AsyncIterator[Reader]:
    """On an app of its own, whose LISTEN connection goes straight to PostgreSQL."""
    app = await lab.app(database_pool_size=1)
    async for reader in reader_of(app):
        yield reader


@pytest.fixture
async def listen_proxy(lab: FaultLab) -> TcpProxy:
    return await lab.pg_proxy()


@pytest.fixture
async def listening_through_proxy(lab: FaultLab, listen_proxy: TcpProxy) -> RunningApp:
    app = await lab.app(
        database_pool_size=1, database_listen_url=database_url_on_port(listen_proxy.port)
    )
    await wait_until_listening(app)
    return app


@pytest.fixture
async def reader_through_proxy(listening_through_proxy: RunningApp) -> AsyncIterator[Reader]:
    """On an app whose LISTEN connection goes through a TCP proxy the test cuts or hangs."""
    async for reader in reader_of(listening_through_proxy):
        yield reader


async def wait_until_listening(app: RunningApp) -> None:
    async def listening() -> bool:
        return app.services.notifications.is_listening

    await eventually(listening, timeout_seconds=RECONNECT_TIMEOUT_SECONDS, what="LISTEN again")


async def test_warm_reads_of_a_page_and_a_product_run_no_sql_statement(reader, database):
    (wine,) = await insert(database, "WINE GLASS")
    first_page, first_product = await reader.warm(wine)

    for _ in range(3):
        assert await reader.statements_of_reading(wine) == []
    assert await reader.page() == first_page
    assert (await reader.product(wine)).json() == first_product
    assert (await reader.product(FAR_ID)).status_code == 404
    reader.statements.clear()
    assert (await reader.product(FAR_ID)).status_code == 404
    assert reader.statements == []


SQL_CHANGES = {
    "insert": "INSERT INTO products (id, name, price) VALUES ({far}, 'NEW', 1.50)",
    "update": "UPDATE products SET name = 'RENAMED' WHERE name = 'WINE GLASS'",
    "delete": "DELETE FROM products WHERE name = 'WINE GLASS'",
    "truncate": "TRUNCATE products",
}
PAGE_AFTER = {
    "insert": ["WINE GLASS", "TEA CUP", "NEW"],
    "update": ["RENAMED", "TEA CUP"],
    "delete": ["TEA CUP"],
    "truncate": [],
}


@pytest.mark.parametrize("change", list(SQL_CHANGES))
async def test_a_change_made_with_sql_is_served_on_the_next_request(reader, database, change):
    wine, _ = await insert(database, "WINE GLASS", "TEA CUP")
    page, product = await reader.warm(wine)
    assert [p["name"] for p in page["items"]] == ["WINE GLASS", "TEA CUP"]
    assert product["name"] == "WINE GLASS"
    assert (await reader.product(FAR_ID)).status_code == 404
    assert await reader.statements_of_reading(wine) == []  # all in memory now

    await database.execute(SQL_CHANGES[change].format(far=FAR_ID))

    assert await reader.names() == PAGE_AFTER[change]
    wine_now = await reader.product(wine)
    far_now = await reader.product(FAR_ID)
    if change in ("delete", "truncate"):
        assert wine_now.status_code == 404
    else:
        assert wine_now.json()["name"] == ("RENAMED" if change == "update" else "WINE GLASS")
    assert far_now.status_code == (200 if change == "insert" else 404)


async def test_a_change_in_an_operators_transaction_is_served_once_it_commits(reader, database):
    (wine,) = await insert(database, "WINE GLASS")
    _, product = await reader.warm(wine)
    assert product["price"] == "2.50"
    async with database.acquire() as conn, conn.transaction():
        await conn.execute("UPDATE products SET price = 3.10 WHERE id = $1", wine)
        assert (await reader.product(wine)).json()["price"] == "2.50"  # not committed yet
    assert (await reader.product(wine)).json()["price"] == "3.10"
    assert (await reader.page())["items"][0]["price"] == "3.10"


async def test_a_change_through_one_worker_is_served_by_the_other_on_the_next_request(
    client, services, second_app: RunningApp
):
    await make_user(services, "root", is_admin=True)
    admin = await login(client, "root")
    created = await client.post(
        "/products", json={"name": "WINE GLASS", "price": "9.75"}, headers=admin.headers
    )
    product_id = created.json()["id"]
    async with second_app.client() as other:
        for _ in range(2):
            assert (await other.get("/products", headers=admin.headers)).json()["total"] == 1
            assert (await other.get(f"/products/{product_id}", headers=admin.headers)).is_success

        await client.post("/products", json={"name": "B", "price": "1"}, headers=admin.headers)
        assert (await other.get("/products", headers=admin.headers)).json()["total"] == 2
        await client.patch(f"/products/{product_id}", json={"price": 1}, headers=admin.headers)
        changed = await other.get(f"/products/{product_id}", headers=admin.headers)
        assert changed.json()["price"] == "1.00"
        await client.delete(f"/products/{product_id}", headers=admin.headers)
        gone = await other.get(f"/products/{product_id}", headers=admin.headers)
        assert gone.status_code == 404


async def test_a_worker_serves_its_own_write_on_its_next_read(client, services):
    await make_user(services, "root", is_admin=True)
    admin = await login(client, "root")
    for _ in range(2):
        assert (await client.get("/products", headers=admin.headers)).json()["total"] == 0
    created = await client.post(
        "/products", json={"name": "WINE GLASS", "price": "9.75"}, headers=admin.headers
    )
    listed = await client.get("/products", headers=admin.headers)
    assert [p["id"] for p in listed.json()["items"]] == [created.json()["id"]]


async def test_with_the_listen_connection_cut_reads_come_from_postgresql_and_stay_current(
    reader_through_proxy: Reader, listen_proxy: TcpProxy, database
):
    reader = reader_through_proxy
    wine = await served_from_memory(reader, database)

    await listen_proxy.stop()
    await database.execute("UPDATE products SET name = 'RENAMED'")
    for _ in range(2):
        assert len(await reader.statements_of_reading(wine)) == 2  # both from PostgreSQL
        assert await reader.names() == ["RENAMED"]
        assert (await reader.product(wine)).json()["name"] == "RENAMED"

    await listen_proxy.start()
    await wait_until_listening(reader.app)
    await reader.warm(wine)
    assert await reader.statements_of_reading(wine) == []
    await database.execute("UPDATE products SET name = 'RENAMED AGAIN'")
    assert await reader.names() == ["RENAMED AGAIN"]


async def test_a_change_made_while_the_listen_connection_was_cut_is_served_once_it_is_back(
    reader_through_proxy: Reader, listen_proxy: TcpProxy, database
):
    reader = reader_through_proxy
    wine = await served_from_memory(reader, database)

    await listen_proxy.stop()
    await database.execute("UPDATE products SET name = 'RENAMED'")  # its NOTIFY reaches nobody
    await listen_proxy.start()
    await wait_until_listening(reader.app)

    assert await reader.names() == ["RENAMED"]
    assert (await reader.product(wine)).json()["name"] == "RENAMED"


async def test_a_read_waits_for_a_notification_slow_to_arrive(
    reader_through_proxy: Reader, listen_proxy: TcpProxy, database
):
    reader = reader_through_proxy
    wine = await served_from_memory(reader, database)

    listen_proxy.pause()  # the NOTIFY below is on its way, held in the proxy
    await database.execute("UPDATE products SET name = 'RENAMED'")
    asked = listen_proxy.bytes_to_target
    reading = asyncio.create_task(reader.product(wine))

    async def asking_postgresql() -> bool:
        return listen_proxy.bytes_to_target > asked

    await eventually(asking_postgresql, timeout_seconds=5, what="the read asking PostgreSQL")
    listen_proxy.resume()
    assert (await reading).json()["name"] == "RENAMED"


async def test_with_the_listen_connection_hanging_a_read_is_current_and_answered_in_time(
    reader_through_proxy: Reader, listen_proxy: TcpProxy, database
):
    reader = reader_through_proxy
    wine = await served_from_memory(reader, database)

    listen_proxy.pause()  # the NOTIFY below waits in the proxy, as on a hung network
    await database.execute("UPDATE products SET name = 'RENAMED'")
    started = time.monotonic()
    assert (await reader.product(wine)).json()["name"] == "RENAMED"
    assert time.monotonic() - started < ANSWERED_WITHIN_SECONDS
    assert await reader.names() == ["RENAMED"]


async def test_a_page_read_before_an_sql_change_is_not_kept_after_it(lab: FaultLab, database):
    """The read's rows come from before the UPDATE, its answer after the UPDATE's
    notification: that answer is the read's own, and is not kept for the next request."""
    pool_proxy = await lab.pg_proxy()
    app = await lab.app_behind(pool_proxy, database_listen_url=TEST_DATABASE_URL)
    await wait_until_listening(app)
    tokens = await signed_in(app)
    await insert(database, "WINE GLASS")
    async with app.client() as client:
        warm = await client.get("/products?limit=7", headers=tokens.headers)  # prepares the page
        assert warm.status_code == 200

        sent_from_postgresql = pool_proxy.bytes_to_client
        pool_proxy.before_forwarding(
            b"__asyncpg_stmt_", lambda: asyncio.get_running_loop().call_soon(pool_proxy.pause)
        )
        reading = asyncio.create_task(client.get("/products?limit=5", headers=tokens.headers))

        async def rows_read() -> bool:  # PostgreSQL answered; the proxy holds the answer
            return pool_proxy.bytes_to_client > sent_from_postgresql

        await eventually(rows_read, timeout_seconds=5, what="the page's rows read")
        await database.execute("UPDATE products SET name = 'RENAMED'")
        assert await app.services.notifications.caught_up()
        pool_proxy.resume()
        assert [p["name"] for p in (await reading).json()["items"]] == ["WINE GLASS"]

        again = await client.get("/products?limit=5", headers=tokens.headers)
        assert [p["name"] for p in again.json()["items"]] == ["RENAMED"]


async def test_many_different_pages_keep_the_cache_within_its_bounds(services, database):
    await database.execute(
        "INSERT INTO products (name, price) SELECT repeat('x', 200), 1 FROM generate_series(1, 200)"
    )
    cache = services.products
    assert await services.notifications.caught_up()  # the INSERT's notification is in
    for offset in range(MAX_ENTRIES + 100):
        await cache.page_json(limit=1, offset=offset)
        assert len(cache) <= MAX_ENTRIES
    assert len(cache) == MAX_ENTRIES

    read = 0
    for offset in range(200):
        read += len(await cache.page_json(limit=200, offset=offset))
        assert cache.size_bytes <= MAX_BYTES
    assert read > MAX_BYTES  # the pages read would not all have fit
