"""Counts and timings of one replay run, rendered as tables or written as JSON."""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from ops.retail_data import ReadStats

__all__ = ["ReplaySummary", "percentile", "reason_group", "render_summary", "write_json"]

# Reasons beyond this many are folded into one "other reasons" row of the printed table; the
# JSON output keeps all of them.
MAX_PRINTED_REASONS = 12

# Quoted values and words that contain a digit, such as SKUs, ids and quantities.
VARIABLE_PART = re.compile(r"'[^']*'|\"[^\"]*\"|\b\w*\d\w*\b")

NOTES = (
    "Catalog prices are the first UnitPrice seen for each StockCode, and the API prices every "
    "order from its catalog, so order totals differ from the invoice totals in the data.",
    "Stock is set only when the replay creates a product. A product that already existed is "
    "reused as it is, so a second replay against the same database can fail orders for stock.",
)


@dataclass
class ReplaySummary:
    """Outcome counts and timings of one replay run."""

    run_id: str
    api_url: str
    data_path: str
    read: ReadStats
    invoices_replayed: int = 0
    users_created: int = 0
    user_failures: Counter[str] = field(default_factory=Counter)
    products_created: int = 0
    products_reused: int = 0
    product_failures: Counter[str] = field(default_factory=Counter)
    orders_submitted: int = 0
    orders_paid_by_card: int = 0
    orders_paid_by_paypal: int = 0
    orders_succeeded: int = 0
    # Keyed by reason_group() of the failure reason, with the first full reason of each group.
    orders_failed: Counter[str] = field(default_factory=Counter)
    failure_examples: dict[str, str] = field(default_factory=dict)
    orders_timed_out: int = 0
    # Keyed by HTTP status code, or by exception class name when no response arrived.
    orders_rejected: Counter[str] = field(default_factory=Counter)
    orders_not_submitted: Counter[str] = field(default_factory=Counter)
    poll_errors: int = 0
    order_phase_s: float = 0.0
    poll_interval_s: float = 0.0
    # Seconds from just before POST /orders to the poll that saw the job finish, for every
    # job that succeeded or failed. Their resolution is the poll interval.
    latencies_s: list[float] = field(default_factory=list)

    def record_failure(self, reason: str) -> None:
        group = reason_group(reason)
        self.orders_failed[group] += 1
        self.failure_examples.setdefault(group, reason)

    @property
    def orders_finished(self) -> int:
        return self.orders_succeeded + self.orders_failed.total()

    @property
    def finished_orders_per_s(self) -> float | None:
        if self.order_phase_s <= 0:
            return None
        return self.orders_finished / self.order_phase_s

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "api_url": self.api_url,
            "data_path": self.data_path,
            "read": {
                "files_read": self.read.files_read,
                "rows_read": self.read.rows_read,
                "rows_skipped": dict(self.read.rows_skipped.most_common()),
                "invoices_read": self.read.invoices_read,
                "invoices_usable": self.read.invoices_usable,
                "invoices_skipped": dict(self.read.invoices_skipped.most_common()),
                "lines_merged": self.read.lines_merged,
            },
            "invoices_replayed": self.invoices_replayed,
            "users": {
                "created": self.users_created,
                "failed": dict(self.user_failures.most_common()),
            },
            "products": {
                "created": self.products_created,
                "reused": self.products_reused,
                "failed": dict(self.product_failures.most_common()),
            },
            "orders": {
                "submitted": self.orders_submitted,
                "paid_by_card": self.orders_paid_by_card,
                "paid_by_paypal": self.orders_paid_by_paypal,
                "succeeded": self.orders_succeeded,
                "failed": dict(self.orders_failed.most_common()),
                "failure_examples": self.failure_examples,
                "timed_out": self.orders_timed_out,
                "rejected": dict(self.orders_rejected.most_common()),
                "not_submitted": dict(self.orders_not_submitted.most_common()),
                "poll_errors": self.poll_errors,
            },
            "order_phase_s": round(self.order_phase_s, 3),
            "finished_orders_per_s": _round_or_none(self.finished_orders_per_s),
            "latency_p50_s": _round_or_none(percentile(self.latencies_s, 50)),
            "latency_p95_s": _round_or_none(percentile(self.latencies_s, 95)),
            "poll_interval_s": self.poll_interval_s,
            "notes": [*NOTES, _latency_note(self)],
        }


def reason_group(reason: str) -> str:
    """Return the reason with quoted values and words containing digits replaced by "…".

    Failure reasons often name a SKU, an id or a quantity, e.g. "out of stock: 85123A
    (requested 6)". Grouping them as "out of stock: … (requested …)" keeps the summary short.
    """
    return VARIABLE_PART.sub("…", reason)


def percentile(values: list[float], percent: float) -> float | None:
    """Return the nearest-rank percentile of ``values``, or None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(math.ceil(percent / 100 * len(ordered)), 1)
    return ordered[rank - 1]


def write_json(summary: ReplaySummary, path: Path) -> None:
    path.write_text(json.dumps(summary.to_json_dict(), indent=2) + "\n", encoding="utf-8")


def render_summary(summary: ReplaySummary, console: Console) -> None:
    """Print the summary as tables: what was read, what was set up, and what the orders did."""
    console.print(_read_table(summary))
    console.print(_setup_table(summary))
    console.print(_orders_table(summary))
    notes = [*NOTES, _latency_note(summary)]
    for note in notes:
        console.print(f"Note: {note}", style="dim")


def _read_table(summary: ReplaySummary) -> Table:
    read = summary.read
    table = _new_table("Data read")
    table.add_row("path", summary.data_path)
    table.add_row("CSV files", str(read.files_read))
    table.add_row("rows", str(read.rows_read))
    _add_reason_rows(table, "rows skipped", read.rows_skipped)
    table.add_row("invoices", str(read.invoices_read))
    _add_reason_rows(table, "invoices skipped", read.invoices_skipped)
    table.add_row("invoices usable", str(read.invoices_usable))
    table.add_row("repeated lines merged", str(read.lines_merged))
    table.add_row("invoices replayed", str(summary.invoices_replayed))
    return table


def _setup_table(summary: ReplaySummary) -> Table:
    table = _new_table("Setup")
    table.add_row("API", summary.api_url)
    table.add_row("run id", summary.run_id)
    table.add_row("users created", str(summary.users_created))
    _add_reason_rows(table, "users failed", summary.user_failures)
    table.add_row("products created", str(summary.products_created))
    table.add_row("products reused", str(summary.products_reused))
    _add_reason_rows(table, "products failed", summary.product_failures)
    return table


def _orders_table(summary: ReplaySummary) -> Table:
    table = _new_table("Orders")
    table.add_row("submitted", str(summary.orders_submitted))
    table.add_row("  paid by card", str(summary.orders_paid_by_card))
    table.add_row("  paid by PayPal", str(summary.orders_paid_by_paypal))
    table.add_row("succeeded", str(summary.orders_succeeded))
    _add_reason_rows(table, "failed", summary.orders_failed)
    table.add_row("timed out", str(summary.orders_timed_out))
    _add_reason_rows(table, "rejected at submit", summary.orders_rejected)
    _add_reason_rows(table, "not submitted", summary.orders_not_submitted)
    table.add_row("poll errors", str(summary.poll_errors))
    table.add_row("order phase", f"{summary.order_phase_s:.1f} s")
    table.add_row("finished orders per second", _format_number(summary.finished_orders_per_s))
    p50 = percentile(summary.latencies_s, 50)
    p95 = percentile(summary.latencies_s, 95)
    table.add_row("submit-to-done latency p50", _format_seconds(p50))
    table.add_row("submit-to-done latency p95", _format_seconds(p95))
    return table


def _new_table(title: str) -> Table:
    table = Table(title=title, title_justify="left", show_header=False)
    table.add_column("item")
    table.add_column("value", justify="right")
    return table


def _add_reason_rows(table: Table, label: str, counts: Counter[str]) -> None:
    table.add_row(label, str(counts.total()))
    ranked = counts.most_common()
    for reason, count in ranked[:MAX_PRINTED_REASONS]:
        table.add_row(f"  {reason}", str(count))
    folded = ranked[MAX_PRINTED_REASONS:]
    if folded:
        table.add_row(f"  {len(folded)} other reasons", str(sum(count for _, count in folded)))


def _latency_note(summary: ReplaySummary) -> str:
    return (
        "Latencies are measured by polling each job, so they can be up to the poll interval "
        f"({summary.poll_interval_s:g} s) longer than the processing time."
    )


def _format_number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _format_seconds(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f} s"


def _round_or_none(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
