"""Money as integer minor units with an ISO 4217 currency; never a float.

The number of minor units per currency (2 for GBP, 0 for JPY, 3 for BHD) comes from the
Unicode CLDR data that Babel ships.
"""

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from babel.core import get_global
from babel.numbers import get_currency_precision, get_territory_currencies


def _tender_currencies() -> frozenset[str]:
    """Return the currencies that CLDR lists as legal tender in some territory today.

    That leaves out ISO codes that are not money a shop can charge: funds (CLF, USN),
    precious metals (XAU), accounting units (XDR, XTS, XXX) and retired currencies (DEM).
    """
    codes: set[str] = set()
    for territory in get_global("territory_currencies"):
        codes.update(get_territory_currencies(territory, tender=True, non_tender=False))
    return frozenset(codes)


_CURRENCIES = _tender_currencies()
# Digits, then optionally a point and more digits: no sign, exponent, underscore or
# non-ASCII digit, all of which Decimal() would accept.
_PLAIN_DECIMAL = re.compile(r"[0-9]+(\.[0-9]+)?")


# Digits before the decimal point that parse_amount accepts; callers set tighter business limits.
MAX_DIGITS = 18


class MoneyError(ValueError):
    """An amount or currency that cannot be money. The message explains how to fix it."""


def validate_currency(code: str) -> str:
    code = code.strip().upper()
    if code not in _CURRENCIES:
        raise MoneyError(f"unsupported currency {code!r}: use the ISO 4217 code of a currency in circulation, such as GBP or EUR")
    return code


def minor_unit_digits(currency: str) -> int:
    return get_currency_precision(currency)


def parse_amount(value: str | int | Decimal, currency: str) -> int:
    """Convert a decimal amount such as "3.39" into minor units (339 for GBP).

    Accepts a non-negative int, a Decimal, or a string of ASCII digits with an optional
    decimal point. Rejects more decimal places than the currency has, instead of rounding.
    """
    if isinstance(value, str) and not _PLAIN_DECIMAL.fullmatch(value.strip()):
        raise MoneyError(f"{value!r} is not a decimal amount: write digits with an optional decimal point, like \"3.39\"")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise MoneyError(f"{value!r} is not a decimal amount: write it as a string like \"3.39\"") from None

    if not amount.is_finite() or amount < 0:
        raise MoneyError(f"{value!r} is not a positive amount")
    # Checked before scaling: the default decimal context overflows or underflows on huge exponents.
    if amount.adjusted() >= MAX_DIGITS:
        raise MoneyError(f"{value!r} is too large: write at most {MAX_DIGITS} digits before the decimal point")

    digits = minor_unit_digits(currency)
    # Fits the context's 28 digits because of the check above; comparing Decimals is exact.
    rounded = amount.quantize(Decimal(1).scaleb(-digits))
    if rounded != amount:
        raise MoneyError(f"{value!r} has too many decimal places: {currency} allows at most {digits}")
    return int(rounded.scaleb(digits))


def format_amount(minor: int, currency: str) -> str:
    """Render minor units as a plain decimal string: 339 GBP -> "3.39"."""
    digits = minor_unit_digits(currency)
    return str(Decimal(minor).scaleb(-digits).quantize(Decimal(1).scaleb(-digits)))


@dataclass(frozen=True)
class Money:
    minor: int
    currency: str

    def __str__(self) -> str:
        return f"{format_amount(self.minor, self.currency)} {self.currency}"
