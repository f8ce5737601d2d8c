"""Saga steps driven one by one on a real database: duplicates, late charges, attempt limits."""

from datetime import timedelta

from sqlalchemy import select

from domain.models import OrderStatus, SandboxLedgerEntry
from domain.money import Money
from domain.payments import PaymentSource
from domain.saga import charge_key
from domain.steps import Step
from domain.sweeper import SweepPolicy
from tests.builders import add_product, add_user, order_request


def placed_order(container, stock: int = 5, quantity: int = 2) -> tuple[str, str]:
    user = add_user(container)
    product = add_product(container, stock=stock)
    order, _message = container.orders.submit(order_request(user, product, quantity=quantity), user.id)
    return order.id, product.id


def ledger(container) -> list[SandboxLedgerEntry]:
    with container.session_factory() as session:
        return list(session.scalars(select(SandboxLedgerEntry).order_by(SandboxLedgerEntry.kind)))


def test_each_step_twice_is_one_step(container):
    order_id, product_id = placed_order(container)

    for step in (Step.VALIDATE_USER, Step.RESERVE_STOCK, Step.CHARGE_PAYMENT, Step.SEND_CONFIRMATION):
        first = getattr(container.saga, step)(order_id)
        second = getattr(container.saga, step)(order_id)
        assert second == first

    order = container.orders.view(order_id)
    assert order.status == OrderStatus.COMPLETED
    assert len(order.steps) == 4
    assert container.catalog.get(product_id).stock == 3
    assert [entry.kind for entry in ledger(container)] == ["charge"]


def test_charge_before_crash_is_refunded(container):
    order_id, product_id = placed_order(container)
    container.saga.validate_user(order_id)
    container.saga.reserve_stock(order_id)

    # The gateway charges, then the worker dies before recording it, and the sweeper
    # fails the order before the redelivered step runs.
    order = container.saga._begin(order_id, Step.CHARGE_PAYMENT)
    source = PaymentSource(token=order.payment.token)
    container.saga.processors["card"].charge(charge_key(order_id), source, Money(order.total_minor, order.currency))
    assert container.saga.fail(order_id, "deadline", "order timed out before it finished") == [Step.RELEASE_STOCK]
    assert container.saga.release_stock(order_id) == [Step.REFUND_PAYMENT]

    assert container.saga.charge_payment(order_id) == [Step.REFUND_PAYMENT]
    assert container.saga.refund_payment(order_id) == []
    assert container.saga.refund_payment(order_id) == []

    order = container.orders.view(order_id)
    assert order.status == OrderStatus.FAILED
    assert order.payment.status == "refunded"
    assert container.catalog.get(product_id).stock == 5
    assert sorted(entry.kind for entry in ledger(container)) == ["charge", "refund"]


def test_uncertain_charge_never_made(container):
    order_id, _product_id = placed_order(container)
    container.saga.validate_user(order_id)
    container.saga.reserve_stock(order_id)

    container.saga.fail(order_id, "deadline", "order timed out before it finished")
    container.saga.release_stock(order_id)
    assert container.saga.refund_payment(order_id) == []

    order = container.orders.view(order_id)
    assert (order.status, order.payment.status) == ("failed", "not_charged")
    assert order.steps[-1].detail == "no charge reached the gateway"
    assert ledger(container) == []


def test_charge_landing_after_check_is_refunded(container):
    order_id, _product_id = placed_order(container)
    container.saga.validate_user(order_id)
    container.saga.reserve_stock(order_id)
    order = container.saga._begin(order_id, Step.CHARGE_PAYMENT)

    # The refund step finds no charge, then the slow charge step gets its approval.
    container.saga.fail(order_id, "deadline", "order timed out before it finished")
    container.saga.release_stock(order_id)
    container.saga.refund_payment(order_id)
    processor = container.saga.processors["card"]
    result = processor.charge(charge_key(order_id), PaymentSource(token=order.payment.token), Money(order.total_minor, order.currency))
    with container.saga.uow_factory() as uow:
        container.saga._record_capture(uow, order_id, result.reference)
        assert container.saga._refund_late_capture(uow, order_id) == [Step.REFUND_PAYMENT]

    assert container.saga.refund_payment(order_id) == []
    assert container.orders.view(order_id).payment.status == "refunded"


def test_attempt_limit_fails_order(container):
    order_id, product_id = placed_order(container)
    container.saga.validate_user(order_id)

    # Deliveries that died before finishing: each counts an attempt and does nothing else.
    for _delivery in range(container.saga.max_step_attempts):
        assert container.saga._begin(order_id, Step.RESERVE_STOCK, redelivered=True) is not None
    assert container.saga.reserve_stock(order_id, redelivered=True) == []

    order = container.orders.view(order_id)
    assert order.status == OrderStatus.FAILED
    assert order.failure_reason == "reserve_stock failed: delivered 11 times without finishing"
    assert container.catalog.get(product_id).stock == 5


def test_sweeper_completes_paid_order_past_deadline(container):
    order_id, _product_id = placed_order(container)
    for step in (Step.VALIDATE_USER, Step.RESERVE_STOCK, Step.CHARGE_PAYMENT):
        getattr(container.saga, step)(order_id)
    container.sweeper.policy = SweepPolicy(step_deadline=timedelta(0), max_age=timedelta(0))

    assert container.sweeper.sweep() == []

    order = container.orders.view(order_id)
    assert order.status == OrderStatus.COMPLETED
    assert order.payment.status == "captured"
    assert order.notification.status == "failed"


def test_sweeper_waits_before_resending(container):
    order_id, _product_id = placed_order(container)
    container.sweeper.policy = SweepPolicy(step_deadline=timedelta(0), max_age=timedelta(hours=1))
    assert container.sweeper.sweep() == [(order_id, Step.VALIDATE_USER)]

    container.sweeper.policy = SweepPolicy(step_deadline=timedelta(minutes=5), max_age=timedelta(hours=1))
    assert container.sweeper.sweep() == []
