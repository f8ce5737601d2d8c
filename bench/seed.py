"""Users, products and order bodies for a benchmark stack, created through the HTTP API."""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

log = logging.getLogger(__name__)

USER_COUNT = 8
PRODUCT_COUNT = 4
BODY_COUNT = 64
# The largest stock the API accepts, so that no benchmark order runs out of stock.
STOCK = 1_000_000_000
# Stripe's approved Visa test number; the sandbox approves it on every charge.
TEST_CARD = "4242424242424242"


@dataclass(frozen=True)
class Seed:
    user_ids: list[str]
    skus: list[str]
    order_bodies: list[dict]


def seed_stack(api_url: str, notify_via: str, timeout_s: float = 30.0) -> Seed:
    """Create USER_COUNT users who are notified by `notify_via` and PRODUCT_COUNT products."""
    with httpx.Client(base_url=api_url, timeout=timeout_s) as http:
        user_ids = [_create_user(http, index, notify_via) for index in range(USER_COUNT)]
        skus = [_create_product(http, index) for index in range(PRODUCT_COUNT)]
    log.info("Seeded %s users and %s products at %s", len(user_ids), len(skus), api_url)
    return Seed(user_ids=user_ids, skus=skus, order_bodies=order_bodies(user_ids, skus))


def order_bodies(user_ids: list[str], skus: list[str]) -> list[dict]:
    """Return BODY_COUNT card orders of two lines each, spread over the users and products."""
    expiry_year = datetime.now(UTC).year + 3
    return [
        {
            "user_id": user_ids[index % len(user_ids)],
            "items": [
                {"sku": skus[index % len(skus)], "quantity": 1},
                {"sku": skus[(index + 1) % len(skus)], "quantity": 2},
            ],
            "payment": {"method": "card", "card_number": TEST_CARD, "exp_month": 12, "exp_year": expiry_year, "cvc": "123"},
        }
        for index in range(BODY_COUNT)
    ]


def _create_user(http: httpx.Client, index: int, notify_via: str) -> str:
    body = {
        "name": f"Bench Customer {index}",
        "email": f"bench-{index}@bench.example",
        "password": "bench-password",
        "phone": f"+4477009{index:05d}",
        "notify_via": notify_via,
    }
    return _created(http.post("/users", json=body))["id"]


def _create_product(http: httpx.Client, index: int) -> str:
    body = {"sku": f"BENCH-{index}", "name": f"Bench product {index}", "currency": "GBP", "price": "3.39", "stock": STOCK}
    return _created(http.post("/products", json=body))["sku"]


def _created(response: httpx.Response) -> dict:
    if response.status_code != 201:
        raise RuntimeError(f"{response.request.method} {response.request.url} returned {response.status_code}: {response.text[:500]}")
    return response.json()
