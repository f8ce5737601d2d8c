"""The order saga: each step of processing an order, and the compensations that undo them.

Every method is safe to run twice and concurrently with itself. A step first counts its
delivery, then does its remote work outside any transaction, then records the effect and
moves the order's status forward with a compare-and-set in one transaction. A second run
finds the status already moved and only returns the step that is due now, which the
caller dispatches again (a duplicate message is harmless for the same reason).

Each method returns the steps to dispatch next. Remote failures that may pass
(`TransientError`) propagate so the caller can retry with backoff; business failures fail
the order and return its compensations.
"""

from collections.abc import Callable, Mapping
from datetime import timedelta

from sqlalchemy.exc import IntegrityError

from domain.errors import NotFound, NotificationRejected, OrderRejected, OutOfStock
from domain.models import Order, OrderStatus, PaymentStatus
from domain.money import Money, format_amount
from domain.notifications import Notification, Notifier
from domain.payments import ChargeResult, PaymentProcessor, PaymentSource
from domain.service import Service
from domain.steps import FINAL_STATUSES, FORWARD, Step, step_due
from domain.unit_of_work import UnitOfWork
from domain.users import Customer, UserDirectory

# The status each step runs in.
EXPECTED_STATUS = {step: status for status, (step, _next) in FORWARD.items()} | {
    Step.RELEASE_STOCK: OrderStatus.COMPENSATING,
    Step.REFUND_PAYMENT: OrderStatus.COMPENSATING,
}

COMPENSATIONS = (Step.RELEASE_STOCK, Step.REFUND_PAYMENT)

# Outcomes of claiming a notification for sending.
CLAIMED, ALREADY_SENT, BUSY = "claimed", "already_sent", "busy"
# Longer than the SMTP timeout, so that a live sender's claim is never taken over.
NOTIFICATION_CLAIM_TIMEOUT = timedelta(seconds=60)
REFUNDABLE = (PaymentStatus.CAPTURED, PaymentStatus.UNCERTAIN)


class OrderSaga(Service):
    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        directory: UserDirectory,
        processors: Mapping[str, PaymentProcessor],
        notifiers: Mapping[str, Notifier],
        max_step_attempts: int = 10,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.uow_factory = uow_factory
        self.directory = directory
        self.processors = processors
        self.notifiers = notifiers
        self.max_step_attempts = max_step_attempts

    # Forward steps

    def validate_user(self, order_id: str, redelivered: bool = False) -> list[Step]:
        order = self._begin(order_id, Step.VALIDATE_USER, redelivered)
        if order is None:
            return self.due(order_id)

        try:
            customer = self.directory.lookup(order.user_id)
        except NotFound:
            return self.fail(order_id, Step.VALIDATE_USER, "user not found")
        if not customer.active:
            return self.fail(order_id, Step.VALIDATE_USER, "user is disabled")

        return self._advance(order_id, Step.VALIDATE_USER)

    def reserve_stock(self, order_id: str, redelivered: bool = False) -> list[Step]:
        # The step is local, so a first delivery needs no read before its transaction: the
        # compare-and-set in it is the check that the step is due.
        if redelivered and self._begin(order_id, Step.RESERVE_STOCK, redelivered) is None:
            return self.due(order_id)
        if not redelivered:
            self.log.info("Step started", extra={"order_id": order_id, "step": Step.RESERVE_STOCK, "attempt": 1})

        try:
            with self.uow_factory() as uow:
                if not self._move(uow, order_id, Step.RESERVE_STOCK, stock_reserved=True):
                    return _due_in(uow, order_id)
                self._take_stock(uow, uow.orders.get(order_id))
                uow.commit()
        except OrderRejected as rejection:
            # The transaction rolled back, so no unit was taken and nothing needs releasing.
            return self.fail(order_id, Step.RESERVE_STOCK, str(rejection))

        return self._next_after(order_id, Step.RESERVE_STOCK)

    def charge_payment(self, order_id: str, redelivered: bool = False) -> list[Step]:
        order = self._begin(order_id, Step.CHARGE_PAYMENT, redelivered)
        if order is None:
            return self.due(order_id)

        try:
            result = self._processor_for(order).charge(
                charge_key(order_id), _source_of(order), Money(order.total_minor, order.currency)
            )
        except OrderRejected as decline:
            self._record_decline(order_id)
            return self.fail(order_id, Step.CHARGE_PAYMENT, str(decline))

        with self.uow_factory() as uow:
            moved = self._move(uow, order_id, Step.CHARGE_PAYMENT)
            self._record_capture(uow, order_id, result.reference)
            if not moved:
                # The order failed while the gateway was charging: the charge must be refunded.
                return self._refund_late_capture(uow, order_id)
            uow.commit()

        return self._next_after(order_id, Step.CHARGE_PAYMENT)

    def send_confirmation(self, order_id: str, redelivered: bool = False) -> list[Step]:
        order = self._begin(order_id, Step.SEND_CONFIRMATION, redelivered)
        if order is None:
            return self.due(order_id)

        customer = self.directory.lookup(order.user_id)
        notification = _confirmation(order, customer)
        claim = self._claim_notification(notification.idempotency_key, customer.notify_via)
        if claim == BUSY:
            # Another run has the claim and moves the order on when it has sent.
            return []
        if claim == CLAIMED:
            try:
                self._send_claimed(notification, customer.notify_via)
            except NotificationRejected as rejection:
                return self.complete_without_notification(order_id, str(rejection))

        return self._record_confirmation(order_id, notification.idempotency_key)

    def complete_without_notification(self, order_id: str, error: str) -> list[Step]:
        """Complete a paid order whose confirmation could not be delivered, because the sale is valid."""
        self.log.warning("Confirmation not delivered", extra={"order_id": order_id, "error": error})
        return self._advance(
            order_id, Step.SEND_CONFIRMATION, outcome="failed", detail=error,
            notification_status="failed", notification_error=error,
        )

    # Failure and compensations

    def fail(self, order_id: str, step: str, reason: str) -> list[Step]:
        """Fail an order for `reason` and return the first compensation it needs, if any."""
        with self.uow_factory() as uow:
            order = uow.orders.get(order_id)
            if OrderStatus(order.status) in FINAL_STATUSES | {OrderStatus.COMPENSATING}:
                return _due_in(uow, order_id)

            if order.status == OrderStatus.RESERVED and order.payment.status == PaymentStatus.PENDING:
                # The charge step may be at the gateway (or may have died after it).
                order.payment.status = PaymentStatus.UNCERTAIN
            pending = _pending_compensations(order)
            new_status = OrderStatus.COMPENSATING if pending else OrderStatus.FAILED
            if not uow.orders.advance(order_id, order.status, new_status, self.clock(), failure_reason=reason):
                return _due_in(uow, order_id)
            uow.orders.record_step(order_id, step, "failed", self.clock(), reason)
            uow.commit()

        self.log.info("Order failed", extra={"order_id": order_id, "step": step, "reason": reason})
        return pending[:1]

    def release_stock(self, order_id: str, redelivered: bool = False) -> list[Step]:
        with self.uow_factory() as uow:
            order = uow.orders.get(order_id)
            if order.status != OrderStatus.COMPENSATING or not order.stock_reserved:
                return _due_in(uow, order_id)

            for item in order.items:
                uow.products.return_stock(item.product_id, item.quantity)
            order.stock_reserved = False
            uow.orders.record_step(order_id, Step.RELEASE_STOCK, "compensated", self.clock())
            return self._finish_compensation(uow, order)

    def refund_payment(self, order_id: str, redelivered: bool = False) -> list[Step]:
        order = self._begin(order_id, Step.REFUND_PAYMENT, redelivered)
        if order is None or order.payment.status not in REFUNDABLE:
            return self.due(order_id)

        processor = self._processor_for(order)
        charge = self._charge_to_refund(processor, order)
        refund = None
        if charge is not None:
            refund = processor.refund(refund_key(order_id), charge.reference, charge.amount)

        with self.uow_factory() as uow:
            order = uow.orders.get(order_id)
            if order.payment.status not in REFUNDABLE:
                return _due_in(uow, order_id)
            _record_refund(order, refund)
            detail = None if refund else "no charge reached the gateway"
            uow.orders.record_step(order_id, Step.REFUND_PAYMENT, "compensated", self.clock(), detail)
            return self._finish_compensation(uow, order)

    def _charge_to_refund(self, processor: PaymentProcessor, order: Order) -> ChargeResult | None:
        if order.payment.status == PaymentStatus.CAPTURED:
            return ChargeResult(order.payment.reference, Money(order.payment.amount_minor, order.currency))
        return processor.find_charge(charge_key(order.id))

    def gave_up(self, order_id: str, step: Step, error: str) -> list[Step]:
        """Handle a step whose transient failures outlasted its retries."""
        if step == Step.SEND_CONFIRMATION:
            return self.complete_without_notification(order_id, error)
        if step in COMPENSATIONS:
            # Compensations never give up. The order stays compensating and the sweeper re-drives it.
            self.log.error("Compensation still failing", extra={"order_id": order_id, "step": step, "error": error})
            return []
        return self.fail(order_id, step, f"{step} failed: {error}")

    def due(self, order_id: str) -> list[Step]:
        """Return the step an order waits for now (for re-dispatch), or nothing if it is final."""
        with self.uow_factory(read_only=True) as uow:
            return _due_in(uow, order_id)

    # Helpers

    def _begin(self, order_id: str, step: Step, redelivered: bool = False) -> Order | None:
        """Return the order if `step` is due for it, else None; count a redelivery first.

        A redelivered message means a worker died while running it, so its delivery is
        counted in the database. Past `max_step_attempts` a forward step fails the order,
        so a task that crashes its worker every time cannot loop for ever. A first delivery
        only reads, which keeps the write lock free for the steps' own transactions.
        """
        if redelivered:
            order, attempts = self._count_redelivery(order_id, step)
        else:
            order, attempts = self._read_if_due(order_id, step), 1
        if order is None:
            return None

        self.log.info("Step started", extra={"order_id": order_id, "step": step, "attempt": attempts})
        if attempts > self.max_step_attempts and step not in COMPENSATIONS:
            self.gave_up(order_id, step, f"delivered {attempts} times without finishing")
            return None
        return order

    def _read_if_due(self, order_id: str, step: Step) -> Order | None:
        with self.uow_factory(read_only=True) as uow:
            order = uow.orders.get(order_id)
            return order if order is not None and order.status == EXPECTED_STATUS[step] else None

    def _count_redelivery(self, order_id: str, step: Step) -> tuple[Order | None, int]:
        with self.uow_factory() as uow:
            attempts = uow.orders.count_attempt(order_id, EXPECTED_STATUS[step], self.clock())
            if attempts is None:
                return None, 0
            order = uow.orders.get(order_id)
            uow.commit()
        self.log.warning("Step redelivered", extra={"order_id": order_id, "step": step, "attempt": attempts})
        return order, attempts

    def _move(self, uow: UnitOfWork, order_id: str, step: Step, **values) -> bool:
        expected = EXPECTED_STATUS[step]
        new = FORWARD[expected][1]
        if not uow.orders.advance(order_id, expected, new, self.clock(), **values):
            return False
        uow.orders.record_step(order_id, step, "succeeded", self.clock())
        return True

    def _advance(self, order_id: str, step: Step, outcome: str = "succeeded", detail: str | None = None, **values) -> list[Step]:
        expected = EXPECTED_STATUS[step]
        with self.uow_factory() as uow:
            if not uow.orders.advance(order_id, expected, FORWARD[expected][1], self.clock(), **values):
                return _due_in(uow, order_id)
            uow.orders.record_step(order_id, step, outcome, self.clock(), detail)
            uow.commit()
        return self._next_after(order_id, step)

    def _next_after(self, order_id: str, step: Step) -> list[Step]:
        next_status = FORWARD[EXPECTED_STATUS[step]][1]
        following = step_due(next_status)
        if following is None:
            self.log.info("Order completed", extra={"order_id": order_id, "step": step})
        return [following] if following else []

    def _take_stock(self, uow: UnitOfWork, order: Order) -> None:
        for item in order.items:
            if not uow.products.take_stock(item.product_id, item.quantity):
                raise OutOfStock(item.sku, item.quantity)

    def _record_decline(self, order_id: str) -> None:
        with self.uow_factory() as uow:
            payment = uow.orders.get(order_id).payment
            if payment.status == PaymentStatus.PENDING:
                payment.status = PaymentStatus.DECLINED
                uow.commit()

    def _record_capture(self, uow: UnitOfWork, order_id: str, reference: str) -> None:
        payment = uow.orders.get(order_id).payment
        if payment.status == PaymentStatus.REFUNDED:
            return
        payment.status = PaymentStatus.CAPTURED
        payment.reference = reference

    def _refund_late_capture(self, uow: UnitOfWork, order_id: str) -> list[Step]:
        """Commit a capture that another run already moved past, refunding it if the order failed."""
        order = uow.orders.get(order_id, fresh=True)
        if order.status in (OrderStatus.FAILED, OrderStatus.COMPENSATING):
            self.log.warning("Charge landed after the order failed", extra={"order_id": order_id})
        if order.status == OrderStatus.FAILED:
            uow.orders.advance(order_id, OrderStatus.FAILED, OrderStatus.COMPENSATING, self.clock())
        uow.commit()
        return _due_in(uow, order_id)

    def _finish_compensation(self, uow: UnitOfWork, order: Order) -> list[Step]:
        pending = _pending_compensations(order)
        if not pending:
            order.status = OrderStatus.FAILED
        order.updated_at = self.clock()
        order.step_attempts = 0
        uow.commit()
        return pending[:1]

    def _send_claimed(self, notification: Notification, channel: str) -> None:
        """Send a notification this run has claimed; on failure give the claim back.

        A run sends only after claiming the notification in the database, and marks it sent
        in the transaction that completes the step. A claim
        older than NOTIFICATION_CLAIM_TIMEOUT belongs to a run that died, and is taken over.
        NOTE: a crash between the provider accepting the message and the commit that marks
        it sent sends it twice. The email's stable Message-ID lets the receiver drop it.
        """
        try:
            self.notifiers[channel].send(notification)
        except Exception:
            self._release_notification(notification.idempotency_key)
            raise

    def _record_confirmation(self, order_id: str, key: str) -> list[Step]:
        # One transaction, so a confirmation marked sent always has its order moved on.
        with self.uow_factory() as uow:
            uow.notifications.mark_sent(key, self.clock())
            moved = self._move(uow, order_id, Step.SEND_CONFIRMATION, notification_status="sent")
            due = [] if moved else _due_in(uow, order_id)
            uow.commit()

        return self._next_after(order_id, Step.SEND_CONFIRMATION) if moved else due

    def _claim_notification(self, key: str, channel: str) -> str:
        with self.uow_factory() as uow:
            uow.notifications.add_claim(key, channel, self.clock())
            try:
                uow.commit()
                return CLAIMED
            except IntegrityError:
                uow.rollback()

            existing = uow.notifications.get(key)
            if existing is None:
                return BUSY
            if existing.sent_at is not None:
                return ALREADY_SENT
            stale = existing.claimed_at < self.clock() - NOTIFICATION_CLAIM_TIMEOUT
            if stale and uow.notifications.take_over(key, existing.claimed_at, self.clock()):
                uow.commit()
                return CLAIMED
            return BUSY

    def _release_notification(self, key: str) -> None:
        with self.uow_factory() as uow:
            uow.notifications.release(key)
            uow.commit()

    def _processor_for(self, order: Order) -> PaymentProcessor:
        return self.processors[order.payment.method]


def charge_key(order_id: str) -> str:
    """Return the idempotency key of an order's charge, the same on every attempt."""
    return f"{order_id}:charge"


def refund_key(order_id: str) -> str:
    return f"{order_id}:refund"


def confirmation_key(order_id: str) -> str:
    return f"{order_id}.confirmation"


def _due_in(uow: UnitOfWork, order_id: str) -> list[Step]:
    """Return the step an order waits for, read inside an open unit of work.

    Code inside a `with uow` block must use this rather than `due()`: on SQLite a second
    transaction would wait for the write lock that the open one holds.
    """
    order = uow.orders.get(order_id, fresh=True)
    if order is None:
        return []
    if order.status == OrderStatus.COMPENSATING:
        return _pending_compensations(order)[:1]
    step = step_due(order.status)
    return [step] if step else []


def _pending_compensations(order: Order) -> list[Step]:
    # Run one at a time, stock first: two compensations committing side by side could each
    # see the other still pending, and neither would mark the order failed.
    pending = []
    if order.stock_reserved:
        pending.append(Step.RELEASE_STOCK)
    if order.payment.status in REFUNDABLE:
        pending.append(Step.REFUND_PAYMENT)
    return pending


def _record_refund(order: Order, refund: ChargeResult | None) -> None:
    if refund is None:
        order.payment.status = PaymentStatus.NOT_CHARGED
        return
    order.payment.status = PaymentStatus.REFUNDED
    order.payment.refund_reference = refund.reference


def _source_of(order: Order) -> PaymentSource:
    return PaymentSource(token=order.payment.token, payer_email=order.payment.payer_email)


def _confirmation(order: Order, customer: Customer) -> Notification:
    recipient = customer.email if customer.notify_via == "email" else customer.phone
    total = f"{format_amount(order.total_minor, order.currency)} {order.currency}"
    return Notification(
        idempotency_key=confirmation_key(order.id),
        recipient=recipient,
        subject=f"Order {order.id} confirmed",
        body=f"Hello {customer.name},\n\nwe have received your payment of {total} for order {order.id}.\n",
    )
