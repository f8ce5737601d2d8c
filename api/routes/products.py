from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from api.deps import ContainerDep
from api.responses import errors
from api.security import OperatorCaller
from domain.models import Product
from domain.money import format_amount
from domain.schemas import ProductCreate, ProductPublic

router = APIRouter(tags=["catalog"])


@router.post(
    "/products",
    status_code=status.HTTP_201_CREATED,
    response_model=ProductPublic,
    responses=errors(401, 409, 413, 422),
)
def create_product(
    body: ProductCreate, _caller: OperatorCaller, request: Request, response: Response, container: ContainerDep
) -> ProductPublic:
    """Add a product to the catalog (operators only)."""
    product = container.catalog.add(body)
    response.headers["Location"] = str(request.url_for("read_product", product_id=product.id))
    return public_product(product)


@router.get("/products", response_model=list[ProductPublic], responses=errors(413, 422))
def list_products(
    container: ContainerDep,
    sku: Annotated[str | None, Query(max_length=64)] = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[ProductPublic]:
    """List products by SKU, optionally only the one with `sku`."""
    return [public_product(product) for product in container.catalog.list(offset, limit, sku)]


@router.get("/products/{product_id}", response_model=ProductPublic, responses=errors(404, 413, 422))
def read_product(product_id: str, container: ContainerDep) -> ProductPublic:
    """Read a product with its stock on hand."""
    return public_product(container.catalog.get(product_id))


def public_product(product: Product) -> ProductPublic:
    return ProductPublic(
        id=product.id,
        sku=product.sku,
        name=product.name,
        price=format_amount(product.price_minor, product.currency),
        currency=product.currency,
        stock=product.stock,
    )
