"""The steps of the order saga and the order status each one expects."""

import enum

from domain.models import OrderStatus


class Step(enum.StrEnum):
    VALIDATE_USER = "validate_user"
    RESERVE_STOCK = "reserve_stock"
    CHARGE_PAYMENT = "charge_payment"
    SEND_CONFIRMATION = "send_confirmation"
    # Compensations, run when an order fails after an earlier step took effect.
    RELEASE_STOCK = "release_stock"
    REFUND_PAYMENT = "refund_payment"


# The forward path: the step due in each status, and the status it leads to.
FORWARD = {
    OrderStatus.QUEUED: (Step.VALIDATE_USER, OrderStatus.VALIDATED),
    OrderStatus.VALIDATED: (Step.RESERVE_STOCK, OrderStatus.RESERVED),
    OrderStatus.RESERVED: (Step.CHARGE_PAYMENT, OrderStatus.PAID),
    OrderStatus.PAID: (Step.SEND_CONFIRMATION, OrderStatus.COMPLETED),
}

FINAL_STATUSES = frozenset({OrderStatus.COMPLETED, OrderStatus.FAILED})


def step_due(status: str) -> Step | None:
    """Return the forward step an order in `status` waits for, if any."""
    forward = FORWARD.get(OrderStatus(status))
    return forward[0] if forward else None
