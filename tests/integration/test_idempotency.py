"""Idempotency-Key on the POST routes: replay, mismatch, in-flight and scoping."""

import json
import threading
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.idempotency import _fingerprint
from domain.bootstrap import bootstrap
from domain.idempotency import IdempotencyClaim, StoredResponse
from domain.schemas import OrderCreate
from tests.builders import OPERATOR, card, product_fields, register, user_fields
from tests.conftest import RecordingPublisher


@pytest.fixture
def client(container) -> Iterator[TestClient]:
    with TestClient(create_app(container)) as client:
        yield client


def test_retry_replays_stored_response(client, container):
    body = product_fields(sku="IDEM-1")

    first = client.post("/products", json=body, headers={"Idempotency-Key": "k-1"} | OPERATOR)
    second = client.post("/products", json=body, headers={"Idempotency-Key": "k-1"} | OPERATOR)

    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second.headers["idempotent-replayed"] == "true"
    assert second.headers["location"] == first.headers["location"]
    assert "idempotent-replayed" not in first.headers
    assert len(client.get("/products", params={"sku": "IDEM-1"}).json()) == 1


def test_retried_order_created_once(client, container):
    _user, auth = register(client)
    product = client.post("/products", json=product_fields(), headers=OPERATOR).json()
    order = {"items": [{"sku": product["sku"], "quantity": 1}], "payment": card()}

    responses = [client.post("/orders", json=order, headers={"Idempotency-Key": "order-k"} | auth) for _attempt in range(3)]

    assert {response.json()["order_id"] for response in responses} == {responses[0].json()["order_id"]}
    assert [response.status_code for response in responses] == [202, 202, 202]
    assert container.outbox.publisher.published == [("validate_user", responses[0].json()["order_id"])]


def test_reordered_json_is_same_request(client):
    body = user_fields()
    reordered = dict(reversed(list(body.items())))
    assert client.post("/users", json=body, headers={"Idempotency-Key": "u-1"}).status_code == 201
    assert client.post("/users", json=reordered, headers={"Idempotency-Key": "u-1"}).headers["idempotent-replayed"] == "true"


def test_retry_with_new_token_replays(client, container):
    user, first_auth = register(client)
    product = client.post("/products", json=product_fields(), headers=OPERATOR).json()
    order = {"items": [{"sku": product["sku"], "quantity": 1}], "payment": card()}
    second_auth = {"Authorization": f"Bearer {container.tokens.issue(user['id']).token}"}

    first = client.post("/orders", json=order, headers={"Idempotency-Key": "order-t"} | first_auth)
    second = client.post("/orders", json=order, headers={"Idempotency-Key": "order-t"} | second_auth)

    assert second.headers["idempotent-replayed"] == "true"
    assert second.json() == first.json()


def test_rate_limited_request_not_stored(settings):
    container = bootstrap(settings.model_copy(update={"registration_limit_per_address": "1 per hour"}), RecordingPublisher())
    body = user_fields()
    with TestClient(create_app(container)) as client:
        client.post("/users", json=user_fields())
        limited = client.post("/users", json=body, headers={"Idempotency-Key": "u-429"})

    fingerprint = _fingerprint({"method": "POST", "path": "/users"}, json.dumps(body).encode())
    assert limited.status_code == 429
    assert container.idempotency.claim("anonymous", "u-429", fingerprint) is None
    container.dispose()


def test_same_key_other_body_rejected(client):
    client.post("/products", json=product_fields(), headers={"Idempotency-Key": "k-2"} | OPERATOR)
    response = client.post("/products", json=product_fields(), headers={"Idempotency-Key": "k-2"} | OPERATOR)

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "idempotency_key_reused"
    assert response.json()["error"]["fields"][0]["field"] == "Idempotency-Key"


def test_key_in_flight_conflicts(client, container):
    body = product_fields()
    # Claim the key as a first request that is still running would.
    fingerprint = _fingerprint({"method": "POST", "path": "/products"}, json.dumps(body).encode())
    container.idempotency.claim("operator", "k-3", fingerprint)

    response = client.post("/products", json=body, headers={"Idempotency-Key": "k-3"} | OPERATOR)

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "request_in_progress"


def test_validation_error_is_stored(client):
    bad = product_fields(price="1.234")
    first = client.post("/products", json=bad, headers={"Idempotency-Key": "k-4"} | OPERATOR)
    second = client.post("/products", json=bad, headers={"Idempotency-Key": "k-4"} | OPERATOR)
    assert first.status_code == second.status_code == 422
    assert second.json() == first.json()


def test_key_too_long_rejected(client):
    response = client.post("/products", json=product_fields(), headers={"Idempotency-Key": "x" * 256} | OPERATOR)
    assert response.status_code == 422
    assert response.json()["error"]["fields"][0]["field"] == "Idempotency-Key"


def test_keys_scoped_to_caller(client):
    product = client.post("/products", json=product_fields(), headers=OPERATOR).json()
    order = {"items": [{"sku": product["sku"], "quantity": 1}], "payment": card()}
    _first_user, first_auth = register(client)
    _second_user, second_auth = register(client)

    first = client.post("/orders", json=order, headers={"Idempotency-Key": "k-5"} | first_auth)
    other = client.post("/orders", json=order, headers={"Idempotency-Key": "k-5"} | second_auth)

    assert first.status_code == other.status_code == 202
    assert "idempotent-replayed" not in other.headers
    assert other.json()["order_id"] != first.json()["order_id"]


def test_concurrent_retries_create_one(client):
    body = product_fields(sku="IDEM-RACE")
    results = []

    def post() -> None:
        results.append(client.post("/products", json=body, headers={"Idempotency-Key": "race"} | OPERATOR).status_code)

    threads = [threading.Thread(target=post) for _number in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert results.count(201) >= 1
    assert set(results) <= {201, 409}
    assert len(client.get("/products", params={"sku": "IDEM-RACE"}).json()) == 1


def test_order_committed_with_its_response(client, container):
    user, auth = register(client)
    product = client.post("/products", json=product_fields(), headers=OPERATOR).json()
    order = {"items": [{"sku": product["sku"], "quantity": 1}], "payment": card()}
    claim = IdempotencyClaim(f"user:{user['id']}", "crash-k")

    # A first request claims the key and commits its order; then the API process dies
    # before the middleware records the response.
    container.idempotency.claim(claim.scope, claim.key, _fingerprint({"method": "POST", "path": "/orders"}, json.dumps(order).encode()))
    first, _message = container.orders.submit(
        OrderCreate(**order), user["id"], claim,
        lambda placed: StoredResponse(202, {"order_id": placed.id, "job_id": placed.job_id, "status_url": "/jobs/x"}, {}),
    )

    retry = client.post("/orders", json=order, headers={"Idempotency-Key": claim.key} | auth)

    assert retry.status_code == 202
    assert retry.json()["order_id"] == first.id
    assert retry.headers["idempotent-replayed"] == "true"


def test_deeply_nested_body_not_500(client):
    body = "[" * 5000 + "]" * 5000
    response = client.post("/products", content=body, headers={"Idempotency-Key": "deep", "content-type": "application/json"} | OPERATOR)
    assert response.status_code < 500
    assert set(response.json()["error"]) == {"code", "message", "fields"}
