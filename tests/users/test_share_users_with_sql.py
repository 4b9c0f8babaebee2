"""Operators write users and products with SQL; the service and SQL read each other's hashes."""

from decimal import Decimal

import pytest

from tests.factories import basic, login

# Every test here also checks that no response it saw contained a password hash.
pytestmark = pytest.mark.usefixtures("responses")

INSERT_JOHN = (
    "INSERT INTO users (username, password_hash)"
    " VALUES ('john_doe', crypt('EXAMPLE_PASSWORD', gen_salt('bf')))"
)


def bcrypt_cost(password_hash: str) -> int:
    return int(password_hash.split("$")[2])


async def stored_hash(database, username: str) -> str:
    return await database.fetchval(
        "SELECT password_hash FROM users WHERE lower(username) = lower($1)", username
    )


async def test_a_user_inserted_with_sql_logs_in_with_the_default_scopes(client, database):
    await database.execute(INSERT_JOHN)
    assert (await stored_hash(database, "john_doe")).startswith("$2a$06$")
    tokens = await login(client, "john_doe", "EXAMPLE_PASSWORD")
    assert tokens.scope == "me products:read"
    me = await client.get("/users/me", headers=tokens.headers)
    assert me.status_code == 200
    body = me.json()
    assert (body["username"], body["is_active"], body["is_admin"]) == ("john_doe", True, False)


async def test_a_user_inserted_with_sql_uses_http_basic(client, database):
    await database.execute(INSERT_JOHN)
    response = await client.get("/products", headers=basic("john_doe", "EXAMPLE_PASSWORD"))
    assert response.status_code == 200


async def test_a_user_inserted_with_sql_is_refused_with_a_wrong_password(client, database):
    await database.execute(INSERT_JOHN)
    response = await client.post(
        "/token",
        data={"grant_type": "password", "username": "john_doe", "password": "example_password"},
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


async def test_a_hash_above_the_current_cost_is_not_lowered_at_login(client, database):
    """The test app hashes at cost 4; a cost-6 hash from SQL must not be weakened."""
    await database.execute(INSERT_JOHN)
    await login(client, "john_doe", "EXAMPLE_PASSWORD")
    after = await stored_hash(database, "john_doe")
    assert bcrypt_cost(after) >= 6
    assert await database.fetchval(
        "SELECT crypt('EXAMPLE_PASSWORD', password_hash) = password_hash FROM users"
    )


async def test_a_hash_below_the_current_cost_is_rehashed_at_the_next_login(start_client, database):
    cost_7 = await start_client(bcrypt_rounds=7)
    await database.execute(INSERT_JOHN)
    before = await stored_hash(database, "john_doe")
    assert before.startswith("$2a$06$")
    await login(cost_7, "john_doe", "EXAMPLE_PASSWORD")
    after = await stored_hash(database, "john_doe")
    assert after.startswith("$2a$07$"), after[:7]
    assert after != before
    # The new hash still verifies in SQL and at the next login.
    assert await database.fetchval(
        "SELECT crypt('EXAMPLE_PASSWORD', password_hash) = password_hash FROM users"
        " WHERE username = 'john_doe'"
    )
    await login(cost_7, "john_doe", "EXAMPLE_PASSWORD")
    assert (await stored_hash(database, "john_doe")) == after


async def test_a_failed_login_does_not_rehash(start_client, database):
    cost_7 = await start_client(bcrypt_rounds=7)
    await database.execute(INSERT_JOHN)
    before = await stored_hash(database, "john_doe")
    response = await cost_7.post(
        "/token", data={"grant_type": "password", "username": "john_doe", "password": "wrong-pw!"}
    )
    assert response.status_code == 400
    assert await stored_hash(database, "john_doe") == before


async def test_a_user_registered_through_the_api_verifies_in_sql(client, database):
    response = await client.post("/users", json={"username": "alice", "password": "s3cret-pass"})
    assert response.status_code == 201
    password_hash = await stored_hash(database, "alice")
    assert password_hash.startswith("$2a$")
    assert await database.fetchval(
        "SELECT crypt('s3cret-pass', password_hash) = password_hash FROM users"
        " WHERE username = 'alice'"
    )
    assert not await database.fetchval(
        "SELECT crypt('s3cret-pasS', password_hash) = password_hash FROM users"
        " WHERE username = 'alice'"
    )


async def test_a_non_ascii_password_verifies_both_ways(client, database):
    response = await client.post("/users", json={"username": "alice", "password": "pässwörd€"})
    assert response.status_code == 201
    assert await database.fetchval(
        "SELECT crypt($1, password_hash) = password_hash FROM users WHERE username = 'alice'",
        "pässwörd€",
    )
    await database.execute(
        "INSERT INTO users (username, password_hash) VALUES ('bob', crypt($1, gen_salt('bf')))",
        "bößes-wört€",
    )
    await login(client, "bob", "bößes-wört€")


async def test_a_sql_user_whose_name_differs_only_in_case_cannot_register(client, database):
    await database.execute(INSERT_JOHN)
    response = await client.post(
        "/users", json={"username": "John_Doe", "password": "tulip-meadow-42"}
    )
    assert response.status_code == 409


async def test_products_inserted_with_sql_appear_in_the_product_list(client, services, database):
    await database.execute("INSERT INTO products (name, price) VALUES ('WINE GLASS', 9.75)")
    await database.execute("INSERT INTO products (name, price) VALUES ('PINK COTTON BUDS', 4.85)")
    await database.execute(INSERT_JOHN)
    tokens = await login(client, "john_doe", "EXAMPLE_PASSWORD")
    body = (await client.get("/products", headers=tokens.headers)).json()
    assert body["total"] == 2
    assert [(p["name"], p["price"]) for p in body["items"]] == [
        ("WINE GLASS", "9.75"),
        ("PINK COTTON BUDS", "4.85"),
    ]
    first = body["items"][0]
    one = await client.get(f"/products/{first['id']}", headers=tokens.headers)
    assert one.json()["price"] == "9.75"


async def test_a_product_created_through_the_api_is_an_exact_numeric_in_sql(
    client, services, database
):
    await database.execute(INSERT_JOHN)
    await database.execute("UPDATE users SET is_admin = true WHERE username = 'john_doe'")
    tokens = await login(client, "john_doe", "EXAMPLE_PASSWORD")
    response = await client.post(
        "/products", json={"name": "WINE GLASS", "price": 9.75}, headers=tokens.headers
    )
    assert response.status_code == 201
    assert await database.fetchval("SELECT price FROM products") == Decimal("9.75")
