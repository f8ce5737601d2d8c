"""Pydantic models of the HTTP contract: what clients send and what they get back.

Requests reject unknown fields and coerce nothing silently: a quantity must be a JSON
integer, a price a decimal string (or a JSON number with no more decimals than the
currency allows), and booleans are never numbers.
"""

import unicodedata
from datetime import UTC, datetime
from typing import Annotated, Literal

from email_validator import EmailNotValidError, validate_email
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
    ValidationInfo,
    field_validator,
)
from pydantic_extra_types.payment import PaymentCardNumber

from domain.money import MoneyError, format_amount, parse_amount, validate_currency

# Bounds of the request contract; docs/security.md lists them for clients.
MAX_ITEMS_PER_ORDER = 1000
MAX_QUANTITY = 1_000_000
MAX_STOCK = 1_000_000_000
# In minor units: 1,000,000,000.00 in a currency with two decimals (GBP, EUR).
MAX_PRICE_MINOR = 100_000_000_000
# In minor units. Order and payment totals are BigInteger columns (at most 2**63 - 1), and
# MAX_ITEMS_PER_ORDER lines of MAX_QUANTITY at MAX_PRICE_MINOR would overflow them.
MAX_ORDER_TOTAL_MINOR = 1_000_000_000_000_000
# Characters of a price written as a string, such as "1234.56".
MAX_PRICE_TEXT_LENGTH = 32
MAX_EMAIL_LENGTH = 320
MAX_NAME_LENGTH = 200
MAX_SKU_LENGTH = 64
MAX_ID_LENGTH = 64
# Argon2 itself takes longer input; the bound keeps hashing time predictable.
MAX_PASSWORD_LENGTH = 256
MIN_PASSWORD_LENGTH = 8


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _normalise_email(email: str) -> str:
    # One account per address whatever its case: the whole address is lower-cased, which
    # every mainstream provider treats as the same mailbox.
    return email.lower()


def canonical_email(text: str) -> str | None:
    """Return the form under which an address is stored, or None if it is not a valid address.

    Registration stores email_validator's normalized form (Unicode NFC, a punycode domain
    decoded), lower-cased; a login must look up the same form of what the user typed.
    """
    try:
        return _normalise_email(validate_email(text.strip(), check_deliverability=False).normalized)
    except EmailNotValidError:
        return None


# Unicode categories a name never needs: controls (C0 and C1), surrogates, private use,
# unassigned code points, and line and paragraph separators.
_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cs", "Co", "Cn", "Zl", "Zp"})
# Bidirectional embeddings, overrides and isolates, which can make a name display as other
# text, and the zero-width space and byte order mark. Joiners (U+200C, U+200D) stay, because
# Persian names and emoji sequences need them.
_INVISIBLE_CHARACTERS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200b\ufeff")


def _reject_control_characters(text: str) -> str:
    # Names end up in emails and logs, where a newline or escape code could forge content.
    if any(ord(char) < 32 or ord(char) == 127 for char in text):
        raise ValueError("must not contain control characters such as newlines or tabs")
    if any(unicodedata.category(char) in _FORBIDDEN_CATEGORIES or char in _INVISIBLE_CHARACTERS for char in text):
        raise ValueError("must not contain invisible, direction-changing or unassigned characters")
    if not text.strip():
        raise ValueError("must contain a visible character")
    return text


Email = Annotated[EmailStr, Field(max_length=MAX_EMAIL_LENGTH), AfterValidator(_normalise_email)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=MAX_NAME_LENGTH), AfterValidator(_reject_control_characters)]
Sku = Annotated[str, StringConstraints(min_length=1, max_length=MAX_SKU_LENGTH, pattern=r"^[A-Za-z0-9][A-Za-z0-9 _.\-/]*$")]
Phone = Annotated[str, StringConstraints(pattern=r"^\+[1-9][0-9]{6,14}$")]


def _reject_blank_password(password: str) -> str:
    if not password.strip():
        raise ValueError("password must not be only spaces")
    return password


Password = Annotated[
    str,
    Field(min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH, repr=False),
    AfterValidator(_reject_blank_password),
]


# Users


class UserCreate(Request):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)

    name: Name
    email: Email
    password: Password
    phone: Phone | None = None
    notify_via: Literal["email", "sms"] = "email"

    # A field validator rather than a model validator, so that the error names a field.
    @field_validator("notify_via")
    @classmethod
    def _sms_needs_phone(cls, notify_via: str, info: ValidationInfo) -> str:
        if notify_via == "sms" and info.data.get("phone") is None:
            raise ValueError("notify_via 'sms' needs a phone number in E.164 form, e.g. +447700900123")
        return notify_via


class UserUpdate(Request):
    active: StrictBool


class UserPublic(BaseModel):
    id: str
    name: str
    email: str
    phone: str | None
    notify_via: str
    active: bool
    created_at: datetime


# Catalog


def _price_before_parsing(value: object) -> object:
    if isinstance(value, bool):
        raise ValueError("price must be a decimal string such as \"3.39\", not a boolean")
    if isinstance(value, float):
        # repr gives the shortest decimal that reads back as this float, so 3.39 stays "3.39".
        value = repr(value)
    if isinstance(value, str) and len(value) > MAX_PRICE_TEXT_LENGTH:
        raise ValueError(f"price must be at most {MAX_PRICE_TEXT_LENGTH} characters long")
    return value


class ProductCreate(Request):
    sku: Sku
    name: Name
    # currency comes before price so that the price validator can read it.
    currency: Annotated[str, StringConstraints(min_length=3, max_length=3)]
    price: Annotated[str | int, BeforeValidator(_price_before_parsing)]
    stock: Annotated[StrictInt, Field(ge=0, le=MAX_STOCK)]

    @field_validator("currency")
    @classmethod
    def _known_currency(cls, currency: str) -> str:
        try:
            return validate_currency(currency)
        except MoneyError as error:
            raise ValueError(str(error)) from None

    @field_validator("price")
    @classmethod
    def _price_fits_currency(cls, price: str | int, info: ValidationInfo) -> str:
        currency = info.data.get("currency")
        if currency is None:
            raise ValueError("price cannot be checked without a valid currency")
        try:
            minor = parse_amount(price, currency)
        except MoneyError as error:
            raise ValueError(str(error)) from None
        if minor == 0:
            # Every order is charged, and a card or PayPal charge of 0 is not a payment.
            raise ValueError("price must be more than 0")
        if minor > MAX_PRICE_MINOR:
            raise ValueError(f"price must be at most {format_amount(MAX_PRICE_MINOR, currency)} {currency}")
        return format_amount(minor, currency)

    @property
    def price_minor(self) -> int:
        return parse_amount(self.price, self.currency)


class ProductPublic(BaseModel):
    id: str
    sku: str
    name: str
    price: str
    currency: str
    stock: int


# Orders


def _strip_card_separators(value: object) -> object:
    if isinstance(value, str):
        return value.replace(" ", "").replace("-", "")
    return value


class CardPayment(Request):
    method: Literal["card"]
    card_number: Annotated[PaymentCardNumber, BeforeValidator(_strip_card_separators), Field(repr=False)]
    exp_month: Annotated[StrictInt, Field(ge=1, le=12)]
    exp_year: Annotated[StrictInt, Field(ge=2000, le=2100)]
    cvc: Annotated[str, StringConstraints(pattern=r"^[0-9]{3,4}$"), Field(repr=False)]

    # On exp_year (validated after exp_month) rather than the model, so the error names a field.
    @field_validator("exp_year")
    @classmethod
    def _not_expired(cls, exp_year: int, info: ValidationInfo) -> int:
        today = datetime.now(UTC)
        exp_month = info.data.get("exp_month")
        if exp_month is not None and (exp_year, exp_month) < (today.year, today.month):
            raise ValueError("card has expired: check exp_month and exp_year")
        return exp_year


class PayPalPayment(Request):
    method: Literal["paypal"]
    payer_email: Email


class OrderLine(Request):
    sku: Sku
    quantity: Annotated[StrictInt, Field(ge=1, le=MAX_QUANTITY)]


class OrderCreate(Request):
    # Optional: the order is always placed for the caller. When sent, it must be the caller's id.
    user_id: Annotated[str, StringConstraints(min_length=1, max_length=MAX_ID_LENGTH)] | None = None
    items: Annotated[list[OrderLine], Field(min_length=1, max_length=MAX_ITEMS_PER_ORDER)]
    payment: Annotated[CardPayment | PayPalPayment, Field(discriminator="method")]


class OrderAccepted(BaseModel):
    order_id: str
    job_id: str
    status_url: str


class OrderLineView(BaseModel):
    sku: str
    quantity: int
    unit_price: str


class PaymentView(BaseModel):
    method: str
    brand: str | None
    last4: str | None
    status: str


class StepView(BaseModel):
    step: str
    outcome: str
    detail: str | None
    at: datetime


class NotificationView(BaseModel):
    status: str
    error: str | None


class OrderView(BaseModel):
    id: str
    job_id: str
    user_id: str
    status: str
    items: list[OrderLineView]
    total: str
    currency: str
    payment: PaymentView
    steps: list[StepView]
    failure_reason: str | None
    notification: NotificationView
    created_at: datetime
    updated_at: datetime


class JobView(BaseModel):
    job_id: str
    order_id: str
    state: Literal["queued", "running", "succeeded", "failed"]
    # The step that runs or waits next; for a failed job, the step that failed.
    step: str | None
    error: str | None


# Authentication


class AccessTokenView(BaseModel):
    """The OAuth 2.0 token response (RFC 6749, 5.1)."""

    access_token: str
    token_type: Literal["bearer"]
    expires_in: int


# Errors


class FieldError(BaseModel):
    field: str
    message: str


class ErrorDetail(BaseModel):
    code: str
    message: str
    fields: list[FieldError] = []


class ErrorBody(BaseModel):
    error: ErrorDetail


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    database: bool
    broker: bool
