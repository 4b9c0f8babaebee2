"""Products at the HTTP edge. Prices travel as strings with two decimals ("2.55")."""

import math
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Final

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    PlainSerializer,
    StringConstraints,
    WithJsonSchema,
)

from app.core.text import PlainText
from app.products.repository import Product

CENT: Final = Decimal("0.01")
MAX_PRICE_EXCLUSIVE: Final = Decimal(10) ** 8
MAX_PRICE_TEXT_CHARS: Final = 32


def _parse_price(value: object) -> Decimal:
    """Accepts "3", "2.55", 3 and 2.55; refuses booleans, NaN, infinities and a third decimal
    (never rounds: a price someone typed is the price)."""
    if isinstance(value, bool):
        raise ValueError("price must be a number or a decimal string")  # noqa: TRY004 (pydantic wants ValueError)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("price must be finite")
        value = repr(value)
    if isinstance(value, int | Decimal):
        value = str(value)
    if not isinstance(value, str) or len(value) > MAX_PRICE_TEXT_CHARS:
        raise ValueError("price must be a number or a decimal string")
    try:
        price = Decimal(value.strip())
    except InvalidOperation as exc:
        raise ValueError("price must be a decimal number") from exc
    if not price.is_finite():
        raise ValueError("price must be finite")
    if not Decimal(0) <= price < MAX_PRICE_EXCLUSIVE:
        raise ValueError("price must be at least 0 and below 100000000")
    if price != price.quantize(CENT, rounding="ROUND_DOWN"):
        raise ValueError("price has at most two decimals")
    return price.quantize(CENT)


Price = Annotated[
    Decimal,
    BeforeValidator(_parse_price),
    WithJsonSchema(
        {
            "anyOf": [{"type": "string", "pattern": r"^\d{1,8}(\.\d{1,2})?$"}, {"type": "number"}],
            "examples": ["2.55"],
        },
        mode="validation",
    ),
    PlainSerializer(lambda price: f"{price:.2f}", return_type=str),
    WithJsonSchema({"type": "string", "examples": ["2.55"]}, mode="serialization"),
]
Name = Annotated[PlainText, StringConstraints(min_length=1, max_length=200)]


class ProductCreate(BaseModel):
    name: Name
    price: Price


class ProductUpdate(BaseModel):
    name: Name | None = None
    price: Price | None = None


class ProductOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    price: Price
    created_at: datetime
    updated_at: datetime


class ProductPage(BaseModel):
    items: list[ProductOut]
    total: int
    limit: int
    offset: int


class ProductJson:
    """The bodies of GET /products and GET /products/{id}, as FastAPI serialises these
    models, made once for the product cache (app/products/cache.py) to keep."""

    def page(self, products: list[Product], *, total: int, limit: int, offset: int) -> bytes:
        # Validated once, items included.
        page = {"items": products, "total": total, "limit": limit, "offset": offset}
        return ProductPage.model_validate(page, from_attributes=True).model_dump_json().encode()

    def product(self, product: Product) -> bytes:
        return ProductOut.model_validate(product).model_dump_json().encode()
