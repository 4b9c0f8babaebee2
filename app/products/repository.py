"""Products in PostgreSQL."""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import asyncpg

from app.core.db import Database
from app.core.paging import page_statement

PRODUCT_COLUMNS = "id, name, price, created_at, updated_at"
PAGE = page_statement(table="products", columns=PRODUCT_COLUMNS)


@dataclass(frozen=True, slots=True)
class Product:
    id: int
    name: str
    price: Decimal
    created_at: datetime
    updated_at: datetime


def _product(row: asyncpg.Record) -> Product:
    return Product(row["id"], row["name"], row["price"], row["created_at"], row["updated_at"])


class ProductRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def page(self, *, limit: int, offset: int) -> tuple[list[Product], int]:
        """One statement, so one snapshot: the rows and a total that agree."""
        async with self._db.connection() as conn:
            rows = await conn.fetch(PAGE, limit, offset)
        return [_product(r) for r in rows if r["id"] is not None], rows[0]["total"]

    async def get(self, product_id: int) -> Product | None:
        async with self._db.connection() as conn:
            row = await conn.fetchrow(
                f"SELECT {PRODUCT_COLUMNS} FROM products WHERE id = $1", product_id
            )
        return _product(row) if row else None

    async def create(self, *, name: str, price: Decimal) -> Product:
        async with self._db.connection() as conn:
            (row,) = await conn.fetch(
                f"INSERT INTO products (name, price) VALUES ($1, $2) RETURNING {PRODUCT_COLUMNS}",
                name,
                price,
            )
        return _product(row)

    async def update(self, product_id: int, changes: dict[str, object]) -> Product | None:
        async with self._db.connection() as conn:
            row = await conn.fetchrow(
                "UPDATE products SET name = coalesce($2, name), price = coalesce($3, price),"
                f" updated_at = now() WHERE id = $1 RETURNING {PRODUCT_COLUMNS}",
                product_id,
                changes.get("name"),
                changes.get("price"),
            )
        return _product(row) if row else None

    async def delete(self, product_id: int) -> bool:
        async with self._db.connection() as conn:
            status = await conn.execute("DELETE FROM products WHERE id = $1", product_id)
        return status == "DELETE 1"

    async def ensure_demo(self, products: list[tuple[str, Decimal]]) -> int:
        """Inserts each demo product whose name is not there yet; returns how many it added."""
        added = 0
        async with self._db.transaction() as conn:
            for name, price in products:
                status = await conn.execute(
                    "INSERT INTO products (name, price) SELECT $1, $2"
                    " WHERE NOT EXISTS (SELECT 1 FROM products WHERE name = $1)",
                    name,
                    price,
                )
                added += status == "INSERT 0 1"
        return added
