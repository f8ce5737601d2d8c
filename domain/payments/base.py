"""The payment processor interface that every gateway adapter implements."""

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

from domain.money import Money


@dataclass(frozen=True)
class PaymentSource:
    """The payment source a processor charges: a card token from its vault, or a PayPal payer."""

    token: str | None = None
    payer_email: str | None = None


@dataclass(frozen=True)
class ChargeResult:
    """A charge or refund the gateway accepted."""

    reference: str
    amount: Money


class PaymentProcessor(ABC):
    """Charges and refunds through one gateway.

    Both calls take an idempotency key: the gateway performs the operation once per key and
    returns the first result to every later call with that key, declines included. They
    raise `PaymentDeclined` for a business decline (never retried) and `GatewayUnavailable`
    for a timeout or outage (safe to retry with the same key).
    """

    method: ClassVar[str]

    @abstractmethod
    def charge(self, idempotency_key: str, source: PaymentSource, amount: Money) -> ChargeResult: ...

    @abstractmethod
    def refund(self, idempotency_key: str, charge_reference: str, amount: Money) -> ChargeResult: ...

    @abstractmethod
    def find_charge(self, idempotency_key: str) -> ChargeResult | None:
        """Return the approved charge made with this key, if the gateway has one."""
