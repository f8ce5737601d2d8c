"""The HTTP API through httpx (FastAPI's TestClient), on a real database.

Steps are not run here (the publisher only records them); test_worker.py runs them.
"""

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from tests.builders import OPERATOR, card, paypal, product_fields, register, user_fields


@pytest.fixture
def client(container) -> Iterator[TestClient]:
    with TestClient(create_app(container)) as client:
        yield client


def create_product(client: TestClient, **overrides) -> dict:
    response = client.post("/products", json=product_fields(**overrides), headers=OPERATOR)
    assert response.status_code == 201, response.text
    return response.json()


def order_body(product: dict, quantity: int = 1, payment: dict | None = None) -> dict:
    return {"items": [{"sku": product["sku"], "quantity": quantity}], "payment": payment or card()}


def assert_error(response, status: int, field: str | None = None) -> dict:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"code", "message", "fields"}
    if field is not None:
        assert field in [item["field"] for item in error["fields"]]
    return error


def test_create_user_hides_password(client):
    response = client.post("/users", json=user_fields(email="Ann@Example.COM", password="a secret pass"))

    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "name", "email", "phone", "notify_via", "active", "created_at"}
    assert body["email"] == "ann@example.com"
    assert "a secret pass" not in response.text
    assert response.headers["location"].endswith(f"/users/{body['id']}")


def test_read_user(client):
    user, auth = register(client)
    assert client.get(f"/users/{user['id']}", headers=auth).json() == user


def test_duplicate_email_conflicts(client):
    register(client, email="same@example.com")
    assert_error(client.post("/users", json=user_fields(email="SAME@example.com")), 409, "email")


@pytest.mark.parametrize("name", ["Ann\nBcc: x@example.com", "Tab\there", "Bell\x07"])
def test_control_characters_in_name_rejected(client, name):
    assert_error(client.post("/users", json=user_fields(name=name)), 422, "name")


def test_sms_without_phone_names_field(client):
    assert_error(client.post("/users", json=user_fields(notify_via="sms")), 422, "notify_via")


def test_invalid_email_names_field(client):
    assert_error(client.post("/users", json=user_fields(email="not-an-email")), 422, "email")


def test_unknown_user_not_found(client):
    assert_error(client.get("/users/nope", headers=OPERATOR), 404)


def test_create_product_and_read(client):
    product = create_product(client, sku="85123A", price="2.55", stock=7)
    assert product["price"] == "2.55"
    assert client.get(f"/products/{product['id']}").json() == product
    assert client.get("/products", params={"sku": "85123A"}).json() == [product]


def test_product_price_json_number(client):
    assert create_product(client, price=3.39)["price"] == "3.39"
    assert_error(client.post("/products", json=product_fields(price=3.399), headers=OPERATOR), 422, "price")


@pytest.mark.parametrize("price", ["1000000000.01", "1e999999999", "9" * 33, 1e308])
def test_product_price_over_maximum(client, price):
    assert_error(client.post("/products", json=product_fields(price=price), headers=OPERATOR), 422, "price")


def test_product_price_at_maximum(client):
    assert create_product(client, price="1000000000.00")["price"] == "1000000000.00"


def test_duplicate_sku_conflicts(client):
    create_product(client, sku="DUP-1")
    assert_error(client.post("/products", json=product_fields(sku="DUP-1"), headers=OPERATOR), 409, "sku")


def test_submit_order_accepted(client, container):
    user, auth = register(client)
    product = create_product(client, price="1.50", stock=3)

    response = client.post("/orders", json={"user_id": user["id"]} | order_body(product, 2), headers=auth)

    assert response.status_code == 202
    accepted = response.json()
    assert set(accepted) == {"order_id", "job_id", "status_url"}
    assert response.headers["location"] == accepted["status_url"]
    assert accepted["status_url"].endswith(f"/jobs/{accepted['job_id']}")
    assert int(response.headers["retry-after"]) >= 1
    assert container.outbox.publisher.published == [("validate_user", accepted["order_id"])]


def test_submit_order_without_user_id(client):
    user, auth = register(client)
    product = create_product(client)

    accepted = client.post("/orders", json=order_body(product), headers=auth).json()

    assert client.get(f"/orders/{accepted['order_id']}", headers=auth).json()["user_id"] == user["id"]


def test_new_order_view(client):
    user, auth = register(client)
    product = create_product(client, price="1.50")
    accepted = client.post("/orders", json=order_body(product, 2), headers=auth).json()

    order = client.get(f"/orders/{accepted['order_id']}", headers=auth).json()

    assert order["user_id"] == user["id"]
    assert order["status"] == "queued"
    assert order["total"] == "3.00"
    assert order["currency"] == "GBP"
    assert order["payment"] == {"method": "card", "brand": "Visa", "last4": "4242", "status": "pending"}
    assert order["failure_reason"] is None
    assert "4242424242424242" not in str(order)


def test_queued_job_view(client):
    _user, auth = register(client)
    product = create_product(client)
    accepted = client.post("/orders", json=order_body(product, payment=paypal()), headers=auth).json()

    response = client.get(f"/jobs/{accepted['job_id']}", headers=auth)

    assert response.json() == {"job_id": accepted["job_id"], "order_id": accepted["order_id"], "state": "queued", "step": "validate_user", "error": None}
    assert "retry-after" in response.headers


def test_order_with_unknown_sku(client):
    _user, auth = register(client)
    response = client.post("/orders", json={"items": [{"sku": "NOPE", "quantity": 1}], "payment": card()}, headers=auth)
    assert_error(response, 422, "items.0.sku")


def test_order_with_mixed_currencies(client):
    _user, auth = register(client)
    pound = create_product(client, currency="GBP")
    euro = create_product(client, currency="EUR")
    items = [{"sku": pound["sku"], "quantity": 1}, {"sku": euro["sku"], "quantity": 1}]
    assert_error(client.post("/orders", json={"items": items, "payment": card()}, headers=auth), 422, "items")


def test_order_total_over_maximum(client):
    _user, auth = register(client)
    product = create_product(client, price="1000000000.00", currency="GBP")
    items = [{"sku": product["sku"], "quantity": 1_000_000}]

    response = client.post("/orders", json={"items": items, "payment": card()}, headers=auth)

    assert "maximum" in assert_error(response, 422, "items")["message"]


def test_luhn_failure_does_not_echo_number(client):
    _user, auth = register(client)
    response = client.post("/orders", json={"items": [{"sku": "A", "quantity": 1}], "payment": card("4242424242424241")}, headers=auth)
    assert_error(response, 422, "payment.card_number")
    assert "4242424242424241" not in response.text


def test_expired_card_names_field(client):
    _user, auth = register(client)
    payment = card() | {"exp_year": 2020}
    response = client.post("/orders", json={"items": [{"sku": "A", "quantity": 1}], "payment": payment}, headers=auth)
    assert_error(response, 422, "payment.exp_year")


@pytest.mark.parametrize("body", ["[1", "null", '"text"', "{}"])
def test_malformed_order_body(client, body):
    _user, auth = register(client)
    response = client.post("/orders", content=body, headers={"content-type": "application/json"} | auth)
    assert_error(response, 422)


def test_unknown_job_and_order(client):
    assert_error(client.get("/jobs/nope", headers=OPERATOR), 404)
    assert_error(client.get("/orders/nope", headers=OPERATOR), 404)


def test_docs_served_without_cdn(client):
    page = client.get("/docs")
    assert page.status_code == 200
    assert "cdn" not in page.text.lower()
    assert client.get("/docs-assets/swagger-ui-bundle.js").status_code == 200
    assert client.get("/openapi.json").status_code == 200


def test_non_utf8_body_names_field(client):
    response = client.post("/users", content=b'{"name": "\xff"}', headers={"content-type": "application/json"})
    assert_error(response, 422, "body")
