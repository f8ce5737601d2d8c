"""The product catalog."""

from collections.abc import Callable, Sequence

from sqlalchemy.exc import IntegrityError

from domain.errors import Conflict, NotFound
from domain.models import Product
from domain.schemas import ProductCreate
from domain.service import Service
from domain.unit_of_work import UnitOfWork


class CatalogService(Service):
    def __init__(self, uow_factory: Callable[[], UnitOfWork], **kwargs) -> None:
        super().__init__(**kwargs)
        self.uow_factory = uow_factory

    def add(self, request: ProductCreate) -> Product:
        product = Product(
            sku=request.sku,
            name=request.name,
            price_minor=request.price_minor,
            currency=request.currency,
            stock=request.stock,
            created_at=self.clock(),
        )

        with self.uow_factory() as uow:
            if uow.products.get_by_sku(request.sku) is not None:
                raise Conflict("sku", f"a product with SKU {request.sku!r} already exists")
            uow.products.add(product)
            try:
                uow.commit()
            except IntegrityError:
                raise Conflict("sku", f"a product with SKU {request.sku!r} already exists") from None

        self.log.info("Added product", extra={"product_id": product.id, "sku": product.sku})
        return product

    def get(self, product_id: str) -> Product:
        with self.uow_factory(read_only=True) as uow:
            product = uow.products.get(product_id)
            if product is None:
                raise NotFound("product", product_id)
            return product

    def list(self, offset: int, limit: int, sku: str | None = None) -> Sequence[Product]:
        with self.uow_factory(read_only=True) as uow:
            return uow.products.list(offset, limit, sku)
