"""/products, behind the products:read and products:write scopes."""

from typing import Annotated

from fastapi import APIRouter, Path, Query

from app.api.deps import Products, ReadProducts, WriteProducts
from app.api.schemas.products import ProductCreate, ProductOut, ProductPage, ProductUpdate
from app.core.errors import NotFound

router = APIRouter(prefix="/products", tags=["products"])

ProductId = Annotated[int, Path(ge=1, le=2**63 - 1)]


@router.get("")
async def list_products(
    _: ReadProducts,
    products: Products,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=2**31)] = 0,
) -> ProductPage:
    """Products in the order they were added, `limit` at a time from `offset`; `total` counts
    them all."""
    items, total = await products.page(limit=limit, offset=offset)
    # Validated once, items included; FastAPI passes a returned instance of the response
    # model through without validating it again, and serialises it once.
    page = {"items": items, "total": total, "limit": limit, "offset": offset}
    return ProductPage.model_validate(page, from_attributes=True)


@router.get("/{product_id}", responses={404: {}})
async def read_product(product_id: ProductId, _: ReadProducts, products: Products) -> ProductOut:
    """One product."""
    product = await products.get(product_id)
    if product is None:
        raise NotFound
    return ProductOut.model_validate(product)


@router.post("", status_code=201)
async def create_product(body: ProductCreate, _: WriteProducts, products: Products) -> ProductOut:
    """Adds a product (admins only)."""
    return ProductOut.model_validate(await products.create(name=body.name, price=body.price))


@router.patch("/{product_id}", responses={404: {}})
async def update_product(
    product_id: ProductId, body: ProductUpdate, _: WriteProducts, products: Products
) -> ProductOut:
    """Changes a product's name or price (admins only); a field left out stays as it is."""
    product = await products.update(product_id, body.model_dump(exclude_none=True))
    if product is None:
        raise NotFound
    return ProductOut.model_validate(product)


@router.delete("/{product_id}", status_code=204, responses={404: {}})
async def delete_product(product_id: ProductId, _: WriteProducts, products: Products) -> None:
    """Removes a product (admins only)."""
    if not await products.delete(product_id):
        raise NotFound
