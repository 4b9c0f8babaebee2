"""/products, behind the products:read and products:write scopes."""

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from app.api.deps import Products, ReadProducts, WriteProducts
from app.api.presolved_route import PresolvedRoute
from app.api.ready_json import ReadyJSON
from app.api.schemas.products import ProductCreate, ProductOut, ProductPage, ProductUpdate
from app.core.errors import NotFound

router = APIRouter(prefix="/products", tags=["products"], route_class=PresolvedRoute)

ProductId = Annotated[int, Path(ge=1, le=2**63 - 1)]


# The reads answer bodies the product cache keeps ready-made (app/products/cache.py): FastAPI
# documents the response model and sends a returned Response as it is.
@router.get("", response_model=ProductPage)
async def list_products(
    _: ReadProducts,
    products: Products,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=2**31)] = 0,
) -> Response:
    """Products in the order they were added, `limit` at a time from `offset`; `total` counts
    them all."""
    return ReadyJSON(await products.page_json(limit=limit, offset=offset))


@router.get("/{product_id}", response_model=ProductOut, responses={404: {}})
async def read_product(product_id: ProductId, _: ReadProducts, products: Products) -> Response:
    """One product."""
    body = await products.product_json(product_id)
    if body is None:
        raise NotFound
    return ReadyJSON(body)


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
