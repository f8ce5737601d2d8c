"""Repositories over a SQLAlchemy session. None of them commits: the unit of work does.

Stock and order-status changes are single conditional UPDATEs, so that two transactions
racing for the last unit, or two deliveries of one task, cannot both succeed. That holds
on PostgreSQL (the UPDATE takes a row lock and re-checks its WHERE clause after the other
transaction commits) and on SQLite (a write transaction holds the database write lock).
"""

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from domain.models import Order, OrderStep, OutboxMessage, Product, SentNotification, User


class UserRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, user: User) -> None:
        self.session.add(user)

    def get(self, user_id: str) -> User | None:
        return self.session.get(User, user_id)

    def get_by_email(self, email: str) -> User | None:
        return self.session.scalar(select(User).where(User.email == email))


class ProductRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, product: Product) -> None:
        self.session.add(product)

    def get(self, product_id: str) -> Product | None:
        return self.session.get(Product, product_id)

    def get_by_sku(self, sku: str) -> Product | None:
        return self.session.scalar(select(Product).where(Product.sku == sku))

    def by_skus(self, skus: Iterable[str]) -> dict[str, Product]:
        products = self.session.scalars(select(Product).where(Product.sku.in_(set(skus))))
        return {product.sku: product for product in products}

    def list(self, offset: int, limit: int, sku: str | None = None) -> Sequence[Product]:
        query = select(Product).order_by(Product.sku).offset(offset).limit(limit)
        if sku is not None:
            query = query.where(Product.sku == sku)
        return self.session.scalars(query).all()

    def take_stock(self, product_id: str, quantity: int) -> bool:
        """Decrement stock by `quantity` if that much is on hand; return whether it was."""
        result = self.session.execute(
            update(Product)
            .where(Product.id == product_id, Product.stock >= quantity)
            .values(stock=Product.stock - quantity)
        )
        return result.rowcount == 1

    def return_stock(self, product_id: str, quantity: int) -> None:
        self.session.execute(
            update(Product).where(Product.id == product_id).values(stock=Product.stock + quantity)
        )


class OrderRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, order: Order) -> None:
        self.session.add(order)

    def get(self, order_id: str, fresh: bool = False) -> Order | None:
        """Load an order; `fresh` re-reads it even if this session loaded it before."""
        return self.session.get(Order, order_id, populate_existing=fresh)

    def get_by_job(self, job_id: str) -> Order | None:
        return self.session.scalar(select(Order).where(Order.job_id == job_id))

    def advance(self, order_id: str, expected: str, new: str, now: datetime, **values) -> bool:
        """Move an order from `expected` to `new` status; return False if it was not in `expected`.

        This compare-and-set is what makes every step safe to run twice.
        """
        result = self.session.execute(
            update(Order)
            .where(Order.id == order_id, Order.status == expected)
            .values(status=new, updated_at=now, step_attempts=0, **values)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1

    def count_attempt(self, order_id: str, expected: str, now: datetime) -> int | None:
        """Count one more delivery of the step due in `expected` status; None if not there."""
        result = self.session.execute(
            update(Order)
            .where(Order.id == order_id, Order.status == expected)
            .values(step_attempts=Order.step_attempts + 1, updated_at=now)
            .returning(Order.step_attempts)
            .execution_options(synchronize_session=False)
        )
        return result.scalar_one_or_none()

    def touch(self, order_ids: Sequence[str], now: datetime) -> None:
        if order_ids:
            self.session.execute(
                update(Order).where(Order.id.in_(order_ids)).values(updated_at=now).execution_options(synchronize_session=False)
            )

    def record_step(self, order_id: str, step: str, outcome: str, now: datetime, detail: str | None = None) -> None:
        self.session.add(OrderStep(order_id=order_id, step=step, outcome=outcome, detail=detail, at=now))

    def stalled(self, statuses: Sequence[str], updated_before: datetime, limit: int) -> Sequence[Order]:
        return self.session.scalars(
            select(Order)
            .where(Order.status.in_(statuses), Order.updated_at < updated_before)
            .order_by(Order.updated_at)
            .limit(limit)
        ).all()

    def count_by_status(self) -> dict[str, int]:
        rows = self.session.execute(select(Order.status, func.count()).group_by(Order.status))
        return {status: count for status, count in rows}


class OutboxRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, order_id: str, task: str, now: datetime) -> OutboxMessage:
        message = OutboxMessage(order_id=order_id, task=task, created_at=now)
        self.session.add(message)
        return message

    def pending(self, created_before: datetime, limit: int) -> Sequence[OutboxMessage]:
        return self.session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.sent_at.is_(None), OutboxMessage.created_at < created_before)
            .order_by(OutboxMessage.id)
            .limit(limit)
        ).all()

    def mark_sent(self, message_ids: Sequence[int], now: datetime) -> None:
        self.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(message_ids), OutboxMessage.sent_at.is_(None))
            .values(sent_at=now)
        )


class NotificationRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, idempotency_key: str) -> SentNotification | None:
        return self.session.get(SentNotification, idempotency_key, populate_existing=True)

    def add_claim(self, idempotency_key: str, channel: str, now: datetime) -> None:
        self.session.add(SentNotification(idempotency_key=idempotency_key, channel=channel, claimed_at=now))

    def take_over(self, idempotency_key: str, claimed_at: datetime, now: datetime) -> bool:
        """Move a stale claim to `now`; compare-and-set so that one run wins."""
        result = self.session.execute(
            update(SentNotification)
            .where(SentNotification.idempotency_key == idempotency_key, SentNotification.claimed_at == claimed_at)
            .values(claimed_at=now)
        )
        return result.rowcount == 1

    def mark_sent(self, idempotency_key: str, now: datetime) -> None:
        self.session.execute(
            update(SentNotification).where(SentNotification.idempotency_key == idempotency_key).values(sent_at=now)
        )

    def release(self, idempotency_key: str) -> None:
        self.session.execute(
            delete(SentNotification).where(SentNotification.idempotency_key == idempotency_key, SentNotification.sent_at.is_(None))
        )
