"""Logging in, access tokens and login and registration rate limits, over HTTP."""

import logging
import time
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import jwt
import pytest
from fastapi.testclient import TestClient
from limits.storage import storage_from_string

from api.app import create_app
from domain.auth import AccessTokens
from domain.bootstrap import bootstrap
from domain.clock import utc_now
from domain.settings import DEV_JWT_SECRET
from tests.builders import OPERATOR, bearer, log_in, register, user_fields
from tests.conftest import RecordingPublisher

PASSWORD = "correct horse battery"


@pytest.fixture
def client(container) -> Iterator[TestClient]:
    with TestClient(create_app(container)) as client:
        yield client


@contextmanager
def limited_client(settings, **limits) -> Iterator[TestClient]:
    container = bootstrap(settings.model_copy(update=limits), RecordingPublisher())
    try:
        with TestClient(create_app(container)) as client:
            yield client
    finally:
        container.dispose()


def token_request(client: TestClient, username: str, password: str):
    return client.post("/auth/token", data={"username": username, "password": password})


class CountingHasher:
    """Wraps the real hasher and counts Argon2 verifications."""

    def __init__(self, hasher) -> None:
        self.hasher = hasher
        self.verifications = 0

    def hash(self, password: str) -> str:
        return self.hasher.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        self.verifications += 1
        return self.hasher.verify(password_hash, password)


def test_login_returns_bearer_token(client, container):
    user, _auth = register(client, password=PASSWORD)

    response = token_request(client, user["email"], PASSWORD)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == container.settings.access_token_lifetime_s == 900
    assert response.headers["cache-control"] == "no-store"
    claims = jwt.decode(body["access_token"], DEV_JWT_SECRET, algorithms=["HS256"])
    assert claims["sub"] == user["id"]
    assert claims["exp"] - claims["iat"] == 900
    assert len(claims["jti"]) == 32


def test_login_ignores_email_case(client):
    user, _auth = register(client, email="Alice@Example.COM", password=PASSWORD)

    assert user["email"] == "alice@example.com"
    assert client.post("/users", json=user_fields(email="alice@example.com")).status_code == 409
    for username in ("Alice@Example.COM", "alice@example.com", " ALICE@EXAMPLE.COM "):
        me = client.get(f"/users/{user['id']}", headers=log_in(client, username, PASSWORD))
        assert me.json()["id"] == user["id"], username


def test_login_accepts_any_unicode_form_of_the_email(client):
    composed = unicodedata.normalize("NFC", "jos\u00e9@b\u00fccher.example")
    user, _auth = register(client, email=unicodedata.normalize("NFD", composed), password=PASSWORD)

    assert user["email"] == composed
    assert client.post("/users", json=user_fields(email=composed)).status_code == 409
    assert client.post("/users", json=user_fields(email="jos\u00e9@xn--bcher-kva.example")).status_code == 409
    for username in (composed, unicodedata.normalize("NFD", composed), "JOS\u00c9@xn--bcher-kva.example"):
        me = client.get(f"/users/{user['id']}", headers=log_in(client, username, PASSWORD))
        assert me.json()["id"] == user["id"], username


def test_login_invalid_email_rejected(client):
    response = token_request(client, "not an address", PASSWORD)

    assert response.status_code == 401


def test_login_failures_look_the_same(client, container):
    user, _auth = register(client, password=PASSWORD)
    disabled, _disabled_auth = register(client, password=PASSWORD)
    client.patch(f"/users/{disabled['id']}", json={"active": False}, headers=OPERATOR)
    hasher = container.users.hasher = CountingHasher(container.users.hasher)

    failures = {
        "unknown email": token_request(client, "nobody@example.com", PASSWORD),
        "wrong password": token_request(client, user["email"], "not the password"),
        "disabled user": token_request(client, disabled["email"], PASSWORD),
    }

    bodies = {cause: (response.status_code, response.json()) for cause, response in failures.items()}
    assert len(set(map(str, bodies.values()))) == 1, bodies
    assert bodies["unknown email"][0] == 401
    assert bodies["unknown email"][1]["error"]["message"] == "Incorrect email or password."
    assert {response.headers["www-authenticate"] for response in failures.values()} == {"Bearer"}
    # Each failure costs one Argon2 verification, so timing does not tell the causes apart.
    assert hasher.verifications == 3


@pytest.mark.parametrize("data", [{"username": "a@example.com"}, {"password": "x" * 10}, {}])
def test_login_missing_field_names_it(client, data):
    response = client.post("/auth/token", data=data)
    assert response.status_code == 422
    assert response.json()["error"]["fields"]


def test_expired_token_rejected(client, container):
    user, _auth = register(client)
    issued_long_ago = AccessTokens(DEV_JWT_SECRET, 60, clock=lambda: utc_now() - timedelta(hours=1))

    response = client.get(f"/users/{user['id']}", headers=bearer(issued_long_ago.issue(user["id"]).token))

    assert response.status_code == 401
    assert "expired" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    "token_for",
    [
        lambda user_id: jwt.encode({"sub": user_id, "exp": time.time() + 60, "iat": time.time(), "jti": "j"}, "another-secret-of-32-bytes-or-more!", algorithm="HS256"),
        lambda user_id: jwt.encode({"sub": user_id, "exp": time.time() + 60, "iat": time.time(), "jti": "j"}, None, algorithm="none"),
        lambda user_id: jwt.encode({"sub": user_id, "exp": time.time() + 60}, DEV_JWT_SECRET, algorithm="HS256"),
        lambda user_id: jwt.encode({"sub": user_id, "exp": time.time() + 60, "iat": time.time(), "jti": "j"}, DEV_JWT_SECRET, algorithm="HS512"),
    ],
    ids=["other secret", "alg none", "missing claims", "other algorithm"],
)
def test_forged_token_rejected(client, token_for):
    user, _auth = register(client)
    response = client.get(f"/users/{user['id']}", headers=bearer(token_for(user["id"])))
    assert response.status_code == 401


def test_failed_logins_limited_per_account(settings):
    with limited_client(settings, login_limit_per_account="3 per minute") as client:
        user, _auth = register(client, password=PASSWORD)
        statuses = [token_request(client, user["email"], "wrong password").status_code for _attempt in range(3)]
        limited = token_request(client, user["email"].upper(), PASSWORD)
        other, _other_auth = register(client, password=PASSWORD)

        assert statuses == [401, 401, 401]
        assert limited.status_code == 429
        assert 1 <= int(limited.headers["retry-after"]) <= 60
        assert set(limited.json()["error"]) == {"code", "message", "fields"}
        assert token_request(client, other["email"], PASSWORD).status_code == 200


def test_successful_logins_not_limited(settings):
    with limited_client(settings, login_limit_per_account="2 per minute", login_limit_per_address="2 per minute") as client:
        user, _auth = register(client, password=PASSWORD)
        assert [token_request(client, user["email"], PASSWORD).status_code for _attempt in range(4)] == [200] * 4


def test_failed_logins_limited_per_address(settings):
    with limited_client(settings, login_limit_per_address="3 per minute") as client:
        statuses = [token_request(client, f"nobody{number}@example.com", "wrong password").status_code for number in range(4)]
        assert statuses == [401, 401, 401, 429]


def test_registrations_limited_per_address(settings):
    with limited_client(settings, registration_limit_per_address="2 per hour") as client:
        statuses = [client.post("/users", json=user_fields()).status_code for _number in range(3)]
        limited = client.post("/users", json=user_fields())

    assert statuses == [201, 201, 429]
    assert 3000 < int(limited.headers["retry-after"]) <= 3600
    assert limited.json()["error"]["code"] == "too_many_requests"


def test_limits_shared_through_redis(settings, redis_url):
    # Two API processes share counts when both use the same Redis; two apps stand in for them.
    shared = {"rate_limit_storage_url": redis_url, "login_limit_per_address": "2 per minute"}
    email = f"shared-{time.time_ns()}@example.com"
    storage_from_string(redis_url).reset()
    with limited_client(settings, **shared) as first, limited_client(settings, **shared) as second:
        statuses = [token_request(client, email, "wrong password").status_code for client in (first, second, first)]

    assert statuses == [401, 401, 429]


def test_unreachable_limit_storage_lets_logins_through(settings, caplog, monkeypatch):
    closed = "redis://127.0.0.1:9/0"
    # The Celery test worker, when it ran first, disables loggers that existed before it.
    monkeypatch.setattr(logging.getLogger("api.rate_limits"), "disabled", False)
    caplog.set_level(logging.WARNING, logger="api.rate_limits")
    with limited_client(settings, rate_limit_storage_url=closed) as client:
        user, _auth = register(client, password=PASSWORD)
        assert token_request(client, user["email"], PASSWORD).status_code == 200
    assert "Rate limit storage failed" in caplog.text
