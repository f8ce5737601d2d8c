"""Who may call what: every route against an anonymous caller, the owner, another user and an operator."""

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from tests.builders import OPERATOR, card, product_fields, register, user_fields

ANONYMOUS, OWNER, OTHER, OPERATOR_CALLER = "anonymous", "owner", "other user", "operator"


@dataclass
class World:
    client: TestClient
    headers: dict[str, dict]
    ids: dict[str, str]


@pytest.fixture
def world(container) -> Iterator[World]:
    with TestClient(create_app(container)) as client:
        owner, owner_auth = register(client)
        _other, other_auth = register(client)
        product = client.post("/products", json=product_fields(), headers=OPERATOR).json()
        order = {"items": [{"sku": product["sku"], "quantity": 1}], "payment": card()}
        accepted = client.post("/orders", json=order, headers=owner_auth).json()
        yield World(
            client=client,
            headers={ANONYMOUS: {}, OWNER: owner_auth, OTHER: other_auth, OPERATOR_CALLER: OPERATOR},
            ids={
                "user_id": owner["id"],
                "product_id": product["id"],
                "sku": product["sku"],
                "order_id": accepted["order_id"],
                "job_id": accepted["job_id"],
            },
        )


def order_json(world: World, **extra) -> dict:
    return {"items": [{"sku": world.ids["sku"], "quantity": 1}], "payment": card()} | extra


# (method, path, caller, expected status). "owner" is the user who owns the user, order and job.
MATRIX = [
    ("GET", "/users/{user_id}", ANONYMOUS, 401),
    ("GET", "/users/{user_id}", OWNER, 200),
    ("GET", "/users/{user_id}", OTHER, 404),
    ("GET", "/users/{user_id}", OPERATOR_CALLER, 200),
    ("PATCH", "/users/{user_id}", ANONYMOUS, 401),
    ("PATCH", "/users/{user_id}", OWNER, 401),
    ("PATCH", "/users/{user_id}", OTHER, 401),
    ("PATCH", "/users/{user_id}", OPERATOR_CALLER, 200),
    ("POST", "/users", ANONYMOUS, 201),
    ("POST", "/users", OWNER, 201),
    ("POST", "/users", OPERATOR_CALLER, 201),
    ("POST", "/products", ANONYMOUS, 401),
    ("POST", "/products", OWNER, 401),
    ("POST", "/products", OTHER, 401),
    ("POST", "/products", OPERATOR_CALLER, 201),
    ("GET", "/products", ANONYMOUS, 200),
    ("GET", "/products", OWNER, 200),
    ("GET", "/products", OPERATOR_CALLER, 200),
    ("GET", "/products/{product_id}", ANONYMOUS, 200),
    ("GET", "/products/{product_id}", OWNER, 200),
    ("GET", "/products/{product_id}", OPERATOR_CALLER, 200),
    ("POST", "/orders", ANONYMOUS, 401),
    ("POST", "/orders", OWNER, 202),
    ("POST", "/orders", OTHER, 202),
    ("POST", "/orders", OPERATOR_CALLER, 401),
    ("GET", "/orders/{order_id}", ANONYMOUS, 401),
    ("GET", "/orders/{order_id}", OWNER, 200),
    ("GET", "/orders/{order_id}", OTHER, 404),
    ("GET", "/orders/{order_id}", OPERATOR_CALLER, 200),
    ("GET", "/jobs/{job_id}", ANONYMOUS, 401),
    ("GET", "/jobs/{job_id}", OWNER, 200),
    ("GET", "/jobs/{job_id}", OTHER, 404),
    ("GET", "/jobs/{job_id}", OPERATOR_CALLER, 200),
    ("GET", "/metrics", ANONYMOUS, 401),
    ("GET", "/metrics", OWNER, 401),
    ("GET", "/metrics", OPERATOR_CALLER, 200),
    ("GET", "/healthz", ANONYMOUS, 200),
    ("GET", "/docs", ANONYMOUS, 200),
    ("GET", "/openapi.json", ANONYMOUS, 200),
]


def request_body(world: World, method: str, path: str) -> dict | None:
    if path == "/users":
        return user_fields()
    if path == "/products":
        return product_fields()
    if path == "/orders":
        return order_json(world)
    if method == "PATCH":
        return {"active": True}
    return None


def test_route_access_matrix(world):
    # One world for the whole table, because each world costs several Argon2 hashes.
    mismatches = []
    for method, path, caller, expected in MATRIX:
        response = world.client.request(
            method, path.format(**world.ids), json=request_body(world, method, path), headers=world.headers[caller]
        )
        if response.status_code != expected:
            mismatches.append(f"{method} {path} as {caller}: {response.status_code}, expected {expected}: {response.text[:200]}")
        elif expected >= 400 and set(response.json()["error"]) != {"code", "message", "fields"}:
            mismatches.append(f"{method} {path} as {caller}: error body {response.text[:200]}")
        elif expected == 401 and response.headers.get("www-authenticate") not in ("Bearer", 'ApiKey header="X-API-Key"'):
            mismatches.append(f"{method} {path} as {caller}: WWW-Authenticate {response.headers.get('www-authenticate')!r}")

    assert mismatches == []


@pytest.mark.parametrize(("path", "kind"), [("/orders/{order_id}", "order"), ("/jobs/{job_id}", "job"), ("/users/{user_id}", "user")])
def test_hidden_resource_looks_unknown(world, path, kind):
    resource_id = path.format(**world.ids).rsplit("/", 1)[1]

    hidden = world.client.get(path.format(**world.ids), headers=world.headers[OTHER])
    unknown = world.client.get(path.format(**{key: "f" * 32 for key in world.ids}), headers=world.headers[OTHER])

    assert hidden.status_code == unknown.status_code == 404
    assert hidden.json() == {"error": {"code": "not_found", "message": f"{kind} {resource_id!r} was not found", "fields": []}}
    assert unknown.json()["error"]["message"] == f"{kind} {'f' * 32!r} was not found"
    assert sorted(hidden.headers) == sorted(unknown.headers)


def test_order_for_another_user_forbidden(world):
    response = world.client.post("/orders", json=order_json(world, user_id=world.ids["user_id"]), headers=world.headers[OTHER])

    assert response.status_code == 403
    assert response.json()["error"]["fields"][0]["field"] == "user_id"


def test_order_with_own_user_id_accepted(world):
    response = world.client.post("/orders", json=order_json(world, user_id=world.ids["user_id"]), headers=world.headers[OWNER])
    assert response.status_code == 202, response.text


def test_order_placed_for_token_user(world):
    accepted = world.client.post("/orders", json=order_json(world), headers=world.headers[OTHER]).json()

    order = world.client.get(f"/orders/{accepted['order_id']}", headers=OPERATOR).json()

    assert order["user_id"] != world.ids["user_id"]
    assert world.client.get(f"/orders/{accepted['order_id']}", headers=world.headers[OWNER]).status_code == 404


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer not-a-jwt"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"X-API-Key": "wrong-key"},
    ],
    ids=["garbage token", "basic auth", "wrong operator key"],
)
def test_invalid_credentials_rejected(world, headers):
    response = world.client.get(f"/orders/{world.ids['order_id']}", headers=headers)
    assert response.status_code == 401
