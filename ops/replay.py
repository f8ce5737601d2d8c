"""Replay real UCI Online Retail invoices as orders against a running orderflow stack.

    python -m ops.replay DATA_DIR_OR_CSV [--api-url http://127.0.0.1:8000] [--limit N]

The replay talks to the stack over HTTP only. It reads the invoices, and ops.retail_data lists
which rows it skips and why. It waits for GET /healthz and creates one user per CustomerID and
one product per StockCode. Then it submits every usable invoice as an order in time order,
polls each order's job until it finishes, and prints a summary.

- Users get an email unique to the run, ``customer-<CustomerID>.<run id>@replay.example``, so
  every run creates fresh users.
- Each user logs in (POST /auth/token) and places its orders with its own bearer token, logging
  in again before the token expires. Products are created with the operator key from
  --operator-key, else $ORDERFLOW_OPERATOR_KEY, else the development key that a stack without
  OPERATOR_API_KEY_SHA256 accepts.
- Products keep their StockCode as SKU. A SKU that already exists (409) is looked up with
  GET /products?sku= and reused as it is, because the API cannot change stock. Stock is set only
  when the replay creates a product: the quantity the replayed invoices need plus a margin.
- Most customers pay with Stripe's test card 4242 4242 4242 4242. A share of customers, chosen
  by a hash of the CustomerID so that the choice is the same in every run, pay with PayPal.
- The catalog price is the first UnitPrice seen for a StockCode, and the API prices each order
  from its catalog, so order totals are not the invoice totals of the data.

Exit status: 0 when the replay ran, even if orders failed; 1 when the API did not become ready;
2 for invalid arguments or unreadable data.
"""

import argparse
import asyncio
import ipaddress
import logging
import math
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import httpx
from rich.console import Console
from rich.logging import RichHandler

from domain.settings import DEV_OPERATOR_API_KEY
from ops.orderflow_client import ApiUnreachableError
from ops.replay_report import render_summary, write_json
from ops.replay_runner import ReplaySettings, new_run_id, run_replay
from ops.retail_data import RetailDataError, read_invoices

logger = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_API_UNREACHABLE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

DATA_DIR_ENV = "ORDERFLOW_DATA_DIR"
OPERATOR_KEY_ENV = "ORDERFLOW_OPERATOR_KEY"
RUN_ID_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")

Number = TypeVar("Number", int, float)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ops.replay",
        description=(
            "Replay UCI Online Retail invoices as orders against a running orderflow API "
            "and print what happened to them."
        ),
    )
    parser.add_argument(
        "data",
        nargs="?",
        type=Path,
        help=f"CSV file, or directory of CSV files read in name order (default: ${DATA_DIR_ENV})",
    )

    target = parser.add_argument_group("target")
    target.add_argument(
        "--api-url",
        type=_api_url,
        default=ReplaySettings.api_url,
        metavar="URL",
        help="base URL of the orderflow API (default: %(default)s)",
    )
    target.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow an --api-url that is not a loopback address",
    )
    target.add_argument(
        "--operator-key",
        metavar="KEY",
        help=(
            f"operator API key for creating products (default: ${OPERATOR_KEY_ENV}, else the "
            "development key); prefer the variable, because other users can read a command line"
        ),
    )
    target.add_argument(
        "--run-id",
        type=_run_id,
        help="lower-case letters, digits and '-' put into user emails (default: time + random)",
    )

    load = parser.add_argument_group("load")
    load.add_argument(
        "--limit",
        type=_positive_int,
        metavar="N",
        help="replay at most N usable invoices, the earliest first (default: all)",
    )
    load.add_argument(
        "--concurrency",
        type=_positive_int,
        default=ReplaySettings.concurrency,
        metavar="N",
        help=(
            "setup requests in flight at once, and orders in flight from submit until their "
            "job finishes (default: %(default)s)"
        ),
    )
    load.add_argument(
        "--paypal-share",
        type=_fraction,
        default=ReplaySettings.paypal_share,
        metavar="FRACTION",
        help="share of customers, from 0 to 1, who pay with PayPal (default: %(default)s)",
    )

    timing = parser.add_argument_group("timing, in seconds")
    _add_seconds_option(
        timing,
        "--timeout-s",
        ReplaySettings.job_timeout_s,
        "time from submitting an order until its job counts as timed out",
    )
    _add_seconds_option(
        timing,
        "--deadline-s",
        ReplaySettings.deadline_s,
        "time for the whole order phase, after which no order is submitted",
    )
    _add_seconds_option(
        timing,
        "--ready-timeout-s",
        ReplaySettings.ready_timeout_s,
        "time to wait for GET /healthz to return 200",
    )
    _add_seconds_option(
        timing,
        "--poll-interval-s",
        ReplaySettings.poll_interval_s,
        "maximum wait between two polls of one job, or a shorter Retry-After",
    )
    _add_seconds_option(
        timing,
        "--request-timeout-s",
        ReplaySettings.request_timeout_s,
        "timeout of one HTTP request",
    )

    output = parser.add_argument_group("output")
    output.add_argument("--json", type=Path, metavar="PATH", help="also write the summary here")
    output.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    return parser


def _add_seconds_option(
    group: argparse._ArgumentGroup, flag: str, default: float, help_text: str
) -> None:
    group.add_argument(
        flag,
        type=_positive_float,
        default=default,
        metavar="SECONDS",
        help=f"{help_text} (%(default)s)",
    )


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    err_console = Console(stderr=True)
    _configure_logging(err_console)

    data_path = args.data or _data_dir_from_env()
    if data_path is None:
        parser.error(f"give a CSV file or directory, or set {DATA_DIR_ENV}")
    if not args.allow_remote and not _is_loopback_url(args.api_url):
        parser.error(f"--api-url {args.api_url} is not a loopback address; add --allow-remote")

    settings = ReplaySettings(
        api_url=args.api_url,
        operator_key=args.operator_key or os.environ.get(OPERATOR_KEY_ENV) or DEV_OPERATOR_API_KEY,
        limit=args.limit,
        concurrency=args.concurrency,
        paypal_share=args.paypal_share,
        job_timeout_s=args.timeout_s,
        deadline_s=args.deadline_s,
        ready_timeout_s=args.ready_timeout_s,
        poll_interval_s=args.poll_interval_s,
        request_timeout_s=args.request_timeout_s,
        run_id=args.run_id or new_run_id(),
        show_progress=not args.no_progress,
    )
    try:
        data = read_invoices(data_path)
    except (RetailDataError, OSError) as error:
        logger.error("Reading the data failed: %s", error)
        return EXIT_USAGE

    try:
        summary = asyncio.run(run_replay(data, data_path, settings, err_console))
    except ApiUnreachableError as error:
        logger.error("%s", error)
        return EXIT_API_UNREACHABLE
    except KeyboardInterrupt:
        logger.error("Replay interrupted; no summary was written")
        return EXIT_INTERRUPTED

    render_summary(summary, Console())
    if args.json is not None:
        write_json(summary, args.json)
        logger.info("Summary written to %s", args.json)
    return EXIT_OK


def _configure_logging(console: Console) -> None:
    """Log to stderr: through rich on a terminal, so that lines appear above the progress bars,
    and as plain unwrapped lines otherwise. Does nothing when the root logger already has
    handlers, as under pytest."""
    if console.is_terminal:
        handler: logging.Handler = RichHandler(console=console, show_path=False)
        handler.setFormatter(logging.Formatter("%(message)s"))
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    logging.getLogger("httpx").setLevel(logging.WARNING)


def _data_dir_from_env() -> Path | None:
    value = os.environ.get(DATA_DIR_ENV, "").strip()
    return Path(value) if value else None


def _api_url(text: str) -> str:
    try:
        url = httpx.URL(text)
    except httpx.InvalidURL as error:
        raise argparse.ArgumentTypeError(f"invalid URL {text!r}: {error}") from error
    if url.scheme not in ("http", "https") or not url.host:
        raise argparse.ArgumentTypeError(
            f"invalid URL {text!r}: expected http://HOST:PORT, e.g. http://127.0.0.1:8000"
        )
    return text.rstrip("/")


def _is_loopback_url(url: str) -> bool:
    host = httpx.URL(url).host
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _positive_int(text: str) -> int:
    return _checked_number(text, int, lambda value: value >= 1, "a whole number >= 1")


def _positive_float(text: str) -> float:
    return _checked_number(text, float, lambda value: 0 < value < math.inf, "a number > 0")


def _fraction(text: str) -> float:
    return _checked_number(text, float, lambda value: 0 <= value <= 1, "a number from 0 to 1")


def _checked_number(
    text: str, convert: Callable[[str], Number], is_valid: Callable[[Number], bool], expected: str
) -> Number:
    try:
        value = convert(text)
    except ValueError:
        value = None
    if value is None or not is_valid(value):
        raise argparse.ArgumentTypeError(f"invalid value {text!r}: expected {expected}")
    return value


def _run_id(text: str) -> str:
    if not RUN_ID_PATTERN.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"invalid run id {text!r}: use 1 to 40 lower-case letters, digits and '-'"
        )
    return text


if __name__ == "__main__":
    sys.exit(main())
