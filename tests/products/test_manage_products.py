"""Products: anyone signed in reads them, admins write them; prices are exact decimals."""

from decimal import Decimal

import pytest

from tests.factories import basic, login, make_user

# Every test here also checks that no response it saw contained a password hash.
pytestmark = pytest.mark.usefixtures("responses")

PASSWORD = "correct horse battery staple"
PRODUCT_FIELDS = {"id", "name", "price", "created_at", "updated_at"}


@pytest.fixture
async def admin(client, services):
    await make_user(services, "root", is_admin=True)
    return await login(client, "root")


@pytest.fixture
async def user(client, services):
    await make_user(services)
    return await login(client)


async def create(client, admin, name="WINE GLASS", price="9.75"):
    response = await client.post(
        "/products", json={"name": name, "price": price}, headers=admin.headers
    )
    assert response.status_code == 201, response.text
    return response.json()


async def test_an_admin_creates_a_product_with_its_price_as_a_two_decimal_string(
    client, admin, database
):
    response = await client.post(
        "/products",
        json={"name": "1L FOUNTAIN DRINKING WATER", "price": "2.55"},
        headers=admin.headers,
    )
    assert response.status_code == 201
    body = response.json()
    assert set(body) == PRODUCT_FIELDS
    assert body["name"] == "1L FOUNTAIN DRINKING WATER"
    assert body["price"] == "2.55"
    stored = await database.fetchval("SELECT price FROM products WHERE id = $1", body["id"])
    assert stored == Decimal("2.55")


@pytest.mark.parametrize(
    ("sent", "shown"),
    [
        (3, "3.00"),
        ("3", "3.00"),
        (2.55, "2.55"),
        (2.5, "2.50"),
        ("0", "0.00"),
        ("99999999.99", "99999999.99"),
        (0.1, "0.10"),
        ("4.85", "4.85"),
    ],
)
async def test_a_price_sent_as_a_number_or_string_comes_back_as_two_decimals(
    client, admin, sent, shown
):
    assert (await create(client, admin, price=sent))["price"] == shown


@pytest.mark.parametrize(
    "price",
    [
        2.555,
        "2.555",
        "2.551",
        "NaN",
        "nan",
        "Infinity",
        "-Infinity",
        "inf",
        True,
        False,
        -1,
        "-0.01",
        100_000_000,
        "100000000",
        "1e10",
        "",
        "abc",
        None,
        [],
        {},
        "1" * 40,
    ],
    ids=lambda p: repr(p),
)
async def test_an_inexact_or_non_numeric_price_is_422_and_nothing_is_stored(
    client, admin, database, price
):
    response = await client.post(
        "/products", json={"name": "WINE GLASS", "price": price}, headers=admin.headers
    )
    assert response.status_code == 422
    assert await database.fetchval("SELECT count(*) FROM products") == 0


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
async def test_a_json_nan_or_infinity_literal_price_is_422(client, admin, literal):
    response = await client.post(
        "/products",
        content=f'{{"name": "WINE GLASS", "price": {literal}}}',
        headers={**admin.headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 422


@pytest.mark.parametrize("name", ["", "x" * 201, None, 5])
async def test_a_missing_empty_or_too_long_name_is_422(client, admin, name):
    response = await client.post(
        "/products", json={"name": name, "price": "1.00"}, headers=admin.headers
    )
    assert response.status_code == 422


async def test_a_name_of_200_characters_is_accepted(client, admin):
    assert (await create(client, admin, name="x" * 200))["name"] == "x" * 200


async def test_a_signed_in_user_lists_products_a_page_at_a_time(client, admin, user):
    for name in ("A", "B", "C"):
        await create(client, admin, name=name)
    response = await client.get("/products", params={"limit": 2, "offset": 1}, headers=user.headers)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"items", "total", "limit", "offset"}
    assert (body["total"], body["limit"], body["offset"]) == (3, 2, 1)
    assert [p["name"] for p in body["items"]] == ["B", "C"]
    assert all(set(p) == PRODUCT_FIELDS for p in body["items"])


async def test_the_product_list_defaults_to_50_from_the_start(client, user):
    body = (await client.get("/products", headers=user.headers)).json()
    assert body == {"items": [], "total": 0, "limit": 50, "offset": 0}


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 201}, {"offset": -1}, {"limit": "x"}])
async def test_a_product_page_outside_the_limits_is_422(client, user, params):
    assert (await client.get("/products", params=params, headers=user.headers)).status_code == 422


async def test_a_limit_of_200_is_accepted(client, user):
    response = await client.get("/products", params={"limit": 200}, headers=user.headers)
    assert response.status_code == 200
    assert response.json()["limit"] == 200


async def test_a_signed_in_user_reads_one_product(client, admin, user):
    created = await create(client, admin)
    response = await client.get(f"/products/{created['id']}", headers=user.headers)
    assert response.status_code == 200
    assert response.json() == created


async def test_reading_a_missing_product_is_404(client, user):
    response = await client.get("/products/999999", headers=user.headers)
    assert response.status_code == 404
    assert isinstance(response.json()["detail"], str)


@pytest.mark.parametrize("product_id", ["abc", "1.5", "0", "99999999999999999999999"])
async def test_a_product_id_that_is_not_a_positive_integer_is_a_client_error(
    client, user, product_id
):
    response = await client.get(f"/products/{product_id}", headers=user.headers)
    assert response.status_code in (404, 422)
    if not product_id.lstrip("-").isdigit():
        assert response.status_code == 422


async def test_reading_products_needs_credentials(client):
    assert (await client.get("/products")).status_code == 401
    assert (await client.get("/products/1")).status_code == 401


async def test_reading_products_with_http_basic_works(client, services, admin):
    await make_user(services)
    await create(client, admin)
    response = await client.get("/products", headers=basic("alice", PASSWORD))
    assert response.status_code == 200
    assert [p["name"] for p in response.json()["items"]] == ["WINE GLASS"]


async def test_an_admin_changes_a_products_name_and_price(client, admin):
    created = await create(client, admin)
    response = await client.patch(
        f"/products/{created['id']}", json={"price": 10}, headers=admin.headers
    )
    assert response.status_code == 200
    assert response.json()["price"] == "10.00"
    assert response.json()["name"] == "WINE GLASS"
    renamed = await client.patch(
        f"/products/{created['id']}", json={"name": "RED WINE GLASS"}, headers=admin.headers
    )
    assert renamed.json()["name"] == "RED WINE GLASS"
    assert renamed.json()["price"] == "10.00"
    again = await client.get(f"/products/{created['id']}", headers=admin.headers)
    assert (again.json()["name"], again.json()["price"]) == ("RED WINE GLASS", "10.00")


@pytest.mark.parametrize("price", [2.555, "NaN", "Infinity", True, -1])
async def test_changing_a_price_to_an_inexact_or_non_numeric_value_is_422(client, admin, price):
    created = await create(client, admin)
    response = await client.patch(
        f"/products/{created['id']}", json={"price": price}, headers=admin.headers
    )
    assert response.status_code == 422
    unchanged = await client.get(f"/products/{created['id']}", headers=admin.headers)
    assert unchanged.json()["price"] == "9.75"


async def test_changing_a_missing_product_is_404(client, admin):
    response = await client.patch("/products/999999", json={"price": 1}, headers=admin.headers)
    assert response.status_code == 404


async def test_an_admin_deletes_a_product(client, admin):
    created = await create(client, admin)
    response = await client.delete(f"/products/{created['id']}", headers=admin.headers)
    assert response.status_code == 204
    assert response.content == b""
    listed = await client.get("/products", headers=admin.headers)
    assert listed.json()["total"] == 0


async def test_deleting_a_missing_product_is_404(client, admin):
    created = await create(client, admin)
    await client.delete(f"/products/{created['id']}", headers=admin.headers)
    again = await client.delete(f"/products/{created['id']}", headers=admin.headers)
    assert again.status_code == 404


async def test_a_user_cannot_create_change_or_delete_products(client, admin, user, database):
    created = await create(client, admin)
    attempts = [
        await client.post("/products", json={"name": "X", "price": "1.00"}, headers=user.headers),
        await client.patch(f"/products/{created['id']}", json={"price": 0}, headers=user.headers),
        await client.delete(f"/products/{created['id']}", headers=user.headers),
    ]
    for response in attempts:
        assert response.status_code == 403
        assert response.headers["www-authenticate"] == (
            'Bearer error="insufficient_scope", scope="products:write"'
        )
    row = await database.fetchrow("SELECT name, price FROM products")
    assert (row["name"], row["price"]) == ("WINE GLASS", Decimal("9.75"))
    assert await database.fetchval("SELECT count(*) FROM products") == 1


async def test_a_user_cannot_write_products_over_http_basic_either(client, services):
    await make_user(services)
    response = await client.post(
        "/products", json={"name": "X", "price": "1.00"}, headers=basic("alice", PASSWORD)
    )
    assert response.status_code == 403


async def test_an_admin_writes_products_over_http_basic(client, services):
    await make_user(services, "root", is_admin=True)
    response = await client.post(
        "/products", json={"name": "X", "price": "1.00"}, headers=basic("root", PASSWORD)
    )
    assert response.status_code == 201


async def test_an_admin_token_narrowed_to_products_read_cannot_write(client, services):
    await make_user(services, "root", is_admin=True)
    tokens = await login(client, "root", scope="products:read")
    response = await client.post(
        "/products", json={"name": "X", "price": "1.00"}, headers=tokens.headers
    )
    assert response.status_code == 403
    assert (await client.get("/products", headers=tokens.headers)).status_code == 200


async def test_writing_products_needs_credentials(client):
    response = await client.post("/products", json={"name": "X", "price": "1.00"})
    assert response.status_code == 401
