"""Drive a running orderflow API with retail invoices: create users and products, submit orders,
poll their jobs, and count every outcome in a ReplaySummary. The command line is ops.replay."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import secrets
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ops.orderflow_client import (
    AccessToken,
    ApiError,
    JobStatus,
    OrderflowClient,
    OrderflowError,
    ResourceId,
    SubmittedOrder,
)
from ops.replay_report import ReplaySummary
from ops.retail_data import (
    CatalogProduct,
    Customer,
    Invoice,
    RetailData,
    build_catalog,
    build_customers,
)

logger = logging.getLogger(__name__)

EMAIL_DOMAIN = "replay.example"


# Stripe's test card 4242 4242 4242 4242 is approved in test mode with any future expiry date
# and any three-digit CVC.
TEST_CARD_NUMBER = "4242424242424242"
TEST_CARD_YEARS_AHEAD = 5

# Shortest wait between two polls of one job, so that a Retry-After of 0 cannot turn polling
# into a busy loop. With it every poll loop is bounded by job timeout / POLL_MIN_INTERVAL_S.
POLL_MIN_INTERVAL_S = 0.05

# Stock above what the replayed invoices need, so that an order the stack processes twice does
# not starve a later one: 10 % more, and at least one unit.
STOCK_MARGIN_SHARE = 0.10

# Product failure reason when POST /products returns 409 but GET /products?sku= finds nothing.
MISSING_AFTER_CONFLICT = "409 but not found by SKU"

# Failures of the same kind and reason logged in full before the rest are only counted.
MAX_LOGGED_PER_REASON = 3

# A customer logs in again when its access token has less than this many seconds left.
TOKEN_REFRESH_MARGIN_S = 60.0

# Seconds between progress lines when the log is not a terminal.
PROGRESS_LOG_INTERVAL_S = 10.0

Item = TypeVar("Item")


def new_run_id() -> str:
    """Return a run id made of the UTC time and a random suffix, e.g. ``20240131t120000-a1b2c3``."""
    return f"{datetime.now(UTC):%Y%m%dt%H%M%S}-{secrets.token_hex(3)}"


@dataclass(frozen=True)
class ReplaySettings:
    """Options of one replay run. Times are in seconds."""

    api_url: str = "http://127.0.0.1:8000"
    # Sent as X-API-Key to create products; None sends no key.
    operator_key: str | None = None
    limit: int | None = None
    concurrency: int = 16
    paypal_share: float = 0.2
    job_timeout_s: float = 60.0
    deadline_s: float = 3600.0
    ready_timeout_s: float = 30.0
    poll_interval_s: float = 0.5
    request_timeout_s: float = 10.0
    run_id: str = field(default_factory=new_run_id)
    show_progress: bool = True


def customer_email(customer_id: str, run_id: str) -> str:
    return f"customer-{customer_id}.{run_id}@{EMAIL_DOMAIN}"


def uses_paypal(customer_id: str, paypal_share: float) -> bool:
    """Return whether the customer pays with PayPal, the same way in every run and process.

    SHA-256 rather than hash(), because hash() of a str changes between processes.
    """
    digest = hashlib.sha256(customer_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < paypal_share


def payment_for(customer_id: str, email: str, paypal_share: float) -> dict[str, Any]:
    if uses_paypal(customer_id, paypal_share):
        return {"method": "paypal", "payer_email": email}
    return {
        "method": "card",
        "card_number": TEST_CARD_NUMBER,
        "exp_month": 12,
        "exp_year": date.today().year + TEST_CARD_YEARS_AHEAD,
        "cvc": "123",
    }


def stock_for(quantity_needed: int) -> int:
    return quantity_needed + max(1, int(quantity_needed * STOCK_MARGIN_SHARE))


def describe_failure(error: Any) -> str | None:
    """Return a short reason for a failed job from its ``error`` or the order's
    ``failure_reason``, which may be a string, an object with a code or message, or null."""
    if error is None or error == "":
        return None
    if isinstance(error, str):
        return error.strip() or None
    if isinstance(error, dict):
        for key in ("code", "message", "reason"):
            if error.get(key):
                return str(error[key])
    return json.dumps(error, sort_keys=True, default=str)[:200]


async def run_bounded(
    items: Iterable[Item], handle: Callable[[Item], Awaitable[None]], concurrency: int
) -> None:
    """Call ``handle`` on every item with at most ``concurrency`` calls in flight.

    Workers take items from one shared iterator, so calls start in the order of ``items``.
    ``handle`` must catch its own expected errors, because any other exception cancels the rest.
    """
    iterator = iter(items)

    async def work() -> None:
        for item in iterator:
            await handle(item)

    async with asyncio.TaskGroup() as group:
        for _ in range(concurrency):
            group.create_task(work())


class _FailureLog:
    """Log the first few failures of each kind and reason at warning level, then only count."""

    def __init__(self) -> None:
        self._seen: Counter[tuple[str, str]] = Counter()

    def warn(self, kind: str, reason: str, message: str, *args: Any) -> None:
        self._seen[kind, reason] += 1
        seen = self._seen[kind, reason]
        if seen <= MAX_LOGGED_PER_REASON:
            logger.warning(message, *args)
        if seen == MAX_LOGGED_PER_REASON:
            logger.warning("Further %s failures for reason %r are only counted", kind, reason)


class Replay:
    """Drive one orderflow API with the invoices of one read and record a ReplaySummary."""

    def __init__(
        self,
        client: OrderflowClient,
        settings: ReplaySettings,
        summary: ReplaySummary,
        progress: Progress | LoggedProgress,
    ):
        self._client = client
        self._settings = settings
        self._summary = summary
        self._progress = progress
        self._failures = _FailureLog()
        # One password for all users of a run, strong enough for the usual rules (upper and
        # lower case, digits, a symbol). The replay logs in with it and never prints it.
        self._password = f"Replay-{secrets.token_hex(12)}!"
        self._tokens: dict[str, AccessToken] = {}

    async def run(self, invoices: list[Invoice]) -> None:
        user_ids = await self.create_users(build_customers(invoices))
        ready_skus = await self.create_products(build_catalog(invoices))
        await self.replay_orders(invoices, user_ids, ready_skus)

    async def create_users(self, customers: dict[str, Customer]) -> dict[str, ResourceId]:
        """Create and log in one user per customer and return their ids by CustomerID."""
        user_ids: dict[str, ResourceId] = {}
        task = self._progress.add_task("users", total=len(customers))

        async def create(customer: Customer) -> None:
            email = customer_email(customer.customer_id, self._settings.run_id)
            try:
                user_id = await self._client.create_user(
                    name=f"Customer {customer.customer_id}", email=email, password=self._password
                )
                token = await self._client.login(email=email, password=self._password)
            except (httpx.HTTPError, OrderflowError) as error:
                self._record_setup_failure("user", self._summary.user_failures, email, error)
            else:
                user_ids[customer.customer_id] = user_id
                self._tokens[customer.customer_id] = token
                self._summary.users_created += 1
            self._progress.advance(task)

        await run_bounded(customers.values(), create, self._settings.concurrency)
        return user_ids

    async def create_products(self, catalog: dict[str, CatalogProduct]) -> set[str]:
        """Create or reuse one product per SKU and return the SKUs that orders can use."""
        ready_skus: set[str] = set()
        task = self._progress.add_task("products", total=len(catalog))

        async def create(product: CatalogProduct) -> None:
            failures = self._summary.product_failures
            try:
                ready = await self._create_or_reuse_product(product)
            except (httpx.HTTPError, OrderflowError) as error:
                self._record_setup_failure("product", failures, product.sku, error)
            else:
                if ready:
                    ready_skus.add(product.sku)
                else:
                    failures[MISSING_AFTER_CONFLICT] += 1
                    self._failures.warn(
                        "product",
                        MISSING_AFTER_CONFLICT,
                        "Creating product %s returned 409, but GET /products?sku= did not find it",
                        product.sku,
                    )
            self._progress.advance(task)

        await run_bounded(catalog.values(), create, self._settings.concurrency)
        return ready_skus

    async def _create_or_reuse_product(self, product: CatalogProduct) -> bool:
        """Return True when the SKU was created or already existed, False when the API reported
        it as a duplicate but does not list it."""
        try:
            await self._client.create_product(
                sku=product.sku,
                name=product.name,
                price=product.price,
                stock=stock_for(product.quantity_needed),
            )
        except ApiError as error:
            if error.status_code != 409:
                raise
            if await self._client.find_product(product.sku) is None:
                return False
            self._summary.products_reused += 1
        else:
            self._summary.products_created += 1
        return True

    async def replay_orders(
        self, invoices: list[Invoice], user_ids: dict[str, ResourceId], ready_skus: set[str]
    ) -> None:
        """Submit each invoice as an order in time order and wait for every job to finish."""
        task = self._progress.add_task("orders", total=len(invoices))
        started = time.monotonic()
        deadline = started + self._settings.deadline_s

        async def replay(invoice: Invoice) -> None:
            await self._replay_order(invoice, user_ids, ready_skus, deadline)
            self._progress.advance(task)

        await run_bounded(invoices, replay, self._settings.concurrency)
        self._summary.order_phase_s = time.monotonic() - started

    async def _replay_order(
        self,
        invoice: Invoice,
        user_ids: dict[str, ResourceId],
        ready_skus: set[str],
        deadline: float,
    ) -> None:
        summary = self._summary
        reason = self._reason_not_to_submit(invoice, user_ids, ready_skus, deadline)
        if reason is not None:
            summary.orders_not_submitted[reason] += 1
            return

        submitted_at = time.monotonic()
        submitted = await self._submit(invoice)
        if submitted is None:
            return

        job_deadline = min(submitted_at + self._settings.job_timeout_s, deadline)
        finished = await self._wait_for_job(invoice, submitted, job_deadline)
        if finished is None:
            summary.orders_timed_out += 1
            self._failures.warn(
                "order",
                "timed out",
                "Invoice %s: job %s did not finish in time (order %s)",
                invoice.invoice_no,
                submitted.job_id,
                submitted.order_id,
            )
            return

        job, finished_at = finished
        summary.latencies_s.append(finished_at - submitted_at)
        if job.state == "succeeded":
            summary.orders_succeeded += 1
        else:
            summary.record_failure(await self._failure_reason(job, invoice, submitted.order_id))

    def _reason_not_to_submit(
        self,
        invoice: Invoice,
        user_ids: dict[str, ResourceId],
        ready_skus: set[str],
        deadline: float,
    ) -> str | None:
        if time.monotonic() >= deadline:
            return "deadline reached"
        if invoice.customer_id not in user_ids:
            return "user not created"
        if any(line.sku not in ready_skus for line in invoice.lines):
            return "product not created"
        return None

    async def _token_for(self, customer_id: str) -> AccessToken:
        """Return the customer's access token, logging in again when it is about to expire."""
        token = self._tokens[customer_id]
        if token.expires_at - time.monotonic() < TOKEN_REFRESH_MARGIN_S:
            email = customer_email(customer_id, self._settings.run_id)
            token = await self._client.login(email=email, password=self._password)
            self._tokens[customer_id] = token
        return token

    async def _submit(self, invoice: Invoice) -> SubmittedOrder | None:
        """Submit the invoice as an order; return None after counting a rejection."""
        email = customer_email(invoice.customer_id, self._settings.run_id)
        payment = payment_for(invoice.customer_id, email, self._settings.paypal_share)
        items = [{"sku": line.sku, "quantity": line.quantity} for line in invoice.lines]
        try:
            token = await self._token_for(invoice.customer_id)
            submitted = await self._client.submit_order(token=token, items=items, payment=payment)
        except (httpx.HTTPError, OrderflowError) as error:
            reason = str(error.status_code) if isinstance(error, ApiError) else type(error).__name__
            self._summary.orders_rejected[reason] += 1
            self._failures.warn(
                "submit", reason, "Invoice %s: order rejected: %s", invoice.invoice_no, error
            )
            return None

        self._summary.orders_submitted += 1
        if payment["method"] == "paypal":
            self._summary.orders_paid_by_paypal += 1
        else:
            self._summary.orders_paid_by_card += 1
        return submitted

    async def _wait_for_job(
        self, invoice: Invoice, submitted: SubmittedOrder, job_deadline: float
    ) -> tuple[JobStatus, float] | None:
        """Poll the job until it finishes; return it with the monotonic time it was seen
        finished, or None at ``job_deadline``.

        A 4xx response other than 429 ends the wait with the job counted as failed, because
        another request would get the same response.
        """
        delay = self._poll_delay(submitted.retry_after_s)
        while (remaining := job_deadline - time.monotonic()) > 0:
            await asyncio.sleep(min(delay, remaining))
            try:
                token = await self._token_for(invoice.customer_id)
                job = await self._client.get_job(submitted.job_id, token)
            except ApiError as error:
                if 400 <= error.status_code < 500 and error.status_code != 429:
                    return self._lookup_failed_job(submitted, error), time.monotonic()
                self._record_poll_error(invoice, submitted, error)
                delay = self._settings.poll_interval_s
                continue
            except (httpx.HTTPError, OrderflowError) as error:
                self._record_poll_error(invoice, submitted, error)
                delay = self._settings.poll_interval_s
                continue
            if job.finished:
                return job, time.monotonic()
            delay = self._poll_delay(job.retry_after_s)
        return None

    def _poll_delay(self, retry_after_s: float | None) -> float:
        """Honour Retry-After, but wait no longer than --poll-interval-s so that latencies
        keep that resolution, and no shorter than POLL_MIN_INTERVAL_S."""
        if retry_after_s is None:
            return self._settings.poll_interval_s
        return min(max(retry_after_s, POLL_MIN_INTERVAL_S), self._settings.poll_interval_s)

    async def _failure_reason(self, job: JobStatus, invoice: Invoice, order_id: ResourceId) -> str:
        """Return the job's error, or else the order's failure_reason."""
        reason = describe_failure(job.error)
        if reason is None:
            try:
                token = await self._token_for(invoice.customer_id)
                order = await self._client.get_order(order_id, token)
            except (httpx.HTTPError, OrderflowError) as error:
                logger.warning("Order %s: reading its failure_reason failed: %s", order_id, error)
            else:
                reason = describe_failure(order.get("failure_reason"))
        return reason or "no reason given"

    def _lookup_failed_job(self, submitted: SubmittedOrder, error: ApiError) -> JobStatus:
        return JobStatus(
            job_id=submitted.job_id,
            order_id=submitted.order_id,
            state="failed",
            step=None,
            error=f"job lookup returned {error.status_code}",
            retry_after_s=None,
        )

    def _record_poll_error(
        self, invoice: Invoice, submitted: SubmittedOrder, error: Exception
    ) -> None:
        self._summary.poll_errors += 1
        self._failures.warn(
            "poll",
            type(error).__name__,
            "Invoice %s: polling job %s failed, will retry: %s",
            invoice.invoice_no,
            submitted.job_id,
            error,
        )

    def _record_setup_failure(
        self, kind: str, failures: Counter[str], key: str, error: Exception
    ) -> None:
        if isinstance(error, ApiError):
            reason = f"{error.status_code} {error.code}".strip()
        else:
            reason = type(error).__name__
        failures[reason] += 1
        self._failures.warn(kind, reason, "Creating %s %s failed: %s", kind, key, error)


async def run_replay(
    data: RetailData, data_path: Path, settings: ReplaySettings, console: Console
) -> ReplaySummary:
    """Replay the invoices of ``data`` against ``settings.api_url`` and return the summary.

    Raises ApiUnreachableError when GET /healthz does not return 200 in time.
    """
    invoices = data.invoices if settings.limit is None else data.invoices[: settings.limit]
    summary = ReplaySummary(
        run_id=settings.run_id,
        api_url=settings.api_url,
        data_path=str(data_path),
        read=data.stats,
        invoices_replayed=len(invoices),
        poll_interval_s=settings.poll_interval_s,
    )
    limits = httpx.Limits(max_connections=settings.concurrency)
    async with httpx.AsyncClient(
        base_url=settings.api_url, timeout=settings.request_timeout_s, limits=limits
    ) as http:
        client = OrderflowClient(http, operator_key=settings.operator_key)
        logger.info("Waiting up to %s s for %s/healthz", settings.ready_timeout_s, settings.api_url)
        await client.wait_until_ready(settings.ready_timeout_s)
        logger.info(
            "Replaying %s invoices against %s as run %s",
            len(invoices),
            settings.api_url,
            settings.run_id,
        )
        with _new_progress(console, settings.show_progress) as progress:
            await Replay(client, settings, summary, progress).run(invoices)
    return summary


def _new_progress(console: Console, enabled: bool) -> Progress | LoggedProgress:
    """Return progress bars on a terminal, else progress lines in the log (as under a process manager)."""
    if enabled and not console.is_terminal:
        return LoggedProgress()
    return Progress(
        TextColumn("{task.description:>8}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=not enabled,
    )


@dataclass
class _LoggedTask:
    description: str
    total: int
    done: int = 0
    logged_at: float = field(default_factory=time.monotonic)


class LoggedProgress:
    """Progress as log lines: one per task every PROGRESS_LOG_INTERVAL_S seconds and when it is done.

    Rich draws no bars when stderr is not a terminal, so without this a replay under honcho
    or in a container would show nothing between its start and its report.
    """

    def __init__(self) -> None:
        self._tasks: list[_LoggedTask] = []

    def add_task(self, description: str, total: int) -> int:
        self._tasks.append(_LoggedTask(description, total))
        return len(self._tasks) - 1

    def advance(self, task_id: int) -> None:
        task = self._tasks[task_id]
        task.done += 1

        now = time.monotonic()
        if task.done == task.total or now - task.logged_at >= PROGRESS_LOG_INTERVAL_S:
            task.logged_at = now
            logger.info("Replay progress: %s %s of %s", task.description, task.done, task.total)

    def __enter__(self) -> LoggedProgress:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None
