"""Taking orders in and showing their progress."""

from collections.abc import Callable

from domain.errors import InvalidRequest, NotFound
from domain.idempotency import IdempotencyClaim, StoredResponse, store_response
from domain.models import Order, OrderItem, OrderStatus, Payment, Product, new_id
from domain.money import format_amount
from domain.payments import CreditCardProcessor
from domain.schemas import (
    MAX_ORDER_TOTAL_MINOR,
    CardPayment,
    JobView,
    NotificationView,
    OrderCreate,
    OrderLineView,
    OrderView,
    PaymentView,
    StepView,
)
from domain.service import Service
from domain.steps import Step, step_due
from domain.unit_of_work import UnitOfWork


class OrderService(Service):
    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        card_processor: CreditCardProcessor,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.uow_factory = uow_factory
        self.card_processor = card_processor

    def submit(
        self,
        request: OrderCreate,
        user_id: str,
        claim: IdempotencyClaim | None = None,
        response_for: Callable[[Order], StoredResponse] | None = None,
    ) -> tuple[Order, int]:
        """Store an order of `user_id` with the outbox message that starts its saga, in one transaction.

        Returns the order and the id of that outbox message, for the caller to publish. The
        caller has checked that `request.user_id`, when set, is `user_id`. With an
        idempotency `claim`, the response `response_for` renders is committed with the order,
        so a retry after a crash gets it back instead of placing a second order.
        """
        now = self.clock()
        payment = self._payment_for(request)

        with self.uow_factory() as uow:
            products = uow.products.by_skus(line.sku for line in request.items)
            currency = _single_currency(request, products)
            order = Order(id=new_id(), job_id=new_id(), user_id=user_id, currency=currency, created_at=now, updated_at=now)
            order.items = [_item_for(line.sku, line.quantity, products) for line in request.items]
            order.total_minor = _checked_total(order)
            payment.order_id, payment.amount_minor, payment.currency = order.id, order.total_minor, currency
            order.payment = payment
            uow.orders.add(order)
            message = uow.outbox.add(order.id, Step.VALIDATE_USER.value, now)
            if claim is not None and response_for is not None:
                store_response(uow.session, claim, response_for(order))
            uow.commit()

        self.log.info("Accepted order", extra={"order_id": order.id, "job_id": order.job_id})
        return order, message.id

    def view(self, order_id: str) -> OrderView:
        with self.uow_factory(read_only=True) as uow:
            order = uow.orders.get(order_id)
            if order is None:
                raise NotFound("order", order_id)
            return _order_view(order)

    def job(self, job_id: str) -> JobView:
        return self.job_with_owner(job_id)[0]

    def job_with_owner(self, job_id: str) -> tuple[JobView, str]:
        """Return a job and the id of the user whose order it processes."""
        with self.uow_factory(read_only=True) as uow:
            order = uow.orders.get_by_job(job_id)
            if order is None:
                raise NotFound("job", job_id)
            return _job_view(order), order.user_id

    def counts_by_status(self) -> dict[str, int]:
        with self.uow_factory(read_only=True) as uow:
            return uow.orders.count_by_status()

    def _payment_for(self, request: OrderCreate) -> Payment:
        """Build the order's payment record, tokenising a card first.

        Runs before the order's transaction opens, because tokenising is a gateway call.
        """
        payment = Payment(method=request.payment.method)
        if isinstance(request.payment, CardPayment):
            # The card number goes to the gateway's vault and no further: we keep its token.
            card_number = request.payment.card_number
            card = self.card_processor.tokenize(card_number, card_number.brand)
            payment.token, payment.brand, payment.last4 = card.token, card.brand, card.last4
        else:
            payment.payer_email = request.payment.payer_email
        return payment


def _single_currency(request: OrderCreate, products: dict[str, Product]) -> str:
    for index, line in enumerate(request.items):
        if line.sku not in products:
            raise InvalidRequest(f"items.{index}.sku", f"no product with SKU {line.sku!r}: check GET /products")

    currencies = {products[line.sku].currency for line in request.items}
    if len(currencies) > 1:
        raise InvalidRequest("items", f"items are priced in several currencies ({', '.join(sorted(currencies))}): place one order per currency")
    return currencies.pop()


def _checked_total(order: Order) -> int:
    total = sum(item.unit_price_minor * item.quantity for item in order.items)
    if total > MAX_ORDER_TOTAL_MINOR:
        limit = format_amount(MAX_ORDER_TOTAL_MINOR, order.currency)
        raise InvalidRequest("items", f"the order total is more than the maximum of {limit} {order.currency}: place a smaller order")
    return total


def _item_for(sku: str, quantity: int, products: dict[str, Product]) -> OrderItem:
    product = products[sku]
    return OrderItem(product_id=product.id, sku=sku, quantity=quantity, unit_price_minor=product.price_minor)


def _order_view(order: Order) -> OrderView:
    return OrderView(
        id=order.id,
        job_id=order.job_id,
        user_id=order.user_id,
        status=order.status,
        items=[
            OrderLineView(sku=item.sku, quantity=item.quantity, unit_price=format_amount(item.unit_price_minor, order.currency))
            for item in order.items
        ],
        total=format_amount(order.total_minor, order.currency),
        currency=order.currency,
        payment=PaymentView(
            method=order.payment.method,
            brand=order.payment.brand,
            last4=order.payment.last4,
            status=order.payment.status,
        ),
        steps=[StepView(step=step.step, outcome=step.outcome, detail=step.detail, at=step.at) for step in order.steps],
        failure_reason=order.failure_reason,
        notification=NotificationView(status=order.notification_status, error=order.notification_error),
        created_at=order.created_at,
        updated_at=order.updated_at,
    )


def _job_view(order: Order) -> JobView:
    status = OrderStatus(order.status)
    if status == OrderStatus.COMPLETED:
        state, step = "succeeded", None
    elif status == OrderStatus.FAILED:
        state, step = "failed", _failed_step(order)
    elif status == OrderStatus.QUEUED and order.step_attempts == 0:
        state, step = "queued", Step.VALIDATE_USER.value
    elif status == OrderStatus.COMPENSATING:
        state, step = "running", _pending_compensation(order)
    else:
        state, step = "running", step_due(order.status).value
    return JobView(job_id=order.job_id, order_id=order.id, state=state, step=step, error=order.failure_reason)


def _failed_step(order: Order) -> str | None:
    return next((record.step for record in reversed(order.steps) if record.outcome == "failed"), None)


def _pending_compensation(order: Order) -> str:
    if order.stock_reserved:
        return Step.RELEASE_STOCK.value
    return Step.REFUND_PAYMENT.value
