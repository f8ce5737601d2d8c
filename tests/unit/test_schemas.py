"""The HTTP contract's validation rules, checked on the Pydantic models directly."""

import pytest
from pydantic import ValidationError

from domain.schemas import (
    MAX_ITEMS_PER_ORDER,
    MAX_PRICE_MINOR,
    OrderCreate,
    ProductCreate,
    UserCreate,
    UserUpdate,
)
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


@pytest.mark.parametrize("price", [3.399, "3.399", True, "1e3x", "-2", "0", "0.00", 0, "+1.00", "1_000"])
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


@pytest.mark.parametrize("active", [1, 0, "true", "false", None])
def test_user_update_active_must_be_boolean(active):
    with pytest.raises(ValidationError) as caught:
        UserUpdate(active=active)
    assert error_fields(caught.value) == {"active"}


@pytest.mark.parametrize("name", ["Ann\nBcc: x@example.com", "\x1b[31mred", "tab\there", "del\x7f"])
def test_user_name_rejects_control_characters(name):
    with pytest.raises(ValidationError) as caught:
        UserCreate(**user_fields(name=name))
    assert error_fields(caught.value) == {"name"}


@pytest.mark.parametrize(
    "name",
    ["Ann\u202egnp.exe", "zero\u200bwidth", "\ufeffBOM", "c1\u0085control", "line\u2028break", "private\ue000use", "   ", "\u0378"],
)
def test_user_name_rejects_invisible_characters(name):
    with pytest.raises(ValidationError) as caught:
        UserCreate(**user_fields(name=name))
    assert error_fields(caught.value) == {"name"}


@pytest.mark.parametrize("name", ["Zo\u00eb Saldana", "\u0645\u06cc\u200c\u0631\u0636\u0627", "Family \U0001f468\u200d\U0001f469\u200d\U0001f467", "\u5f20\u4f1f"])
def test_user_name_accepts_real_names(name):
    assert UserCreate(**user_fields(name=name)).name == name


def test_sms_without_phone_names_notify_via():
    with pytest.raises(ValidationError) as caught:
        UserCreate(**user_fields(notify_via="sms"))
    assert error_fields(caught.value) == {"notify_via"}


@pytest.mark.parametrize("price", ["1000000000.01", "1e999999999", "1" * 33, "0.001", 1e308])
def test_product_price_bounds(price):
    with pytest.raises(ValidationError) as caught:
        ProductCreate(**product_fields(price=price))
    assert error_fields(caught.value) == {"price"}


def test_product_price_maximum_accepted():
    assert ProductCreate(**product_fields(price="1000000000.00")).price_minor == MAX_PRICE_MINOR


def test_order_user_id_optional():
    request = OrderCreate(items=[{"sku": "A", "quantity": 1}], payment=card())
    assert request.user_id is None


def test_expired_card_names_exp_year():
    with pytest.raises(ValidationError) as caught:
        OrderCreate(**order(payment=card() | {"exp_year": 2020}))
    assert error_fields(caught.value) == {"payment.card.exp_year"}


@pytest.mark.parametrize("model", [OrderCreate, UserUpdate])
def test_unknown_fields_rejected(model):
    with pytest.raises(ValidationError) as caught:
        model(**({"active": True} if model is UserUpdate else order()), admin=True)
    assert error_fields(caught.value) == {"admin"}


def test_order_items_bounded():
    with pytest.raises(ValidationError) as caught:
        OrderCreate(**order(items=[{"sku": "A", "quantity": 1}] * (MAX_ITEMS_PER_ORDER + 1)))
    assert error_fields(caught.value) == {"items"}
