"""Builders for test data: users, products and orders with sensible defaults."""

from domain.bootstrap import Container
from domain.models import Product, User
from domain.schemas import OrderCreate, ProductCreate, UserCreate
from domain.settings import DEV_OPERATOR_API_KEY

# The development operator key, which the app accepts unless OPERATOR_API_KEY_SHA256 is set.
OPERATOR = {"X-API-Key": DEV_OPERATOR_API_KEY}

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


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def log_in(client, email: str, password: str) -> dict:
    """Log in over HTTP (httpx or TestClient) and return the Authorization header to send."""
    response = client.post("/auth/token", data={"username": email, "password": password})
    assert response.status_code == 200, response.text
    return bearer(response.json()["access_token"])


def register(client, **overrides) -> tuple[dict, dict]:
    """Register a user over HTTP, log in, and return the user and its Authorization header."""
    fields = user_fields(**overrides)
    response = client.post("/users", json=fields)
    assert response.status_code == 201, response.text
    return response.json(), log_in(client, fields["email"], fields["password"])


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
