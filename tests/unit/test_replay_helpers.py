"""Tests of the replay's pure helpers: payment choice, Retry-After, failure reasons, percentiles."""

from __future__ import annotations

import io
import logging
from datetime import UTC, datetime

import pytest
from rich.console import Console
from rich.progress import Progress

from ops.orderflow_client import parse_retry_after
from ops.replay import EXIT_USAGE, main
from ops.replay_report import ReplaySummary, percentile, reason_group
from ops.replay_runner import (
    LoggedProgress,
    _new_progress,
    customer_email,
    describe_failure,
    payment_for,
    stock_for,
    uses_paypal,
)
from ops.retail_data import ReadStats

CUSTOMER_IDS = [str(customer_id) for customer_id in range(12346, 18288)]


def test_paypal_choice_is_stable():
    first = [uses_paypal(customer_id, 0.2) for customer_id in CUSTOMER_IDS]
    second = [uses_paypal(customer_id, 0.2) for customer_id in CUSTOMER_IDS]

    assert first == second


def test_paypal_share_is_respected():
    share = sum(uses_paypal(customer_id, 0.2) for customer_id in CUSTOMER_IDS) / len(CUSTOMER_IDS)

    assert 0.18 < share < 0.22


@pytest.mark.parametrize(("share", "expected"), [(0.0, False), (1.0, True)])
def test_paypal_share_bounds(share, expected):
    assert {uses_paypal(customer_id, share) for customer_id in CUSTOMER_IDS} == {expected}


def test_card_payment_uses_stripe_test_card():
    payment = payment_for("17850", "customer-17850.run@replay.example", 0.0)

    assert payment["method"] == "card"
    assert payment["card_number"] == "4242424242424242"
    assert payment["exp_year"] > datetime.now(UTC).year
    assert payment["cvc"] == "123"


def test_paypal_payment_uses_customer_email():
    payment = payment_for("17850", "customer-17850.run@replay.example", 1.0)

    assert payment == {"method": "paypal", "payer_email": "customer-17850.run@replay.example"}


def test_customer_email_unique_per_run():
    assert customer_email("17850", "run-a") == "customer-17850.run-a@replay.example"
    assert customer_email("17850", "run-a") != customer_email("17850", "run-b")


@pytest.mark.parametrize(("needed", "stock"), [(1, 2), (9, 10), (10, 11), (74215, 81636)])
def test_stock_adds_margin(needed, stock):
    assert stock_for(needed) == stock


RETRY_AFTER_CASES = [
    (None, None),
    ("", None),
    ("1", 1.0),
    (" 2 ", 2.0),
    ("0.25", 0.25),
    ("-3", 0.0),
    ("inf", None),
    ("soon", None),
    ("Wed, 21 Oct 2015 07:28:05 GMT", 5.0),
    ("Wed, 21 Oct 2015 07:27:00 GMT", 0.0),
]


@pytest.mark.parametrize(("header", "seconds"), RETRY_AFTER_CASES)
def test_retry_after_parsed(header, seconds):
    now = datetime(2015, 10, 21, 7, 28, 0, tzinfo=UTC)

    assert parse_retry_after(header, now=now) == seconds


FAILURE_CASES = [
    (None, None),
    ("", None),
    ("  out_of_stock ", "out_of_stock"),
    ({"code": "card_declined", "message": "Your card was declined"}, "card_declined"),
    ({"message": "Your card was declined"}, "Your card was declined"),
    ({"detail": 3}, '{"detail": 3}'),
    (["a", "b"], '["a", "b"]'),
]


@pytest.mark.parametrize(("error", "reason"), FAILURE_CASES)
def test_failure_reason_described(error, reason):
    assert describe_failure(error) == reason


REASON_GROUPS = [
    ("out of stock: 85123A (requested 6)", "out of stock: … (requested …)"),
    ("payment declined: card_declined", "payment declined: card_declined"),
    ("user 'b5c1' was not found", "user … was not found"),
    ('order "17" was cancelled', "order … was cancelled"),
    ("out_of_stock", "out_of_stock"),
]


@pytest.mark.parametrize(("reason", "group"), REASON_GROUPS)
def test_reason_group_hides_values(reason, group):
    assert reason_group(reason) == group


def test_failures_grouped_with_example():
    summary = ReplaySummary(
        run_id="r", api_url="http://127.0.0.1:8000", data_path="d", read=ReadStats()
    )

    summary.record_failure("out of stock: 85123A (requested 6)")
    summary.record_failure("out of stock: 22633 (requested 12)")
    summary.record_failure("payment declined: card_declined")

    assert summary.orders_failed == {
        "out of stock: … (requested …)": 2,
        "payment declined: card_declined": 1,
    }
    assert summary.failure_examples["out of stock: … (requested …)"] == (
        "out of stock: 85123A (requested 6)"
    )
    assert summary.orders_finished == 3


def test_percentile_nearest_rank():
    values = [float(value) for value in range(1, 101)]

    assert percentile(values, 50) == 50.0
    assert percentile(values, 95) == 95.0
    assert percentile(values, 100) == 100.0
    assert percentile([0.3], 95) == 0.3
    assert percentile([], 50) is None


@pytest.mark.parametrize(
    "arguments",
    [
        ["--paypal-share", "1.5"],
        ["--concurrency", "0"],
        ["--timeout-s", "-1"],
        ["--limit", "ten"],
        ["--run-id", "Has Spaces"],
        ["--api-url", "127.0.0.1:8000"],
    ],
)
def test_invalid_arguments_rejected(tmp_path, arguments):
    with pytest.raises(SystemExit) as exit_info:
        main([str(tmp_path), *arguments])

    assert exit_info.value.code == EXIT_USAGE


def test_unreadable_data_exits_with_usage_error(tmp_path):
    assert main([str(tmp_path / "missing"), "--no-progress"]) == EXIT_USAGE


def test_progress_without_terminal_is_logged(caplog):
    progress = _new_progress(Console(file=io.StringIO()), enabled=True)
    caplog.set_level(logging.INFO, logger="ops.replay_runner")

    with progress:
        task = progress.add_task("orders", total=3)
        for _ in range(3):
            progress.advance(task)

    assert isinstance(progress, LoggedProgress)
    assert caplog.messages[-1] == "Replay progress: orders 3 of 3"


def test_progress_on_terminal_draws_bars():
    progress = _new_progress(Console(file=io.StringIO(), force_terminal=True), enabled=True)

    assert isinstance(progress, Progress)
