"""Builders for test data: users, products and orders with sensible defaults."""

from domain.bootstrap import Container
from domain.models import Product, User
from domain.schemas import OrderCreate, ProductCreate, UserCreate

APPROVED_CARD = "4242424242424242"
DECLINED_CARD = "4000000000000002"
NO_FUNDS_CARD = "4000000000009995"
ALWAYS_FAILING_CARD = "4000000000000119"

_counter = iter(range(1, 1_000_000))


def card(number: str = APPROVED_CARD) -> dict:
    return {"method": "card", "card_number": number, "exp_month": 12, "exp_year": 2099, "cvc": "123"}


def paypal(email: str = "payer@example.com") -> dict:
    return {"method": "paypal", "payer_email": email}


def user_fields(**overrides) -> dict:
    number = next(_counter)
    fields = {"name": f"Customer {number}", "email": f"customer{number}@example.com", "password": "correct horse battery"}
    return fields | overrides


def product_fields(**overrides) -> dict:
    number = next(_counter)
    fields = {"sku": f"SKU-{number}", "name": f"Product {number}", "price": "2.55", "currency": "GBP", "stock": 10}
    return fields | overrides


def add_user(container: Container, active: bool = True, **overrides) -> User:
    user = container.users.register(UserCreate(**user_fields(**overrides)))
    if not active:
        container.users.set_active(user.id, False)
    return user


def add_product(container: Container, **overrides) -> Product:
    return container.catalog.add(ProductCreate(**product_fields(**overrides)))


def order_request(user: User, product: Product, quantity: int = 1, payment: dict | None = None) -> OrderCreate:
    return OrderCreate(
        user_id=user.id,
        items=[{"sku": product.sku, "quantity": quantity}],
        payment=payment or card(),
    )
