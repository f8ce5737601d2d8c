"""Read the UCI "Online Retail" dataset (id 352) and group its rows into replayable invoices.

The input is one CSV file or a directory of them, read in filename order and each file in row
order. Columns: InvoiceNo, StockCode, Description, Quantity, InvoiceDate, UnitPrice, CustomerID,
Country. Rows that cannot become an order line are skipped and counted by reason. Only input
that cannot be read at all (a missing path, no CSV file, a file without the expected header)
raises RetailDataError.

Each skipped row is counted once, under the first reason that applies, in this order:

1. ``malformed_row``: wrong field count, an empty InvoiceNo or StockCode, or a Quantity,
   UnitPrice, InvoiceDate or CustomerID that does not parse.
2. ``cancellation``: the InvoiceNo starts with ``C`` (a credit note, negative quantities).
3. ``missing_customer``: the invoice has no CustomerID.
4. ``conflicting_customer``: the rows of one invoice name different customers.
5. ``non_product_code``: postage, fees, discounts, samples, manual entries and gift vouchers.
6. ``non_positive_quantity``: stock adjustments outside cancellations.
7. ``non_positive_price``: free lines (UnitPrice 0).
8. ``empty_description``: a product line without a name.

An invoice is skipped whole for reasons 2 to 4, and as ``no_usable_lines`` when every one of its
rows was skipped for another reason.

Lines with the same StockCode on one invoice are merged by summing their quantities. The catalog
price of a product is the first UnitPrice seen for it in replay order, because the orderflow API
prices every order from its catalog and the per-line prices of the data cannot be sent.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from pathlib import Path

__all__ = [
    "COLUMNS",
    "CatalogProduct",
    "Customer",
    "Invoice",
    "InvoiceLine",
    "ReadStats",
    "RetailData",
    "RetailDataError",
    "SkipReason",
    "build_catalog",
    "build_customers",
    "list_csv_files",
    "read_invoices",
]

COLUMNS = (
    "InvoiceNo",
    "StockCode",
    "Description",
    "Quantity",
    "InvoiceDate",
    "UnitPrice",
    "CustomerID",
    "Country",
)

# Real products are five digits with an optional letter suffix for a variant (85123A, 15056BL).
# Every other code in Dec 2010 to Feb 2011 is a charge or a bookkeeping entry: POST, DOT, M, S,
# C2, D, AMAZONFEE, BANK CHARGES, DCGS0003, GIFT_0001_20.
PRODUCT_CODE = re.compile(r"\d{5}[A-Z]*")


class RetailDataError(Exception):
    """The input cannot be read at all: a missing path, no CSV file, or a file without the
    expected header."""


class SkipReason(StrEnum):
    MALFORMED_ROW = "malformed_row"
    CANCELLATION = "cancellation"
    MISSING_CUSTOMER = "missing_customer"
    CONFLICTING_CUSTOMER = "conflicting_customer"
    NON_PRODUCT_CODE = "non_product_code"
    NON_POSITIVE_QUANTITY = "non_positive_quantity"
    NON_POSITIVE_PRICE = "non_positive_price"
    EMPTY_DESCRIPTION = "empty_description"
    NO_USABLE_LINES = "no_usable_lines"


@dataclass(frozen=True)
class InvoiceLine:
    """One product on an invoice, after merging repeated lines of the same StockCode."""

    sku: str
    description: str
    quantity: int
    unit_price: Decimal


@dataclass(frozen=True)
class Invoice:
    """A normal sale that can be replayed as one order."""

    invoice_no: str
    customer_id: str
    country: str
    invoiced_at: datetime
    lines: tuple[InvoiceLine, ...]


@dataclass
class ReadStats:
    """Counts of what the reader saw and skipped."""

    files_read: int = 0
    rows_read: int = 0
    invoices_read: int = 0
    invoices_usable: int = 0
    lines_merged: int = 0
    rows_skipped: Counter[str] = field(default_factory=Counter)
    invoices_skipped: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True)
class RetailData:
    """Usable invoices sorted by time, with the counts of the read that produced them."""

    invoices: list[Invoice]
    stats: ReadStats


@dataclass(frozen=True)
class CatalogProduct:
    """A product to create before replaying orders."""

    sku: str
    name: str
    price: Decimal
    quantity_needed: int


@dataclass(frozen=True)
class Customer:
    customer_id: str
    country: str


@dataclass(frozen=True)
class _Layout:
    """Position of each column in a file's header, and the header's field count."""

    positions: dict[str, int]
    width: int


@dataclass(frozen=True)
class _Row:
    invoice_no: str
    sku: str
    description: str
    quantity: int
    invoiced_at: datetime
    unit_price: Decimal
    customer_id: str | None
    country: str


def list_csv_files(path: Path) -> list[Path]:
    """Return the CSV files to read: the file itself, or the directory's ``*.csv`` files sorted by
    name, which is time order for the one-file-per-day layout."""
    if path.is_file():
        return [path]
    if path.is_dir():
        files = sorted(p for p in path.glob("*.csv") if p.is_file())
        if not files:
            raise RetailDataError(f"no *.csv file in directory {path}")
        return files
    raise RetailDataError(f"data path not found: {path}")


def read_invoices(path: Path) -> RetailData:
    """Read every CSV file under ``path`` and return its usable invoices in time order.

    Invoices are sorted by their earliest InvoiceDate, and invoices with the same time keep the
    order in which they first appear.
    """
    stats = ReadStats()
    rows_by_invoice: dict[str, list[_Row]] = {}
    for csv_path in list_csv_files(path):
        stats.files_read += 1
        for row in _read_rows(csv_path, stats):
            rows_by_invoice.setdefault(row.invoice_no, []).append(row)

    invoices = []
    for invoice_no, rows in rows_by_invoice.items():
        stats.invoices_read += 1
        invoice = _build_invoice(invoice_no, rows, stats)
        if invoice is not None:
            invoices.append(invoice)
    stats.invoices_usable = len(invoices)

    invoices.sort(key=lambda invoice: invoice.invoiced_at)
    return RetailData(invoices=invoices, stats=stats)


def build_catalog(invoices: list[Invoice]) -> dict[str, CatalogProduct]:
    """Return one product per SKU of ``invoices``, with the total quantity the invoices order.

    The name and price come from the first line of the SKU in the order of ``invoices``.
    """
    first_lines: dict[str, InvoiceLine] = {}
    quantities: Counter[str] = Counter()
    for invoice in invoices:
        for line in invoice.lines:
            first_lines.setdefault(line.sku, line)
            quantities[line.sku] += line.quantity
    return {
        sku: CatalogProduct(
            sku=sku, name=line.description, price=line.unit_price, quantity_needed=quantities[sku]
        )
        for sku, line in first_lines.items()
    }


def build_customers(invoices: list[Invoice]) -> dict[str, Customer]:
    """Return one customer per CustomerID of ``invoices``, with the country of their first
    invoice (two customers in the data appear with two countries)."""
    customers: dict[str, Customer] = {}
    for invoice in invoices:
        if invoice.customer_id not in customers:
            customers[invoice.customer_id] = Customer(invoice.customer_id, invoice.country)
    return customers


def _read_rows(csv_path: Path, stats: ReadStats) -> Iterator[_Row]:
    # utf-8-sig drops a byte order mark that spreadsheet exports put before the header. An
    # undecodable byte becomes U+FFFD so one bad description cannot stop a whole replay.
    with csv_path.open(newline="", encoding="utf-8-sig", errors="replace") as file:
        reader = csv.reader(file)
        layout = _read_layout(csv_path, next(reader, None))
        for fields in reader:
            if not fields:
                continue
            stats.rows_read += 1
            row = _parse_row(fields, layout)
            if row is None:
                stats.rows_skipped[SkipReason.MALFORMED_ROW] += 1
            else:
                yield row


def _read_layout(csv_path: Path, header: list[str] | None) -> _Layout:
    if header is None:
        raise RetailDataError(f"{csv_path} is empty, expected the header {','.join(COLUMNS)}")
    names = [name.strip() for name in header]
    missing = [column for column in COLUMNS if column not in names]
    if missing:
        raise RetailDataError(
            f"{csv_path} header lacks the columns {', '.join(missing)}; "
            f"expected {','.join(COLUMNS)} (UCI Online Retail layout)"
        )
    return _Layout(positions={column: names.index(column) for column in COLUMNS}, width=len(names))


def _parse_row(fields: list[str], layout: _Layout) -> _Row | None:
    """Return the row with typed fields, or None when it is malformed."""
    if len(fields) != layout.width:
        return None
    value = {column: fields[layout.positions[column]].strip() for column in COLUMNS}
    if not value["InvoiceNo"] or not value["StockCode"]:
        return None
    try:
        quantity = int(value["Quantity"])
        unit_price = Decimal(value["UnitPrice"])
        invoiced_at = datetime.fromisoformat(value["InvoiceDate"])
        customer_id = _parse_customer_id(value["CustomerID"])
    except (ValueError, InvalidOperation):
        return None
    if not unit_price.is_finite():
        return None

    return _Row(
        invoice_no=value["InvoiceNo"].upper(),
        # Codes that differ only in case name the same product (82494l and 82494L share one
        # description), so codes are compared upper-cased.
        sku=value["StockCode"].upper(),
        description=value["Description"],
        quantity=quantity,
        invoiced_at=invoiced_at,
        unit_price=unit_price,
        customer_id=customer_id,
        country=value["Country"],
    )


def _parse_customer_id(text: str) -> str | None:
    """Return the CustomerID as digits ("17850.0" becomes "17850"), or None when it is empty.

    Raises ValueError for text that is not a positive whole number.
    """
    if not text:
        return None
    number = Decimal(text)
    if not number.is_finite() or number != number.to_integral_value() or number <= 0:
        raise ValueError(f"invalid CustomerID: {text!r}")
    return str(int(number))


def _build_invoice(invoice_no: str, rows: list[_Row], stats: ReadStats) -> Invoice | None:
    """Return the invoice made of the usable rows, or None after counting why it is skipped."""
    invoice_reason = _invoice_skip_reason(invoice_no, rows)
    if invoice_reason is not None:
        stats.rows_skipped[invoice_reason] += len(rows)
        stats.invoices_skipped[invoice_reason] += 1
        return None

    usable_rows = []
    for row in rows:
        line_reason = _line_skip_reason(row)
        if line_reason is None:
            usable_rows.append(row)
        else:
            stats.rows_skipped[line_reason] += 1
    if not usable_rows:
        stats.invoices_skipped[SkipReason.NO_USABLE_LINES] += 1
        return None

    lines = _merge_lines(usable_rows)
    stats.lines_merged += len(usable_rows) - len(lines)
    first = rows[0]
    return Invoice(
        invoice_no=invoice_no,
        customer_id=first.customer_id,
        country=first.country,
        # 16 invoices have lines stamped a minute apart, so the invoice time is the earliest.
        invoiced_at=min(row.invoiced_at for row in rows),
        lines=tuple(lines),
    )


def _invoice_skip_reason(invoice_no: str, rows: list[_Row]) -> SkipReason | None:
    if invoice_no.startswith("C"):
        return SkipReason.CANCELLATION
    customer_ids = {row.customer_id for row in rows}
    if customer_ids == {None}:
        return SkipReason.MISSING_CUSTOMER
    if len(customer_ids) > 1:
        return SkipReason.CONFLICTING_CUSTOMER
    return None


def _line_skip_reason(row: _Row) -> SkipReason | None:
    if not PRODUCT_CODE.fullmatch(row.sku):
        return SkipReason.NON_PRODUCT_CODE
    if row.quantity <= 0:
        return SkipReason.NON_POSITIVE_QUANTITY
    if row.unit_price <= 0:
        return SkipReason.NON_POSITIVE_PRICE
    if not row.description:
        return SkipReason.EMPTY_DESCRIPTION
    return None


def _merge_lines(rows: list[_Row]) -> list[InvoiceLine]:
    """Sum the quantities of rows with the same SKU. The first row gives the name and price."""
    lines: dict[str, InvoiceLine] = {}
    for row in rows:
        line = lines.get(row.sku)
        if line is None:
            lines[row.sku] = InvoiceLine(row.sku, row.description, row.quantity, row.unit_price)
        else:
            lines[row.sku] = InvoiceLine(
                line.sku, line.description, line.quantity + row.quantity, line.unit_price
            )
    return list(lines.values())
