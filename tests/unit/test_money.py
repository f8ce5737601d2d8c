import pytest

from domain.money import MoneyError, format_amount, parse_amount, validate_currency


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [("3.39", "GBP", 339), ("3.3", "GBP", 330), ("18", "GBP", 1800), ("500", "JPY", 500), ("1.234", "BHD", 1234)],
)
def test_parse_amount_in_minor_units(text, currency, minor):
    assert parse_amount(text, currency) == minor


@pytest.mark.parametrize(
    "text", ["3.399", "abc", "-1", "NaN", "Infinity", "", "+1.00", "1_000", "\u0661\u0662", "1E+2", "3.", ".5", "1e-5"]
)
def test_parse_amount_rejects(text):
    with pytest.raises(MoneyError):
        parse_amount(text, "GBP")


def test_parse_amount_rejects_decimals_for_yen():
    with pytest.raises(MoneyError, match="JPY allows at most 0"):
        parse_amount("1.5", "JPY")


def test_format_amount_pads_to_currency_digits():
    assert format_amount(330, "GBP") == "3.30"
    assert format_amount(5, "JPY") == "5"
    assert format_amount(1234, "BHD") == "1.234"


def test_currency_is_normalised_and_checked():
    assert validate_currency(" gbp ") == "GBP"
    with pytest.raises(MoneyError):
        validate_currency("XXX")
    with pytest.raises(MoneyError):
        validate_currency("ZZZ")


@pytest.mark.parametrize("code", ["XAU", "CLF", "USN", "XDR", "DEM"])
def test_currency_rejects_codes_that_are_not_tender(code):
    with pytest.raises(MoneyError):
        validate_currency(code)


@pytest.mark.parametrize("text", ["9" * 5000, "1" + "0" * 18])
def test_parse_amount_rejects_huge_amounts(text):
    with pytest.raises(MoneyError, match="too large"):
        parse_amount(text, "GBP")


@pytest.mark.parametrize("text", ["0." + "0" * 5000 + "1", "1.0000000000000000000000000000001"])
def test_parse_amount_rejects_tiny_fractions(text):
    with pytest.raises(MoneyError, match="decimal places"):
        parse_amount(text, "GBP")


@pytest.mark.parametrize(("text", "minor"), [("3.390", 339), ("0100", 10000), ("999999999999999999.99", 99999999999999999999)])
def test_parse_amount_exact_forms(text, minor):
    assert parse_amount(text, "GBP") == minor
