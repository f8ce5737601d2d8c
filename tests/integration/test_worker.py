"""Orders submitted over HTTP and processed by a real Celery worker on a real Redis."""

import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from tests.builders import DECLINED_CARD, OPERATOR, card, paypal, product_fields, register

POLL_DEADLINE_S = 30


@pytest.fixture
def client(worker_container) -> Iterator[TestClient]:
    with TestClient(create_app(worker_container)) as client:
        yield client


def wait_for_job(client: TestClient, status_url: str, auth: dict) -> dict:
    deadline = time.monotonic() + POLL_DEADLINE_S
    while time.monotonic() < deadline:
        job = client.get(status_url, headers=auth).json()
        if job["state"] in ("succeeded", "failed"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job at {status_url} did not finish within {POLL_DEADLINE_S} s: {job}")


def place_order(client: TestClient, payment: dict, quantity: int = 1, stock: int = 5, **user_overrides):
    """Register and log in a user, add a product and order it; return the user, its headers, the product and the 202 body."""
    user, auth = register(client, **user_overrides)
    product = client.post("/products", json=product_fields(stock=stock, price="4.20"), headers=OPERATOR).json()
    accepted = client.post(
        "/orders", json={"items": [{"sku": product["sku"], "quantity": quantity}], "payment": payment}, headers=auth
    ).json()
    return user, auth, product, accepted


def test_card_order_completes(client, smtp_sink):
    user, auth, product, accepted = place_order(client, card(), quantity=2)

    job = wait_for_job(client, accepted["status_url"], auth)

    assert job == {"job_id": accepted["job_id"], "order_id": accepted["order_id"], "state": "succeeded", "step": None, "error": None}
    order = client.get(f"/orders/{accepted['order_id']}", headers=auth).json()
    assert order["status"] == "completed"
    assert order["total"] == "8.40"
    assert [step["outcome"] for step in order["steps"]] == ["succeeded"] * 4
    assert client.get(f"/products/{product['id']}").json()["stock"] == 3
    assert smtp_sink.wait_for(1)[0].rcpt_tos == (user["email"],)


def test_declined_card_fails_and_restores(client):
    _user, auth, product, accepted = place_order(client, card(DECLINED_CARD), quantity=2)

    job = wait_for_job(client, accepted["status_url"], auth)

    assert job["state"] == "failed"
    assert job["step"] == "charge_payment"
    assert job["error"] == "payment declined: card_declined"
    assert client.get(f"/products/{product['id']}").json()["stock"] == 5


def test_paypal_order_completes(client):
    _user, auth, _product, accepted = place_order(client, paypal("shopper@example.com"))
    assert wait_for_job(client, accepted["status_url"], auth)["state"] == "succeeded"
