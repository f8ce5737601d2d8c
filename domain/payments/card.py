"""The credit card sandbox, following Stripe's public test-card numbers.

| number              | outcome                          |
|---------------------|----------------------------------|
| 4242 4242 4242 4242 | approved (Visa)                  |
| 5555 5555 5555 4444 | approved (Mastercard)            |
| 3782 822463 10005   | approved (American Express)      |
| 4000 0000 0000 0002 | declined: card_declined          |
| 4000 0000 0000 9995 | declined: insufficient_funds     |
| 4000 0000 0000 0069 | declined: expired_card           |
| 4000 0000 0000 0119 | gateway error on every attempt   |

Any other number that passes the Luhn check is declined with `live_card_in_sandbox`, as
Stripe's test mode declines real cards. The API rejects numbers failing the Luhn check.
Source: https://docs.stripe.com/testing (test card numbers and declines).
"""

import secrets
from abc import ABC, abstractmethod
from dataclasses import dataclass

from domain.errors import GatewayUnavailable, PaymentDeclined
from domain.money import Money
from domain.payments.base import ChargeResult, PaymentProcessor, PaymentSource
from domain.payments.sandbox_gateway import SandboxGateway

APPROVE = "approve"
ALWAYS_FAILS = "gateway_error"

TEST_CARD_BEHAVIOUR = {
    "4242424242424242": APPROVE,
    "5555555555554444": APPROVE,
    "378282246310005": APPROVE,
    "4000000000000002": "card_declined",
    "4000000000009995": "insufficient_funds",
    "4000000000000069": "expired_card",
    "4000000000000119": ALWAYS_FAILS,
}
UNKNOWN_CARD = "live_card_in_sandbox"


@dataclass(frozen=True)
class CardToken:
    token: str
    brand: str
    last4: str


class CardVault(ABC):
    """The gateway's store of tokenised cards; it never keeps the number or the CVC."""

    @abstractmethod
    def store(self, brand: str, last4: str, behaviour: str) -> str: ...

    @abstractmethod
    def behaviour(self, token: str) -> str | None: ...


class TokenVault(CardVault):
    """A vault that keeps nothing: the token carries the test card's outcome and a random part.

    A real gateway stores the card behind its token; the sandbox only needs the outcome, so
    tokenising costs no database write.
    """

    PREFIX = "tok_"

    def store(self, brand: str, last4: str, behaviour: str) -> str:
        return f"{self.PREFIX}{behaviour}.{secrets.token_hex(8)}"

    def behaviour(self, token: str) -> str | None:
        if not token.startswith(self.PREFIX) or "." not in token:
            return None
        behaviour = token.removeprefix(self.PREFIX).rpartition(".")[0]
        known = set(TEST_CARD_BEHAVIOUR.values()) | {UNKNOWN_CARD}
        return behaviour if behaviour in known else None


class CreditCardProcessor(PaymentProcessor):
    method = "card"

    def __init__(self, gateway: SandboxGateway, vault: CardVault) -> None:
        self.gateway = gateway
        self.vault = vault

    def tokenize(self, card_number: str, brand: str) -> CardToken:
        """Exchange a card number for a token, as a browser does with the gateway's JS SDK."""
        behaviour = TEST_CARD_BEHAVIOUR.get(card_number, UNKNOWN_CARD)
        last4 = card_number[-4:]
        token = self.vault.store(brand, last4, behaviour)
        return CardToken(token=token, brand=brand, last4=last4)

    def charge(self, idempotency_key: str, source: PaymentSource, amount: Money) -> ChargeResult:
        behaviour = self.vault.behaviour(source.token or "")
        if behaviour is None:
            raise PaymentDeclined("unknown_card_token")
        return self.gateway.execute(idempotency_key, "charge", amount, lambda: _decide(behaviour))

    def refund(self, idempotency_key: str, charge_reference: str, amount: Money) -> ChargeResult:
        return self.gateway.execute(idempotency_key, "refund", amount, lambda: None)

    def find_charge(self, idempotency_key: str) -> ChargeResult | None:
        return self.gateway.find(idempotency_key)


def _decide(behaviour: str) -> str | None:
    if behaviour == ALWAYS_FAILS:
        raise GatewayUnavailable("card gateway returned processing_error")
    return None if behaviour == APPROVE else behaviour
