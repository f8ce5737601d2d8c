"""Body size limit, security headers, CORS, metrics and the production start-up check."""

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from api.app import UnsafeSettings, create_app, docs_content_security_policy
from domain.bootstrap import bootstrap
from domain.schemas import MAX_ID_LENGTH, MAX_ITEMS_PER_ORDER, MAX_QUANTITY, MAX_SKU_LENGTH
from tests.builders import OPERATOR, card, product_fields, register, user_fields
from tests.conftest import RecordingPublisher

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def client(container) -> Iterator[TestClient]:
    with TestClient(create_app(container)) as client:
        yield client


@pytest.fixture
def server(api_server) -> str:
    return api_server


def assert_too_large(response) -> None:
    assert response.status_code == 413, response.text
    error = response.json()["error"]
    assert error["code"] == "payload_too_large"
    assert set(error) == {"code", "message", "fields"}


def chunks(total: int, size: int = 8192) -> Iterator[bytes]:
    # Valid JSON would need the whole body, so the limit must trip while it is still streaming.
    yield b'{"name": "'
    for _start in range(0, total, size):
        yield b"x" * size
    yield b'"}'


def test_declared_length_over_limit_rejected_first(client, container):
    body = b"{" + b" " * container.settings.max_request_body_bytes + b"}"

    # No credentials: the size check runs before authentication and parsing.
    response = client.post("/orders", content=body, headers={"content-type": "application/json"})

    assert_too_large(response)


@pytest.mark.parametrize("headers", [{}, {"Idempotency-Key": "big-1"}], ids=["plain", "idempotent"])
def test_chunked_body_over_limit_rejected(server, container, headers):
    limit = container.settings.max_request_body_bytes

    response = httpx.post(f"{server}/users", content=chunks(limit * 2), headers={"content-type": "application/json"} | headers)

    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert_too_large(response)


def test_chunked_body_under_limit_accepted(server):
    body = json.dumps(user_fields()).encode()

    response = httpx.post(f"{server}/users", content=iter([body[:10], body[10:]]), headers={"content-type": "application/json"})

    assert response.status_code == 201, response.text


def test_largest_order_fits_body_limit(client, container):
    _user, auth = register(client)
    items = [{"sku": f"{number:0{MAX_SKU_LENGTH}d}", "quantity": MAX_QUANTITY} for number in range(MAX_ITEMS_PER_ORDER)]
    order = {"user_id": "u" * MAX_ID_LENGTH, "items": items, "payment": card("4242 4242 4242 4242") | {"cvc": "1234"}}
    body = json.dumps(order, indent=2).encode()

    response = client.post("/orders", content=body, headers={"content-type": "application/json"} | auth)

    assert len(body) <= container.settings.max_request_body_bytes
    # Parsed and checked: the user id and SKUs are wrong, but the body was not too large.
    assert response.status_code == 403, response.text


def test_security_headers_on_every_response(client):
    for response in (client.get("/products"), client.get("/products/unknown"), client.post("/users", json={})):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["content-security-policy"].startswith("default-src 'none'")


def test_no_store_on_credentialed_responses(client):
    user, auth = register(client)

    assert client.get(f"/users/{user['id']}", headers=auth).headers["cache-control"] == "no-store"
    assert client.post("/auth/token", data={"username": "x@example.com", "password": "wrong pass"}).headers["cache-control"] == "no-store"
    assert "cache-control" not in client.get("/products").headers


def test_docs_csp_allows_only_its_own_script(client):
    page = client.get("/docs")
    csp = page.headers["content-security-policy"]

    assert page.status_code == 200
    assert csp == docs_content_security_policy(page.text)
    assert re.search(r"script-src 'self' 'sha256-[A-Za-z0-9+/]+=*'; ", csp), csp
    assert "'unsafe-inline'" not in csp.split("script-src", 1)[1].split(";", 1)[0]
    for asset in re.findall(r'(?:src|href)="(/docs-assets/[^"]+)"', page.text):
        assert client.get(asset).status_code == 200, asset


def test_cors_closed_by_default(client):
    response = client.options("/products", headers={"Origin": "https://shop.example", "Access-Control-Request-Method": "GET"})
    assert "access-control-allow-origin" not in response.headers


def test_cors_open_to_configured_origins(settings):
    container = bootstrap(settings.model_copy(update={"cors_allow_origins": ["https://shop.example"]}), RecordingPublisher())
    with TestClient(create_app(container)) as client:
        allowed = client.options("/orders", headers={"Origin": "https://shop.example", "Access-Control-Request-Method": "POST"})
        other = client.options("/orders", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    container.dispose()

    assert allowed.headers["access-control-allow-origin"] == "https://shop.example"
    assert "access-control-allow-origin" not in other.headers


def test_metrics_count_requests_and_orders(client):
    _user, auth = register(client)
    product = client.post("/products", json=product_fields(), headers=OPERATOR).json()
    client.post("/orders", json={"items": [{"sku": product["sku"], "quantity": 1}], "payment": card()}, headers=auth)
    client.get("/orders/some-id", headers=auth)

    text = client.get("/metrics", headers=OPERATOR).text

    assert 'orderflow_http_requests_total{method="POST",route="/orders",status="202"} 1.0' in text
    assert 'orderflow_http_requests_total{method="GET",route="/orders/{order_id}",status="404"} 1.0' in text
    assert "orderflow_http_request_duration_seconds_bucket" in text
    assert "orderflow_orders_accepted_total 1.0" in text
    assert 'orderflow_orders{status="queued"} 1.0' in text


def test_production_refuses_development_secrets(settings):
    production = settings.model_copy(update={"env": "production"})
    container = bootstrap(production, RecordingPublisher())
    try:
        with pytest.raises(UnsafeSettings, match="JWT_SECRET") as caught:
            create_app(container)
    finally:
        container.dispose()
    assert "OPERATOR_API_KEY_SHA256" in str(caught.value)


def test_production_server_does_not_start(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "ORDERFLOW_ENV": "production", "JWT_SECRET": "too-short", "DATABASE_URL": f"sqlite:///{tmp_path / 'db'}"}

    completed = subprocess.run([sys.executable, "-c", "import api.main"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)

    assert completed.returncode != 0
    assert "JWT_SECRET is shorter than 32 bytes" in completed.stderr
    assert "OPERATOR_API_KEY_SHA256" in completed.stderr
