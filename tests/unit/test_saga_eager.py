"""The order saga end to end with Celery in eager mode: tasks run inline, in order.

The database is real (SQLite, and PostgreSQL when configured) and so is the SMTP server;
only the broker is skipped.
"""

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from domain.bootstrap import Container, bootstrap
from domain.models import Order, OrderStatus, SandboxSms
from domain.settings import Settings
from domain.steps import Step
from ops.ports import free_port
from tests.builders import (
    ALWAYS_FAILING_CARD,
    DECLINED_CARD,
    NO_FUNDS_CARD,
    add_product,
    add_user,
    card,
    order_request,
    paypal,
)
from workers.app import app as celery_app
from workers.container import reset_container, use_container
from workers.publisher import CeleryPublisher


@contextmanager
def eager_worker(settings: Settings) -> Iterator[Container]:
    container = bootstrap(settings, CeleryPublisher(celery_app))
    use_container(container)
    celery_app.conf.update(task_always_eager=True, task_eager_propagates=True)
    try:
        yield container
    finally:
        celery_app.conf.update(task_always_eager=False, task_eager_propagates=False)
        reset_container()
        container.dispose()


@pytest.fixture
def eager(settings: Settings) -> Iterator[Container]:
    with eager_worker(settings) as container:
        yield container


def run_order(container: Container, request):
    order, message_id = container.orders.submit(request, request.user_id)
    container.outbox.publish(message_id, Step.VALIDATE_USER, order.id)
    return container.orders.view(order.id)


def stock_of(container: Container, product) -> int:
    return container.catalog.get(product.id).stock


def test_approved_order_completes(eager, smtp_sink):
    user = add_user(eager)
    product = add_product(eager, price="2.55", stock=5)

    order = run_order(eager, order_request(user, product, quantity=2))

    assert order.status == OrderStatus.COMPLETED
    assert order.total == "5.10"
    assert [step.step for step in order.steps] == ["validate_user", "reserve_stock", "charge_payment", "send_confirmation"]
    assert (order.payment.brand, order.payment.last4, order.payment.status) == ("Visa", "4242", "captured")
    assert stock_of(eager, product) == 3
    mail = smtp_sink.wait_for(1)[0]
    assert mail.rcpt_tos == (user.email,)
    assert order.id in mail.subject


def test_declined_card_releases_stock(eager):
    user = add_user(eager)
    product = add_product(eager, stock=5)

    order = run_order(eager, order_request(user, product, quantity=3, payment=card(DECLINED_CARD)))

    assert order.status == OrderStatus.FAILED
    assert order.failure_reason == "payment declined: card_declined"
    assert order.steps[-1].step == "release_stock"
    assert stock_of(eager, product) == 5


def test_paypal_no_funds_fails(eager):
    user = add_user(eager)
    product = add_product(eager, stock=5)

    order = run_order(eager, order_request(user, product, payment=paypal("bob+nofunds@example.com")))

    assert order.failure_reason == "payment declined: insufficient_funds"
    assert stock_of(eager, product) == 5


def test_insufficient_funds_card_fails(eager):
    user = add_user(eager)
    product = add_product(eager)
    order = run_order(eager, order_request(user, product, payment=card(NO_FUNDS_CARD)))
    assert order.failure_reason == "payment declined: insufficient_funds"


def test_disabled_user_fails_validation(eager):
    user = add_user(eager, active=False)
    product = add_product(eager, stock=5)

    order = run_order(eager, order_request(user, product))

    assert order.status == OrderStatus.FAILED
    assert order.failure_reason == "user is disabled"
    assert [step.step for step in order.steps] == ["validate_user"]
    assert stock_of(eager, product) == 5


def test_unknown_user_fails_validation(eager):
    product = add_product(eager)
    request = order_request(add_user(eager), product).model_copy(update={"user_id": "no-such-user"})
    assert run_order(eager, request).failure_reason == "user not found"


def test_out_of_stock_fails_without_taking_stock(eager):
    user = add_user(eager)
    product = add_product(eager, stock=2)

    order = run_order(eager, order_request(user, product, quantity=3))

    assert order.failure_reason == "out of stock: " + product.sku + " (requested 3)"
    assert stock_of(eager, product) == 2


def test_gateway_outage_retries_then_releases(eager):
    # Celery re-runs a retried task inline only when eager errors do not propagate.
    celery_app.conf.task_eager_propagates = False
    user = add_user(eager)
    product = add_product(eager, stock=4)

    order = run_order(eager, order_request(user, product, payment=card(ALWAYS_FAILING_CARD)))

    assert order.status == OrderStatus.FAILED
    assert order.failure_reason == "charge_payment failed: card gateway returned processing_error"
    assert stock_of(eager, product) == 4
    with eager.session_factory() as session:
        attempts = session.scalar(select(Order.step_attempts).where(Order.id == order.id))
    assert attempts == 0


def test_unreachable_smtp_keeps_paid_order(settings):
    closed_port = free_port("127.0.0.1")
    with eager_worker(settings.model_copy(update={"smtp_port": closed_port})) as eager:
        celery_app.conf.task_eager_propagates = False
        user = add_user(eager)
        product = add_product(eager, stock=4)

        order = run_order(eager, order_request(user, product))

    assert order.status == OrderStatus.COMPLETED
    assert order.payment.status == "captured"
    assert order.notification.status == "failed"
    assert "SMTP server" in order.notification.error


class RefusingSmtpHandler:
    """Refuses every recipient with 550 (mailbox unavailable), as for an address that does not exist."""

    def __init__(self) -> None:
        self.attempts = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        self.attempts += 1
        return "550 mailbox unavailable"


def test_refused_address_completes_without_retry(settings):
    handler = RefusingSmtpHandler()
    port = free_port("127.0.0.1")
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        with eager_worker(settings.model_copy(update={"smtp_port": port})) as eager:
            user = add_user(eager)
            product = add_product(eager, stock=4)

            order = run_order(eager, order_request(user, product))
    finally:
        controller.stop()

    assert order.status == OrderStatus.COMPLETED
    assert order.payment.status == "captured"
    assert order.notification.status == "failed"
    assert "rejected the message (550)" in order.notification.error
    assert handler.attempts == 1


def test_sms_user_gets_sms(eager):
    user = add_user(eager, notify_via="sms", phone="+447700900123")
    product = add_product(eager)

    order = run_order(eager, order_request(user, product))

    assert order.notification.status == "sent"
    with eager.session_factory() as session:
        messages = session.scalars(select(SandboxSms)).all()
    assert [message.phone for message in messages] == ["+447700900123"]


def test_redelivered_steps_do_not_repeat(eager, smtp_sink):
    user = add_user(eager)
    product = add_product(eager, stock=5)
    order = run_order(eager, order_request(user, product, quantity=2))

    for step in (Step.VALIDATE_USER, Step.RESERVE_STOCK, Step.CHARGE_PAYMENT, Step.SEND_CONFIRMATION):
        celery_app.tasks[f"orderflow.{step}"].apply(args=[order.id])

    assert stock_of(eager, product) == 3
    assert len(eager.orders.view(order.id).steps) == 4
    assert len(smtp_sink.wait_for(1)) == 1
