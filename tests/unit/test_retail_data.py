"""Tests of the UCI Online Retail reader on the committed sample and on small inline CSV files."""

from __future__ import annotations

import os
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest

from ops.retail_data import (
    RetailDataError,
    SkipReason,
    build_catalog,
    build_customers,
    read_invoices,
)

SAMPLE_CSV = Path(__file__).resolve().parents[1] / "data" / "online-retail-sample.csv"
HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"
GOOD_ROW = "536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,2010-12-01 08:26:00,2.55,17850.0,UK"


def write_csv(directory: Path, rows: list[str], name: str = "day.csv", header=HEADER) -> Path:
    path = directory / name
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def invoices_by_number(path: Path):
    return {invoice.invoice_no: invoice for invoice in read_invoices(path).invoices}


# --- the committed sample of real rows -----------------------------------------------------------


def test_sample_counts():
    stats = read_invoices(SAMPLE_CSV).stats

    assert stats.files_read == 1
    assert stats.rows_read == 357
    assert stats.invoices_read == 33
    assert stats.invoices_usable == 21
    assert stats.lines_merged == 8


def test_sample_skipped_rows_by_reason():
    stats = read_invoices(SAMPLE_CSV).stats

    assert stats.rows_skipped == {
        SkipReason.MISSING_CUSTOMER: 95,
        SkipReason.CANCELLATION: 3,
        SkipReason.NON_PRODUCT_CODE: 3,
        SkipReason.NON_POSITIVE_PRICE: 1,
    }


def test_sample_skipped_invoices_by_reason():
    stats = read_invoices(SAMPLE_CSV).stats

    assert stats.invoices_skipped == {
        SkipReason.CANCELLATION: 3,
        SkipReason.MISSING_CUSTOMER: 8,
        SkipReason.NO_USABLE_LINES: 1,
    }


def test_sample_rows_all_accounted_for():
    data = read_invoices(SAMPLE_CSV)
    stats = data.stats
    usable_rows = sum(len(invoice.lines) for invoice in data.invoices) + stats.lines_merged

    assert stats.rows_read == stats.rows_skipped.total() + usable_rows
    assert stats.invoices_read == stats.invoices_usable + stats.invoices_skipped.total()


def test_sample_cancellations_not_replayed():
    invoices = invoices_by_number(SAMPLE_CSV)

    assert "C536379" not in invoices
    assert "C536383" not in invoices
    assert "C541433" not in invoices
    assert "541431" in invoices


def test_sample_drops_postage_line_keeps_invoice():
    invoice = invoices_by_number(SAMPLE_CSV)["536370"]

    assert len(invoice.lines) == 19
    assert "POST" not in {line.sku for line in invoice.lines}


def test_sample_drops_free_line_keeps_invoice():
    invoice = invoices_by_number(SAMPLE_CSV)["537197"]

    skus = {line.sku for line in invoice.lines}
    assert len(invoice.lines) == 15
    assert "22841" not in skus
    assert "POST" not in skus


def test_sample_carriage_only_invoice_skipped():
    assert "539688" not in invoices_by_number(SAMPLE_CSV)


def test_sample_merges_repeated_lines():
    invoice = invoices_by_number(SAMPLE_CSV)["536409"]
    lines = {line.sku: line for line in invoice.lines}

    assert len(invoice.lines) == 51
    assert lines["22111"].quantity == 2
    assert lines["21866"].quantity == 2
    assert lines["22900"].quantity == 2


def test_sample_strips_description_whitespace():
    invoice = invoices_by_number(SAMPLE_CSV)["536409"]
    lines = {line.sku: line for line in invoice.lines}

    assert lines["22900"].description == "SET 2 TEA TOWELS I LOVE LONDON"


def test_sample_outlier_invoice_parsed():
    invoice = invoices_by_number(SAMPLE_CSV)["541431"]

    assert invoice.customer_id == "12346"
    assert invoice.country == "United Kingdom"
    assert invoice.invoiced_at == datetime(2011, 1, 18, 10, 1)
    assert len(invoice.lines) == 1
    assert invoice.lines[0].sku == "23166"
    assert invoice.lines[0].quantity == 74215
    assert invoice.lines[0].unit_price == Decimal("1.04")


def test_sample_invoice_time_is_earliest_line():
    invoice = invoices_by_number(SAMPLE_CSV)["540185"]

    assert invoice.invoiced_at == datetime(2011, 1, 5, 13, 40)


def test_sample_invoices_in_time_order():
    invoices = read_invoices(SAMPLE_CSV).invoices
    times = [invoice.invoiced_at for invoice in invoices]

    assert times == sorted(times)
    assert invoices[0].invoice_no == "536365"
    assert invoices[-1].invoice_no == "541431"


def test_sample_catalog_uses_first_price():
    catalog = build_catalog(read_invoices(SAMPLE_CSV).invoices)

    assert len(catalog) == 207
    assert catalog["85123A"].price == Decimal("2.55")
    assert catalog["22633"].price == Decimal("1.85")
    assert catalog["23166"].quantity_needed == 74215
    assert all(isinstance(product.price, Decimal) for product in catalog.values())


def test_sample_customers():
    customers = build_customers(read_invoices(SAMPLE_CSV).invoices)

    assert len(customers) == 14
    assert customers["17850"].country == "United Kingdom"
    assert customers["12583"].country == "France"


# --- skip reasons on inline rows -----------------------------------------------------------------

SKIPPED_ROWS = [
    ("C536379,D,Discount,-1,2010-12-01 09:41:00,27.5,14527.0,UK", SkipReason.CANCELLATION),
    ("c536379,22556,CARDS,-1,2010-12-01 09:41:00,1.5,14527.0,UK", SkipReason.CANCELLATION),
    ("536414,22139,,56,2010-12-01 11:52:00,0.0,,UK", SkipReason.MISSING_CUSTOMER),
    ("536370,POST,POSTAGE,3,2010-12-01 08:45:00,18.0,12583.0,France", SkipReason.NON_PRODUCT_CODE),
    ("536592,DOT,DOTCOM POSTAGE,1,2010-12-01 17:06:00,607.49,17850.0,UK", "non_product_code"),
    ("538147,M,Manual,1,2010-12-09 16:09:00,2.55,12345.0,UK", SkipReason.NON_PRODUCT_CODE),
    ("539736,m,Manual,1,2010-12-21 15:18:00,2.55,12345.0,UK", SkipReason.NON_PRODUCT_CODE),
    ("537581,S,SAMPLES,1,2010-12-07 12:03:00,40.0,12345.0,UK", SkipReason.NON_PRODUCT_CODE),
    ("539688,C2,CARRIAGE,1,2010-12-21 11:00:00,150.0,12678.0,France", SkipReason.NON_PRODUCT_CODE),
    ("537632,AMAZONFEE,AMAZON FEE,1,2010-12-07 15:08:00,13541.33,12345.0,UK", "non_product_code"),
    ("536779,BANK CHARGES,Bank Charges,1,2010-12-02 15:08:00,15.0,15823.0,UK", "non_product_code"),
    ("542529,DCGS0055,DOGS COLLAR,1,2011-01-28 13:08:00,2.5,12345.0,UK", "non_product_code"),
    ("542580,DCGSSBOY,BOYS PARTY BAG,1,2011-01-28 13:08:00,3.3,12345.0,UK", "non_product_code"),
    ("540238,gift_0001_30,VOUCHER,1,2011-01-05 14:44:00,25.53,12345.0,UK", "non_product_code"),
    ("536764,84952C,damages,-38,2010-12-02 14:42:00,1.0,12345.0,UK", "non_positive_quantity"),
    ("536765,84952C,NAME,0,2010-12-02 14:43:00,1.0,12345.0,UK", SkipReason.NON_POSITIVE_QUANTITY),
    ("537197,22841,ROUND CAKE TIN,1,2010-12-05 14:02:00,0.0,12647.0,DE", "non_positive_price"),
    ("537197,22841,ROUND CAKE TIN,1,2010-12-05 14:02:00,-1.5,12647.0,DE", "non_positive_price"),
    ("536765,84952C,   ,19,2010-12-02 14:43:00,2.1,12345.0,UK", SkipReason.EMPTY_DESCRIPTION),
]


@pytest.mark.parametrize(("row", "reason"), SKIPPED_ROWS)
def test_row_skipped_with_reason(tmp_path, row, reason):
    stats = read_invoices(write_csv(tmp_path, [row])).stats

    assert stats.rows_read == 1
    assert stats.rows_skipped == {reason: 1}
    assert stats.invoices_usable == 0


MALFORMED_ROWS = [
    "536365,85123A,WHITE HANGING HEART,6,2010-12-01 08:26:00,2.55,17850.0",
    "536365,85123A,WHITE HANGING HEART,6,2010-12-01 08:26:00,2.55,17850.0,UK,extra",
    "536365,85123A,WHITE HANGING HEART,six,2010-12-01 08:26:00,2.55,17850.0,UK",
    "536365,85123A,WHITE HANGING HEART,1.5,2010-12-01 08:26:00,2.55,17850.0,UK",
    "536365,85123A,WHITE HANGING HEART,6,2010-12-01 08:26:00,,17850.0,UK",
    "536365,85123A,WHITE HANGING HEART,6,2010-12-01 08:26:00,2;55,17850.0,UK",
    "536365,85123A,WHITE HANGING HEART,6,2010-12-01 08:26:00,NaN,17850.0,UK",
    "536365,85123A,WHITE HANGING HEART,6,12/1/2010 8:26,2.55,17850.0,UK",
    "536365,85123A,WHITE HANGING HEART,6,2010-12-01 08:26:00,2.55,17850.5,UK",
    "536365,85123A,WHITE HANGING HEART,6,2010-12-01 08:26:00,2.55,abc,UK",
    "536365,85123A,WHITE HANGING HEART,6,2010-12-01 08:26:00,2.55,-17850,UK",
    ",85123A,WHITE HANGING HEART,6,2010-12-01 08:26:00,2.55,17850.0,UK",
    "536365,,WHITE HANGING HEART,6,2010-12-01 08:26:00,2.55,17850.0,UK",
]


@pytest.mark.parametrize("row", MALFORMED_ROWS)
def test_malformed_row_counted(tmp_path, row):
    data = read_invoices(write_csv(tmp_path, [row, GOOD_ROW]))

    assert data.stats.rows_read == 2
    assert data.stats.rows_skipped == {SkipReason.MALFORMED_ROW: 1}
    assert len(data.invoices) == 1


def test_first_skip_reason_wins(tmp_path):
    # No customer, a non-product code, a negative quantity, price 0 and no description at once.
    path = write_csv(tmp_path, ["542529,DCGS0055,,-1,2011-01-28 13:08:00,0.0,,UK"])

    assert read_invoices(path).stats.rows_skipped == {SkipReason.MISSING_CUSTOMER: 1}


def test_invoice_with_only_skipped_lines(tmp_path):
    path = write_csv(
        tmp_path,
        [
            "539688,C2,CARRIAGE,1,2010-12-21 11:00:00,150.0,12678.0,France",
            "539688,POST,POSTAGE,2,2010-12-21 11:00:00,18.0,12678.0,France",
        ],
    )

    stats = read_invoices(path).stats

    assert stats.rows_skipped == {SkipReason.NON_PRODUCT_CODE: 2}
    assert stats.invoices_skipped == {SkipReason.NO_USABLE_LINES: 1}


def test_conflicting_customers_skip_invoice(tmp_path):
    path = write_csv(
        tmp_path,
        [
            "536365,85123A,WHITE HEART,6,2010-12-01 08:26:00,2.55,17850.0,UK",
            "536365,71053,WHITE LANTERN,6,2010-12-01 08:26:00,3.39,17851.0,UK",
        ],
    )

    stats = read_invoices(path).stats

    assert stats.rows_skipped == {SkipReason.CONFLICTING_CUSTOMER: 2}
    assert stats.invoices_skipped == {SkipReason.CONFLICTING_CUSTOMER: 1}


# --- normalisation ------------------------------------------------------------------------------


def test_codes_compared_case_insensitively(tmp_path):
    path = write_csv(
        tmp_path,
        [
            "536592,82494l,WOODEN FRAME,2,2010-12-01 17:06:00,5.1,17850.0,UK",
            "536592,82494L,WOODEN FRAME,3,2010-12-01 17:06:00,2.55,17850.0,UK",
        ],
    )

    invoice = read_invoices(path).invoices[0]

    assert len(invoice.lines) == 1
    assert invoice.lines[0].sku == "82494L"
    assert invoice.lines[0].quantity == 5
    assert invoice.lines[0].unit_price == Decimal("5.1")


def test_fields_stripped(tmp_path):
    path = write_csv(
        tmp_path, [" 536365 , 85123a , WHITE HEART ,6,2010-12-01 08:26:00,2.55, 17850.0 ,UK"]
    )

    invoice = read_invoices(path).invoices[0]

    assert invoice.invoice_no == "536365"
    assert invoice.customer_id == "17850"
    assert invoice.lines[0].sku == "85123A"
    assert invoice.lines[0].description == "WHITE HEART"


@pytest.mark.parametrize(("text", "customer_id"), [("17850.0", "17850"), ("17850", "17850")])
def test_customer_id_from_float_text(tmp_path, text, customer_id):
    row = f"536365,85123A,WHITE HEART,6,2010-12-01 08:26:00,2.55,{text},UK"

    invoice = read_invoices(write_csv(tmp_path, [row])).invoices[0]

    assert invoice.customer_id == customer_id


def test_quoted_fields(tmp_path):
    path = write_csv(
        tmp_path,
        [
            '536477,22041,"RECORD FRAME 7"" SINGLE SIZE ",6,2010-12-01 12:27:00,2.55,16210.0,UK',
            '536477,21506,"FANCY FONT BIRTHDAY CARD, ",12,2010-12-01 12:27:00,0.42,16210.0,UK',
        ],
    )

    lines = read_invoices(path).invoices[0].lines

    assert lines[0].description == 'RECORD FRAME 7" SINGLE SIZE'
    assert lines[1].description == "FANCY FONT BIRTHDAY CARD,"


def test_prices_kept_as_decimal(tmp_path):
    row = "536365,85123A,WHITE HEART,6,2010-12-01 08:26:00,0.1,17850.0,UK"

    line = read_invoices(write_csv(tmp_path, [row])).invoices[0].lines[0]

    assert line.unit_price == Decimal("0.1")
    assert isinstance(line.unit_price, Decimal)


def test_byte_order_mark_and_blank_lines(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_text("\ufeff" + HEADER + "\n" + GOOD_ROW + "\n\n", encoding="utf-8")

    data = read_invoices(path)

    assert data.stats.rows_read == 1
    assert len(data.invoices) == 1


def test_columns_found_by_name(tmp_path):
    header = "CustomerID,Country,InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice"
    row = "17850.0,UK,536365,85123A,WHITE HEART,6,2010-12-01 08:26:00,2.55"

    invoice = read_invoices(write_csv(tmp_path, [row], header=header)).invoices[0]

    assert invoice.customer_id == "17850"
    assert invoice.lines[0].quantity == 6


# --- files and directories ----------------------------------------------------------------------


def test_directory_read_in_filename_order(tmp_path):
    write_csv(
        tmp_path,
        ["536600,22633,HAND WARMER,6,2010-12-02 08:00:00,2.1,17850.0,UK"],
        "2010-12-02.csv",
    )
    write_csv(
        tmp_path,
        ["536365,22633,HAND WARMER,6,2010-12-01 08:26:00,1.85,17850.0,UK"],
        "2010-12-01.csv",
    )
    (tmp_path / "SHA256SUMS").write_text("not a csv\n", encoding="utf-8")

    data = read_invoices(tmp_path)

    assert data.stats.files_read == 2
    assert [invoice.invoice_no for invoice in data.invoices] == ["536365", "536600"]
    assert build_catalog(data.invoices)["22633"].price == Decimal("1.85")


def test_invoices_with_same_time_keep_file_order(tmp_path):
    path = write_csv(
        tmp_path,
        [
            "536367,22633,HAND WARMER,6,2010-12-01 08:34:00,1.85,13047.0,UK",
            "536366,22633,HAND WARMER,6,2010-12-01 08:34:00,1.85,17850.0,UK",
            "536365,22633,HAND WARMER,6,2010-12-01 08:26:00,1.85,17850.0,UK",
        ],
    )

    numbers = [invoice.invoice_no for invoice in read_invoices(path).invoices]

    assert numbers == ["536365", "536367", "536366"]


def test_catalog_sums_quantities_across_invoices(tmp_path):
    path = write_csv(
        tmp_path,
        [
            "536365,22633,HAND WARMER,6,2010-12-01 08:26:00,1.85,17850.0,UK",
            "536366,22633,HAND WARMER UNION JACK,4,2010-12-01 08:28:00,2.1,13047.0,France",
        ],
    )
    invoices = read_invoices(path).invoices

    product = build_catalog(invoices)["22633"]
    customers = build_customers(invoices)

    assert product.quantity_needed == 10
    assert product.name == "HAND WARMER"
    assert product.price == Decimal("1.85")
    assert customers["13047"].country == "France"


def test_missing_path_raises(tmp_path):
    with pytest.raises(RetailDataError, match="not found"):
        read_invoices(tmp_path / "missing")


def test_directory_without_csv_raises(tmp_path):
    with pytest.raises(RetailDataError, match="no \\*.csv file"):
        read_invoices(tmp_path)


def test_missing_column_raises(tmp_path):
    header = "Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country"

    with pytest.raises(RetailDataError, match="InvoiceNo, UnitPrice, CustomerID"):
        read_invoices(write_csv(tmp_path, [GOOD_ROW], header=header))


def test_empty_file_raises(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("", encoding="utf-8")

    with pytest.raises(RetailDataError, match="is empty"):
        read_invoices(path)


# --- the full dataset, when available ------------------------------------------------------------

DATA_DIR = os.environ.get("ORDERFLOW_DATA_DIR")
needs_data_dir = pytest.mark.skipif(
    not DATA_DIR, reason="ORDERFLOW_DATA_DIR is not set to the directory of UCI Online Retail CSVs"
)
# The counts below are those of the 68 daily files from 2010-12-01 to 2011-02-28.
THREE_MONTH_FILES = 68
needs_three_months = pytest.mark.skipif(
    not DATA_DIR or len(list(Path(DATA_DIR).glob("*.csv"))) != THREE_MONTH_FILES,
    reason="ORDERFLOW_DATA_DIR does not hold the 68 daily files of Dec 2010 to Feb 2011",
)


@needs_data_dir
def test_full_dataset_rows_all_accounted_for():
    data = read_invoices(Path(DATA_DIR))
    stats = data.stats
    usable_rows = sum(len(invoice.lines) for invoice in data.invoices) + stats.lines_merged

    assert stats.invoices_usable > 0
    assert stats.rows_read == stats.rows_skipped.total() + usable_rows
    assert stats.invoices_read == stats.invoices_usable + stats.invoices_skipped.total()
    assert all(line.quantity > 0 for invoice in data.invoices for line in invoice.lines)
    assert all(line.unit_price > 0 for invoice in data.invoices for line in invoice.lines)


@needs_three_months
def test_full_dataset_three_month_counts():
    stats = read_invoices(Path(DATA_DIR)).stats

    assert stats.rows_read == 105_335
    assert stats.invoices_read == 4_894
    assert stats.invoices_skipped[SkipReason.CANCELLATION] == 805
    assert stats.rows_skipped[SkipReason.CANCELLATION] == 1_904
    assert stats.rows_skipped[SkipReason.NON_POSITIVE_PRICE] == 7
    assert stats.invoices_usable == 3_369
