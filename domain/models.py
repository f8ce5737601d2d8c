"""SQLAlchemy ORM models: the storage schema. The API contract lives in `schemas.py`.

Money columns hold integer minor units (`*_minor`) next to their ISO 4217 currency.
Timestamps are timezone-aware UTC.
"""

import enum
import uuid
from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def new_id() -> str:
    return uuid.uuid4().hex


class UtcDateTime(TypeDecorator):
    """A timezone-aware UTC timestamp on every database.

    SQLite stores no offset and returns naive values; they were written as UTC, so UTC is
    attached again on the way out.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_result_value(self, value: datetime | None, _dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UtcDateTime}


class NotifyChannel(enum.StrEnum):
    EMAIL = "email"
    SMS = "sms"


class OrderStatus(enum.StrEnum):
    """The position of an order in its saga. Each step moves it one status forward."""

    QUEUED = "queued"
    VALIDATED = "validated"
    RESERVED = "reserved"
    PAID = "paid"
    COMPLETED = "completed"
    COMPENSATING = "compensating"
    FAILED = "failed"


class PaymentStatus(enum.StrEnum):
    PENDING = "pending"
    CAPTURED = "captured"
    DECLINED = "declined"
    REFUNDED = "refunded"
    # The order failed while its charge may have reached the gateway. The refund step looks
    # the charge up at the gateway and refunds it if it exists.
    UNCERTAIN = "uncertain"
    # Checked after an uncertain failure: the gateway never charged.
    NOT_CHARGED = "not_charged"


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(32))
    notify_via: Mapped[str] = mapped_column(String(8), default=NotifyChannel.EMAIL.value)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]


class Product(Base):
    __tablename__ = "products"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    sku: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    price_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    stock: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime]


class Order(Base):
    __tablename__ = "orders"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    job_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_id)
    # No foreign key: with the users service deployed apart, users live in another database.
    user_id: Mapped[str] = mapped_column(String(32), index=True)
    status: Mapped[str] = mapped_column(String(16), default=OrderStatus.QUEUED.value, index=True)
    currency: Mapped[str] = mapped_column(String(3))
    total_minor: Mapped[int] = mapped_column(BigInteger)
    failure_reason: Mapped[str | None] = mapped_column(Text)
    stock_reserved: Mapped[bool] = mapped_column(Boolean, default=False)
    notification_status: Mapped[str] = mapped_column(String(16), default="pending")
    notification_error: Mapped[str | None] = mapped_column(Text)
    # Deliveries of the current step's task, kept here so a task that kills its worker
    # again and again ends in a failed order instead of a redelivery loop.
    step_attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime] = mapped_column(index=True)

    # Items and steps are loaded on access: most steps read neither, and each eager load
    # costs a query on every read of an order.
    items: Mapped[list["OrderItem"]] = relationship(back_populates="order", order_by="OrderItem.id")
    steps: Mapped[list["OrderStep"]] = relationship(order_by="OrderStep.id")
    payment: Mapped["Payment"] = relationship(lazy="joined")


class OrderItem(Base):
    __tablename__ = "order_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), index=True)
    product_id: Mapped[str] = mapped_column(ForeignKey("products.id"))
    sku: Mapped[str] = mapped_column(String(64))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price_minor: Mapped[int] = mapped_column(BigInteger)

    order: Mapped[Order] = relationship(back_populates="items")


class OrderStep(Base):
    """One entry of an order's timeline: a step that started, succeeded, failed or compensated."""

    __tablename__ = "order_steps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), index=True)
    step: Mapped[str] = mapped_column(String(32))
    outcome: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime]


class Payment(Base):
    """The payment of an order. It contains no card number or CVC, only brand, last four and a token."""

    __tablename__ = "payments"

    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), primary_key=True)
    method: Mapped[str] = mapped_column(String(16))
    brand: Mapped[str | None] = mapped_column(String(32))
    last4: Mapped[str | None] = mapped_column(String(4))
    payer_email: Mapped[str | None] = mapped_column(String(320))
    token: Mapped[str | None] = mapped_column(String(64))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16), default=PaymentStatus.PENDING.value)
    reference: Mapped[str | None] = mapped_column(String(64))
    refund_reference: Mapped[str | None] = mapped_column(String(64))


class OutboxMessage(Base):
    """A task message committed with the change that caused it; a relay publishes it."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(String(32), index=True)
    task: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None] = mapped_column(index=True)


class SentNotification(Base):
    """A notification claimed for sending, then marked sent, so that only one run sends it."""

    __tablename__ = "sent_notifications"

    idempotency_key: Mapped[str] = mapped_column(String(128), primary_key=True)
    channel: Mapped[str] = mapped_column(String(8))
    # When the current sender claimed it; a claim left by a dead sender is taken over.
    claimed_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]


class IdempotencyRecord(Base):
    """The stored response to a request made with an `Idempotency-Key` header."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("scope", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    scope: Mapped[str] = mapped_column(String(200))
    key: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(Integer)
    body: Mapped[dict | None] = mapped_column(JSON)
    headers: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(index=True)


# Sandbox gateways and providers keep their own records, as the real services would on
# their side. They live in the same database only because the sandboxes run in-process.


class SandboxLedgerEntry(Base):
    __tablename__ = "sandbox_ledger"

    idempotency_key: Mapped[str] = mapped_column(String(128), primary_key=True)
    processor: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(8))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    approved: Mapped[bool] = mapped_column(Boolean)
    decline_code: Mapped[str | None] = mapped_column(String(32))
    reference: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]


class SandboxSms(Base):
    __tablename__ = "sandbox_sms"

    idempotency_key: Mapped[str] = mapped_column(String(128), primary_key=True)
    phone: Mapped[str] = mapped_column(String(32))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
