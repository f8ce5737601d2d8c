"""User and catalog services against in-memory repositories."""

import pytest

from domain.catalog import CatalogService
from domain.errors import Conflict, NotFound
from domain.passwords import PasswordHasher
from domain.schemas import ProductCreate, UserCreate
from domain.users import UserService
from tests.builders import product_fields, user_fields
from tests.unit.fakes import FakeUnitOfWork


@pytest.fixture
def uow() -> FakeUnitOfWork:
    return FakeUnitOfWork()


def test_register_hashes_password(uow):
    service = UserService(uow, PasswordHasher())
    user = service.register(UserCreate(**user_fields(password="correct horse battery")))

    assert user.password_hash.startswith("$argon2id$")
    assert "correct horse battery" not in user.password_hash
    assert PasswordHasher().verify(user.password_hash, "correct horse battery")
    assert uow.commits == 1


def test_register_duplicate_email_conflicts(uow):
    service = UserService(uow, PasswordHasher())
    service.register(UserCreate(**user_fields(email="dup@example.com")))

    with pytest.raises(Conflict) as caught:
        service.register(UserCreate(**user_fields(email="DUP@example.com")))
    assert caught.value.field == "email"
    assert uow.commits == 1


def test_disable_user(uow):
    service = UserService(uow, PasswordHasher())
    user = service.register(UserCreate(**user_fields()))
    assert service.set_active(user.id, False).active is False


def test_unknown_user_not_found(uow):
    with pytest.raises(NotFound):
        UserService(uow, PasswordHasher()).get("missing")


def test_password_verify_rejects_wrong_and_unknown():
    hasher = PasswordHasher()
    stored = hasher.hash("right password")
    assert not hasher.verify(stored, "wrong password")
    assert not hasher.verify(None, "right password")


def test_catalog_duplicate_sku_conflicts(uow):
    catalog = CatalogService(uow)
    catalog.add(ProductCreate(**product_fields(sku="85123A")))
    with pytest.raises(Conflict) as caught:
        catalog.add(ProductCreate(**product_fields(sku="85123A")))
    assert caught.value.field == "sku"


def test_catalog_lists_by_sku(uow):
    catalog = CatalogService(uow)
    for sku in ("B", "A", "C"):
        catalog.add(ProductCreate(**product_fields(sku=sku)))
    assert [product.sku for product in catalog.list(0, 10)] == ["A", "B", "C"]
    assert [product.sku for product in catalog.list(0, 10, sku="B")] == ["B"]
    assert [product.sku for product in catalog.list(1, 1)] == ["B"]
