"""Users, products and order requests for a benchmark stack, created through the HTTP API."""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

log = logging.getLogger(__name__)

USER_COUNT = 8
PRODUCT_COUNT = 4
REQUEST_COUNT = 64
PASSWORD = "bench-password"
# The largest stock the API accepts, so that no benchmark order runs out of stock.
STOCK = 1_000_000_000
# Stripe's approved Visa test number; the sandbox approves it on every charge.
TEST_CARD = "4242424242424242"


@dataclass(frozen=True)
class BenchUser:
    id: str
    access_token: str


@dataclass(frozen=True)
class Seed:
    users: list[BenchUser]
    skus: list[str]
    # POST /orders requests as {"headers": {...}, "body": {...}}, spread over users and products.
    order_requests: list[dict]


def seed_stack(api_url: str, operator_key: str, notify_via: str, timeout_s: float = 30.0) -> Seed:
    """Create USER_COUNT users notified by `notify_via`, log them in, and add PRODUCT_COUNT products."""
    with httpx.Client(base_url=api_url, timeout=timeout_s) as http:
        users = [_create_user(http, index, notify_via) for index in range(USER_COUNT)]
        skus = [_create_product(http, index, operator_key) for index in range(PRODUCT_COUNT)]
    log.info("Seeded %s users and %s products at %s", len(users), len(skus), api_url)
    return Seed(users=users, skus=skus, order_requests=order_requests(users, skus))


def order_requests(users: list[BenchUser], skus: list[str]) -> list[dict]:
    """Return REQUEST_COUNT card orders of two lines each, each sent with its user's token."""
    expiry_year = datetime.now(UTC).year + 3
    requests = []
    for index in range(REQUEST_COUNT):
        user = users[index % len(users)]
        body = {
            "user_id": user.id,
            "items": [
                {"sku": skus[index % len(skus)], "quantity": 1},
                {"sku": skus[(index + 1) % len(skus)], "quantity": 2},
            ],
            "payment": {"method": "card", "card_number": TEST_CARD, "exp_month": 12, "exp_year": expiry_year, "cvc": "123"},
        }
        requests.append({"headers": {"Authorization": f"Bearer {user.access_token}"}, "body": body})
    return requests


def _create_user(http: httpx.Client, index: int, notify_via: str) -> BenchUser:
    email = f"bench-{index}@bench.example"
    body = {"name": f"Bench Customer {index}", "email": email, "password": PASSWORD, "phone": f"+4477009{index:05d}", "notify_via": notify_via}
    user_id = _json(http.post("/users", json=body), 201)["id"]
    token = _json(http.post("/auth/token", data={"username": email, "password": PASSWORD}), 200)["access_token"]
    return BenchUser(id=user_id, access_token=token)


def _create_product(http: httpx.Client, index: int, operator_key: str) -> str:
    body = {"sku": f"BENCH-{index}", "name": f"Bench product {index}", "currency": "GBP", "price": "3.39", "stock": STOCK}
    return _json(http.post("/products", json=body, headers={"X-API-Key": operator_key}), 201)["sku"]


def _json(response: httpx.Response, expected_status: int) -> dict:
    if response.status_code != expected_status:
        raise RuntimeError(f"{response.request.method} {response.request.url} returned {response.status_code}, expected {expected_status}: {response.text[:500]}")
    return response.json()
