"""The HTTP contract's validation rules, checked on the Pydantic models directly."""

import pytest
from pydantic import ValidationError

from domain.schemas import OrderCreate, ProductCreate, UserCreate
from tests.builders import card, paypal, product_fields, user_fields


def error_fields(error: ValidationError) -> set[str]:
    return {".".join(str(part) for part in item["loc"]) for item in error.errors()}


def test_user_email_is_lower_cased():
    user = UserCreate(**user_fields(email="Alice@Example.COM"))
    assert user.email == "alice@example.com"


@pytest.mark.parametrize("password", ["", "        ", "short", "x" * 257])
def test_user_password_rejected(password):
    with pytest.raises(ValidationError) as caught:
        UserCreate(**user_fields(password=password))
    assert error_fields(caught.value) == {"password"}


def test_user_password_hidden_from_repr():
    user = UserCreate(**user_fields(password="secret-password-1"))
    assert "secret-password-1" not in repr(user)


def test_sms_user_needs_phone():
    with pytest.raises(ValidationError, match="phone"):
        UserCreate(**user_fields(notify_via="sms"))


def test_product_price_as_float_keeps_cents():
    product = ProductCreate(**product_fields(price=3.39))
    assert product.price_minor == 339
    assert product.price == "3.39"


@pytest.mark.parametrize("price", [3.399, "3.399", True, "1e3x", "-2"])
def test_product_price_rejected(price):
    with pytest.raises(ValidationError) as caught:
        ProductCreate(**product_fields(price=price))
    assert error_fields(caught.value) == {"price"}


@pytest.mark.parametrize("stock", ["5", 5.0, True, -1])
def test_product_stock_must_be_integer(stock):
    with pytest.raises(ValidationError) as caught:
        ProductCreate(**product_fields(stock=stock))
    assert error_fields(caught.value) == {"stock"}


def test_product_rejects_unknown_field():
    with pytest.raises(ValidationError) as caught:
        ProductCreate(**product_fields(colour="red"))
    assert error_fields(caught.value) == {"colour"}


def order(**overrides) -> dict:
    return {"user_id": "u1", "items": [{"sku": "A", "quantity": 1}], "payment": card()} | overrides


def test_order_accepts_spaced_card_number():
    request = OrderCreate(**order(payment=card("4242 4242 4242 4242")))
    assert request.payment.card_number.last4 == "4242"
    assert request.payment.card_number.brand == "Visa"


def test_order_rejects_luhn_failure():
    with pytest.raises(ValidationError) as caught:
        OrderCreate(**order(payment=card("4242424242424241")))
    assert error_fields(caught.value) == {"payment.card.card_number"}


def test_order_card_details_hidden_from_repr():
    request = OrderCreate(**order())
    assert "4242424242424242" not in repr(request)
    assert "123" not in repr(request.payment)


def test_order_rejects_expired_card():
    with pytest.raises(ValidationError, match="expired"):
        OrderCreate(**order(payment=card() | {"exp_year": 2020}))


@pytest.mark.parametrize("quantity", [0, -1, "2", 1.5, True])
def test_order_quantity_rejected(quantity):
    with pytest.raises(ValidationError) as caught:
        OrderCreate(**order(items=[{"sku": "A", "quantity": quantity}]))
    assert error_fields(caught.value) == {"items.0.quantity"}


def test_order_needs_items():
    with pytest.raises(ValidationError) as caught:
        OrderCreate(**order(items=[]))
    assert error_fields(caught.value) == {"items"}


def test_order_paypal_email_normalised():
    request = OrderCreate(**order(payment=paypal("Payer@Example.com")))
    assert request.payment.payer_email == "payer@example.com"
