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
    items, total = await products.page(limit=limit, offset=offset)
    return ProductPage(
        items=[ProductOut.model_validate(p) for p in items], total=total, limit=limit, offset=offset
    )


@router.get("/{product_id}", responses={404: {}})
async def read_product(product_id: ProductId, _: ReadProducts, products: Products) -> ProductOut:
    product = await products.get(product_id)
    if product is None:
        raise NotFound
    return ProductOut.model_validate(product)


@router.post("", status_code=201)
async def create_product(body: ProductCreate, _: WriteProducts, products: Products) -> ProductOut:
    return ProductOut.model_validate(await products.create(name=body.name, price=body.price))


@router.patch("/{product_id}", responses={404: {}})
async def update_product(
    product_id: ProductId, body: ProductUpdate, _: WriteProducts, products: Products
) -> ProductOut:
    product = await products.update(product_id, body.model_dump(exclude_none=True))
    if product is None:
        raise NotFound
    return ProductOut.model_validate(product)


@router.delete("/{product_id}", status_code=204, responses={404: {}})
async def delete_product(product_id: ProductId, _: WriteProducts, products: Products) -> None:
    if not await products.delete(product_id):
        raise NotFound
