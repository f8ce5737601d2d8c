from domain.payments.base import ChargeResult, PaymentProcessor, PaymentSource
from domain.payments.card import CardToken, CreditCardProcessor
from domain.payments.paypal import PayPalProcessor

__all__ = [
    "CardToken",
    "ChargeResult",
    "CreditCardProcessor",
    "PayPalProcessor",
    "PaymentProcessor",
    "PaymentSource",
]
