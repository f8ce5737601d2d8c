"""Access tokens, the operator key, logins and the production settings check."""

import hashlib
from datetime import timedelta

import jwt
import pytest

from domain.auth import AccessTokens, OperatorKey
from domain.clock import utc_now
from domain.errors import InvalidCredentials, NotAuthenticated
from domain.passwords import PasswordHasher
from domain.schemas import UserCreate
from domain.settings import (
    DEV_JWT_SECRET,
    DEV_OPERATOR_API_KEY,
    DEV_OPERATOR_API_KEY_SHA256,
    Settings,
)
from domain.users import UserService
from tests.builders import user_fields
from tests.unit.fakes import FakeUnitOfWork

SECRET = "a-test-secret-that-is-32-bytes-long!"


def test_token_round_trip():
    tokens = AccessTokens(SECRET, 900)

    issued = tokens.issue("user-1")

    assert tokens.user_id(issued.token) == "user-1"
    assert issued.expires_in_s == 900
    claims = jwt.decode(issued.token, SECRET, algorithms=["HS256"])
    assert set(claims) == {"sub", "iat", "exp", "jti"}


def test_tokens_have_distinct_ids():
    tokens = AccessTokens(SECRET, 900)
    first, second = (jwt.decode(tokens.issue("u").token, SECRET, algorithms=["HS256"]) for _ in range(2))
    assert first["jti"] != second["jti"]


def test_expired_token_rejected():
    old = AccessTokens(SECRET, 60, clock=lambda: utc_now() - timedelta(minutes=5))
    with pytest.raises(NotAuthenticated, match="expired"):
        AccessTokens(SECRET, 60).user_id(old.issue("u").token)


def test_token_from_other_secret_rejected():
    with pytest.raises(NotAuthenticated, match="invalid"):
        AccessTokens(SECRET, 60).user_id(AccessTokens(SECRET + "x", 60).issue("u").token)


def test_operator_key_matches_digest():
    key = OperatorKey(hashlib.sha256(b"s3cret-key").hexdigest())

    assert key.matches("s3cret-key")
    assert not key.matches("s3cret-kez")
    assert not key.matches("")


def test_dev_operator_key_digest():
    assert OperatorKey(DEV_OPERATOR_API_KEY_SHA256).matches(DEV_OPERATOR_API_KEY)


def test_authenticate_normalises_email():
    service = UserService(FakeUnitOfWork(), PasswordHasher())
    user = service.register(UserCreate(**user_fields(email="Bob@Example.com", password="a long password")))

    assert service.authenticate(" BOB@example.COM", "a long password").id == user.id
    with pytest.raises(InvalidCredentials):
        service.authenticate("bob@example.com", "wrong password")
    with pytest.raises(InvalidCredentials):
        service.authenticate("nobody@example.com", "a long password")


def test_development_settings_have_no_problems():
    assert Settings().production_problems() == []


@pytest.mark.parametrize(
    ("overrides", "variables"),
    [
        ({}, ["JWT_SECRET", "OPERATOR_API_KEY_SHA256"]),
        ({"jwt_secret": "short"}, ["JWT_SECRET is shorter than 32 bytes", "OPERATOR_API_KEY_SHA256"]),
        ({"jwt_secret": SECRET}, ["OPERATOR_API_KEY_SHA256"]),
        ({"operator_api_key_sha256": "a" * 64}, ["JWT_SECRET"]),
        ({"jwt_secret": SECRET, "operator_api_key_sha256": "a" * 64}, []),
    ],
)
def test_production_problems_name_variables(overrides, variables):
    problems = Settings(ORDERFLOW_ENV="production", **overrides).production_problems()

    assert len(problems) == len(variables)
    for problem, variable in zip(problems, variables, strict=True):
        assert problem.startswith(variable)


def test_production_reads_environment(monkeypatch):
    monkeypatch.setenv("ORDERFLOW_ENV", "production")
    monkeypatch.setenv("JWT_SECRET", DEV_JWT_SECRET)
    monkeypatch.setenv("OPERATOR_API_KEY_SHA256", DEV_OPERATOR_API_KEY_SHA256.upper())

    assert len(Settings().production_problems()) == 2


@pytest.mark.parametrize("digest", ["abc", "z" * 64, DEV_OPERATOR_API_KEY])
def test_operator_digest_must_be_hex(digest):
    with pytest.raises(ValueError, match="OPERATOR_API_KEY_SHA256"):
        Settings(operator_api_key_sha256=digest)


def test_cors_origins_from_comma_list(monkeypatch):
    monkeypatch.setenv("CORS_ALLOW_ORIGINS", "https://a.example, https://b.example,")
    assert Settings().cors_allow_origins == ["https://a.example", "https://b.example"]
