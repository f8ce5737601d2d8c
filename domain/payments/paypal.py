"""The PayPal sandbox. The payer's email decides the outcome, by the tag after a '+':

| payer email                 | outcome                            |
|-----------------------------|------------------------------------|
| alice+declined@example.com  | declined: instrument_declined      |
| alice+nofunds@example.com   | declined: insufficient_funds       |
| alice+unavailable@example.com | gateway error on every attempt   |
| any other address           | approved                           |
"""

from domain.errors import GatewayUnavailable
from domain.money import Money
from domain.payments.base import ChargeResult, PaymentProcessor, PaymentSource
from domain.payments.sandbox_gateway import SandboxGateway

DECLINE_TAGS = {
    "declined": "instrument_declined",
    "nofunds": "insufficient_funds",
}
UNAVAILABLE_TAG = "unavailable"


class PayPalProcessor(PaymentProcessor):
    method = "paypal"

    def __init__(self, gateway: SandboxGateway) -> None:
        self.gateway = gateway

    def charge(self, idempotency_key: str, source: PaymentSource, amount: Money) -> ChargeResult:
        tag = _tag_of(source.payer_email or "")
        return self.gateway.execute(idempotency_key, "charge", amount, lambda: _decide(tag))

    def refund(self, idempotency_key: str, charge_reference: str, amount: Money) -> ChargeResult:
        return self.gateway.execute(idempotency_key, "refund", amount, lambda: None)

    def find_charge(self, idempotency_key: str) -> ChargeResult | None:
        return self.gateway.find(idempotency_key)


def _tag_of(email: str) -> str:
    local_part = email.partition("@")[0]
    return local_part.partition("+")[2].lower()


def _decide(tag: str) -> str | None:
    if tag == UNAVAILABLE_TAG:
        raise GatewayUnavailable("PayPal sandbox is unavailable for this payer")
    return DECLINE_TAGS.get(tag)
