"""The sandbox processors: Stripe test cards, PayPal email tags, idempotency, timeouts."""

import random

import pytest

from domain.errors import GatewayUnavailable, PaymentDeclined
from domain.money import Money
from domain.payments import CreditCardProcessor, PaymentSource, PayPalProcessor
from domain.payments.card import CardVault
from domain.payments.sandbox_gateway import SandboxGateway
from domain.sandbox import LatencyProfile, SandboxBehaviour
from tests.unit.fakes import InMemoryLedger

AMOUNT = Money(1299, "GBP")


class InMemoryVault(CardVault):
    def __init__(self) -> None:
        self.cards = {}

    def store(self, brand, last4, behaviour):
        token = f"tok_{len(self.cards)}"
        self.cards[token] = behaviour
        return token

    def behaviour(self, token):
        return self.cards.get(token)


def gateway(ledger=None, failure_rate=0.0, sleeps=None, latency="0") -> SandboxGateway:
    behaviour = SandboxBehaviour(
        latency=LatencyProfile.parse(latency),
        failure_rate=failure_rate,
        rng=random.Random(7),
        sleep=(sleeps.append if sleeps is not None else lambda _s: None),
    )
    return SandboxGateway("test", ledger or InMemoryLedger(), behaviour)


def card_processor(**kwargs) -> CreditCardProcessor:
    return CreditCardProcessor(gateway(**kwargs), InMemoryVault())


def charge_card(processor: CreditCardProcessor, number: str, key: str = "order-1:charge"):
    token = processor.tokenize(number, "Visa").token
    return processor.charge(key, PaymentSource(token=token), AMOUNT)


def test_card_4242_approves():
    result = charge_card(card_processor(), "4242424242424242")
    assert result.amount == AMOUNT
    assert result.reference.startswith("test_charge_")


@pytest.mark.parametrize(
    ("number", "code"),
    [("4000000000000002", "card_declined"), ("4000000000009995", "insufficient_funds"), ("4111111111111111", "live_card_in_sandbox")],
)
def test_card_declines(number, code):
    with pytest.raises(PaymentDeclined) as caught:
        charge_card(card_processor(), number)
    assert caught.value.code == code


def test_card_processing_error_is_transient():
    with pytest.raises(GatewayUnavailable):
        charge_card(card_processor(), "4000000000000119")


def test_tokenize_keeps_brand_and_last4_only():
    processor = card_processor()
    token = processor.tokenize("5555555555554444", "Mastercard")
    assert (token.brand, token.last4) == ("Mastercard", "4444")
    assert "5555555555554444" not in repr(processor.vault.cards)


def test_same_key_charges_once():
    ledger = InMemoryLedger()
    processor = CreditCardProcessor(gateway(ledger), InMemoryVault())
    token = processor.tokenize("4242424242424242", "Visa").token

    first = processor.charge("order-1:charge", PaymentSource(token=token), AMOUNT)
    second = processor.charge("order-1:charge", PaymentSource(token=token), AMOUNT)

    assert first == second
    assert len(ledger.entries) == 1


def test_same_key_repeats_decline():
    processor = card_processor()
    token = processor.tokenize("4000000000000002", "Visa").token
    for _attempt in range(2):
        with pytest.raises(PaymentDeclined):
            processor.charge("order-2:charge", PaymentSource(token=token), AMOUNT)


def test_timeouts_then_single_charge():
    ledger = InMemoryLedger()
    processor = PayPalProcessor(gateway(ledger, failure_rate=0.5))
    source = PaymentSource(payer_email="payer@example.com")

    timeouts = 0
    for _attempt in range(50):
        try:
            result = processor.charge("order-3:charge", source, AMOUNT)
            break
        except GatewayUnavailable:
            timeouts += 1

    assert timeouts > 0
    assert result.amount == AMOUNT
    assert list(ledger.entries) == ["order-3:charge"]


@pytest.mark.parametrize(
    ("email", "code"),
    [("alice+declined@example.com", "instrument_declined"), ("alice+nofunds@example.com", "insufficient_funds")],
)
def test_paypal_declines_by_tag(email, code):
    processor = PayPalProcessor(gateway())
    with pytest.raises(PaymentDeclined) as caught:
        processor.charge("k", PaymentSource(payer_email=email), AMOUNT)
    assert caught.value.code == code


def test_paypal_approves_plain_email():
    processor = PayPalProcessor(gateway())
    assert processor.charge("k", PaymentSource(payer_email="alice@example.com"), AMOUNT).amount == AMOUNT


def test_paypal_unavailable_tag_is_transient():
    processor = PayPalProcessor(gateway())
    with pytest.raises(GatewayUnavailable):
        processor.charge("k", PaymentSource(payer_email="alice+unavailable@example.com"), AMOUNT)


def test_refund_is_idempotent():
    ledger = InMemoryLedger()
    processor = PayPalProcessor(gateway(ledger))
    charge = processor.charge("o:charge", PaymentSource(payer_email="a@example.com"), AMOUNT)
    first = processor.refund("o:refund", charge.reference, AMOUNT)
    second = processor.refund("o:refund", charge.reference, AMOUNT)
    assert first == second
    assert sorted(ledger.entries) == ["o:charge", "o:refund"]


def test_latency_within_range():
    sleeps = []
    processor = PayPalProcessor(gateway(sleeps=sleeps, latency="20-100"))
    for number in range(20):
        processor.charge(f"k{number}", PaymentSource(payer_email="a@example.com"), AMOUNT)
    assert len(sleeps) == 20
    assert all(0.020 <= seconds <= 0.100 for seconds in sleeps)


@pytest.mark.parametrize("text", ["-5", "100-20", "abc"])
def test_latency_profile_rejects(text):
    with pytest.raises(ValueError):
        LatencyProfile.parse(text)
