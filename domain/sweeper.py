"""Finds orders whose saga stalled and gets them moving again, or fails them when too old."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from domain.models import OrderStatus
from domain.saga import OrderSaga
from domain.service import Service
from domain.steps import Step
from domain.unit_of_work import UnitOfWork

IN_FLIGHT = [
    OrderStatus.QUEUED.value,
    OrderStatus.VALIDATED.value,
    OrderStatus.RESERVED.value,
    OrderStatus.PAID.value,
    OrderStatus.COMPENSATING.value,
]


@dataclass(frozen=True)
class SweepPolicy:
    # A step that has not moved for this long is assumed lost and is dispatched again.
    # It must exceed the longest step plus its longest retry countdown, or live steps
    # get duplicate messages (harmless, but wasted work).
    step_deadline: timedelta = timedelta(minutes=5)
    # An order still unfinished this long after it was placed fails with its compensations.
    max_age: timedelta = timedelta(hours=1)
    batch: int = 500


class Sweeper(Service):
    def __init__(self, uow_factory: Callable[[], UnitOfWork], saga: OrderSaga, policy: SweepPolicy, **kwargs) -> None:
        super().__init__(**kwargs)
        self.uow_factory = uow_factory
        self.saga = saga
        self.policy = policy

    def sweep(self) -> list[tuple[str, Step]]:
        """Return (order id, step) pairs to dispatch again, after failing orders past max age."""
        now = self.clock()
        with self.uow_factory(read_only=True) as uow:
            stalled = [
                (order.id, order.status, order.created_at)
                for order in uow.orders.stalled(IN_FLIGHT, now - self.policy.step_deadline, self.policy.batch)
            ]

        redrive = []
        for order_id, status, created_at in stalled:
            redrive.extend((order_id, step) for step in self._unstick(order_id, status, created_at < now - self.policy.max_age))

        # Restart each re-driven order's deadline, so the next sweep does not send it again
        # while the message is still queued behind others (or the workers are down).
        with self.uow_factory() as uow:
            uow.orders.touch([order_id for order_id, _step in redrive], now)
            uow.commit()

        if redrive:
            self.log.warning("Re-driving stalled orders", extra={"count": len(redrive)})
        return redrive

    def _unstick(self, order_id: str, status: str, too_old: bool) -> list[Step]:
        if not too_old or status == OrderStatus.COMPENSATING:
            return self.saga.due(order_id)
        if status == OrderStatus.PAID:
            # Paid and only waiting for its confirmation, so the sale is valid without the mail.
            return self.saga.complete_without_notification(order_id, "confirmation not sent before the order's deadline")
        return self.saga.fail(order_id, "deadline", "order timed out before it finished")
