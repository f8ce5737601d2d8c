"""Run the replay end to end against a real HTTP server on a loopback port.

The server is a stand-in written here: a small FastAPI app that keeps users, products, orders and
jobs in memory and implements the orderflow HTTP contract that the replay uses. It runs under
uvicorn in a thread, so every request of the replay goes through a real socket.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI, Form, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from domain.settings import DEV_OPERATOR_API_KEY
from ops.ports import free_port
from ops.replay import EXIT_API_UNREACHABLE, EXIT_OK, main
from ops.replay_runner import stock_for, uses_paypal
from ops.retail_data import build_catalog, build_customers, read_invoices

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLE_CSV = REPO_ROOT / "tests" / "data" / "online-retail-sample.csv"
SAMPLE_INVOICES = read_invoices(SAMPLE_CSV).invoices
SAMPLE_CUSTOMERS = build_customers(SAMPLE_INVOICES)
SAMPLE_CATALOG = build_catalog(SAMPLE_INVOICES)
PAYPAL_SHARE = 0.2
# Fast polling keeps the tests short, because the stand-in sends Retry-After: 1.
FAST_POLL = ["--poll-interval-s", "0.05", "--no-progress"]
STRIPE_TEST_CARD = "4242424242424242"


# --- stand-in orderflow API -------------------------------------------------------------------


class UserIn(BaseModel):
    name: str
    email: str
    password: str
    phone: str | None = None
    notify_via: str = "email"


class ProductIn(BaseModel):
    sku: str
    name: str
    price: Decimal
    currency: str
    stock: int


class ItemIn(BaseModel):
    sku: str
    quantity: int


class OrderIn(BaseModel):
    user_id: int | None = None
    items: list[ItemIn]
    payment: dict[str, Any]


@dataclass
class StandInState:
    """Everything the stand-in stores, readable by the tests after a run.

    ``decline_paypal`` fails every PayPal payment; ``max_items`` rejects larger orders with 422;
    ``hold_jobs`` leaves every job queued forever; ``token_lifetime_s`` is the ``expires_in`` of
    each login. Tokens are ``token-<user id>-<login number>`` and never expire here.
    """

    decline_paypal: bool = False
    max_items: int | None = None
    hold_jobs: bool = False
    token_lifetime_s: float = 900
    logins: int = 0
    users: dict[int, dict[str, Any]] = field(default_factory=dict)
    passwords: dict[str, str] = field(default_factory=dict)
    products: dict[str, dict[str, Any]] = field(default_factory=dict)
    orders: dict[int, dict[str, Any]] = field(default_factory=dict)
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))


def error_response(status: int, code: str, message: str, fields=()) -> JSONResponse:
    body = {"error": {"code": code, "message": message, "fields": list(fields)}}
    return JSONResponse(body, status_code=status)


def create_stand_in_app(state: StandInState) -> FastAPI:
    app = FastAPI()

    def user_of(authorization: str | None) -> int | None:
        """Return the user id of a bearer token this stand-in issued, else None."""
        scheme, _, token = (authorization or "").partition(" ")
        parts = token.split("-")
        if scheme != "Bearer" or len(parts) != 3 or parts[0] != "token" or not parts[1].isdigit():
            return None
        return int(parts[1]) if int(parts[1]) in state.users else None

    def not_authenticated() -> JSONResponse:
        return error_response(401, "not_authenticated", "bearer token missing or invalid")

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        fields = [
            {"field": ".".join(str(part) for part in error["loc"]), "message": error["msg"]}
            for error in exc.errors()
        ]
        return error_response(422, "validation_error", "invalid request body", fields)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/users", status_code=201)
    async def create_user(body: UserIn):
        if any(user["email"] == body.email for user in state.users.values()):
            return error_response(409, "email_taken", f"email {body.email} is taken")
        user = {"id": next(state.ids), "name": body.name, "email": body.email}
        user |= {"notify_via": body.notify_via, "active": True, "created_at": "2024-01-01T00:00Z"}
        state.users[user["id"]] = user
        state.passwords[body.email] = body.password
        return user

    @app.post("/auth/token")
    async def log_in(username: str = Form(), password: str = Form()):
        if state.passwords.get(username) != password:
            return error_response(401, "not_authenticated", "Incorrect email or password.")
        state.logins += 1
        user_id = next(user["id"] for user in state.users.values() if user["email"] == username)
        token = f"token-{user_id}-{state.logins}"
        return {"access_token": token, "token_type": "bearer", "expires_in": state.token_lifetime_s}

    @app.post("/products", status_code=201)
    async def create_product(body: ProductIn, x_api_key: str | None = Header(None)):
        if x_api_key != DEV_OPERATOR_API_KEY:
            return error_response(401, "not_authenticated", "operator key missing or invalid")
        if body.sku in state.products:
            return error_response(409, "sku_taken", f"SKU {body.sku} exists")
        product = {"id": next(state.ids), "sku": body.sku, "name": body.name}
        product |= {"price": str(body.price), "currency": body.currency, "stock": body.stock}
        state.products[body.sku] = product
        return product

    @app.get("/products")
    async def list_products(sku: str | None = None):
        return [product for product in state.products.values() if sku in (None, product["sku"])]

    @app.post("/orders", status_code=202)
    async def submit_order(body: OrderIn, authorization: str | None = Header(None)):
        user_id = user_of(authorization)
        if user_id is None:
            return not_authenticated()
        if body.user_id not in (None, user_id):
            return error_response(403, "forbidden", "user_id must be your own")
        unknown = [item.sku for item in body.items if item.sku not in state.products]
        if unknown:
            return error_response(422, "unknown_sku", f"unknown SKUs {unknown}")
        if state.max_items is not None and len(body.items) > state.max_items:
            return error_response(422, "too_many_items", f"more than {state.max_items} items")

        order_id = next(state.ids)
        job_id = f"job-{order_id}"
        total = sum(
            Decimal(state.products[item.sku]["price"]) * item.quantity for item in body.items
        )
        state.orders[order_id] = {
            "id": order_id,
            "user_id": user_id,
            "status": "pending",
            "items": [item.model_dump() for item in body.items],
            "total": str(total),
            "currency": "GBP",
            "payment": {"method": body.payment.get("method")},
            "card_number": body.payment.get("card_number"),
            "steps": [],
            "failure_reason": None,
        }
        state.jobs[job_id] = {
            "job_id": job_id,
            "order_id": order_id,
            "state": "queued",
            "step": None,
            "error": None,
        }
        if not state.hold_jobs:
            asyncio.get_running_loop().create_task(process_job(state, job_id))
        status_url = f"/jobs/{job_id}"
        return JSONResponse(
            {"order_id": order_id, "job_id": job_id, "status_url": status_url},
            status_code=202,
            headers={"Location": status_url, "Retry-After": "1"},
        )

    @app.get("/jobs/{job_id}")
    async def get_job(job_id: str, authorization: str | None = Header(None)):
        job = state.jobs.get(job_id)
        if user_of(authorization) is None:
            return not_authenticated()
        if job is None or state.orders[job["order_id"]]["user_id"] != user_of(authorization):
            return error_response(404, "job_not_found", f"job {job_id} not found")
        finished = job["state"] in ("succeeded", "failed")
        return JSONResponse(job, headers={} if finished else {"Retry-After": "1"})

    @app.get("/orders/{order_id}")
    async def get_order(order_id: int, authorization: str | None = Header(None)):
        order = state.orders.get(order_id)
        if user_of(authorization) is None:
            return not_authenticated()
        if order is None or order["user_id"] != user_of(authorization):
            return error_response(404, "order_not_found", f"order {order_id} not found")
        return {key: value for key, value in order.items() if key != "card_number"}

    return app


async def process_job(state: StandInState, job_id: str) -> None:
    """Reserve stock, then charge the payment, the same order of steps as the orderflow saga.

    Stock failures are reported on the job, and payment failures only on the order, so that the
    replay's fallback from the job's error to the order's failure_reason is exercised.
    """
    job = state.jobs[job_id]
    order = state.orders[job["order_id"]]
    await asyncio.sleep(0.01)
    job["state"] = "running"
    job["step"] = "reserve_stock"
    short = [
        item["sku"]
        for item in order["items"]
        if state.products[item["sku"]]["stock"] < item["quantity"]
    ]
    if short:
        job["error"] = {"code": "out_of_stock", "message": f"not enough stock for {short}"}
        finish(job, order, "failed", "out_of_stock")
        return
    for item in order["items"]:
        state.products[item["sku"]]["stock"] -= item["quantity"]

    await asyncio.sleep(0.01)
    job["step"] = "charge_payment"
    method = order["payment"]["method"]
    paid = (method == "card" and order["card_number"] == STRIPE_TEST_CARD) or (
        method == "paypal" and not state.decline_paypal
    )
    if not paid:
        for item in order["items"]:
            state.products[item["sku"]]["stock"] += item["quantity"]
        finish(job, order, "failed", "payment_declined")
        return
    finish(job, order, "succeeded", None)


def finish(job: dict[str, Any], order: dict[str, Any], state: str, reason: str | None) -> None:
    order["status"] = "completed" if state == "succeeded" else "failed"
    order["failure_reason"] = reason
    job["state"] = state


@contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """Run ``app`` under uvicorn on a free loopback port and yield its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert time.monotonic() < deadline, "stand-in server did not start within 10 s"
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture
def stand_in():
    """Return a function that starts a stand-in server with StandInState options and returns
    its URL and state. Every server started stops at the end of the test."""
    with ExitStack() as stack:

        def start(**options: Any) -> tuple[str, StandInState]:
            state = StandInState(**options)
            url = stack.enter_context(serve(create_stand_in_app(state)))
            return url, state

        yield start


def run_replay_cli(args: list[str], json_path: Path) -> dict[str, Any]:
    """Run ops.replay.main in this process and return the JSON summary it wrote."""
    exit_code = main([*args, "--json", str(json_path), *FAST_POLL])
    assert exit_code == EXIT_OK
    return json.loads(json_path.read_text(encoding="utf-8"))


def expected_paypal_orders(invoices) -> int:
    return sum(uses_paypal(invoice.customer_id, PAYPAL_SHARE) for invoice in invoices)


# --- tests --------------------------------------------------------------------------------------


def test_sample_replay_completes_every_order(stand_in, tmp_path):
    url, state = stand_in()
    json_path = tmp_path / "summary.json"

    completed = subprocess.run(
        [
            sys.executable, "-m", "ops.replay", str(SAMPLE_CSV),
            "--api-url", url, "--run-id", "sample-1", "--json", str(json_path), *FAST_POLL,
        ],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip

    assert completed.returncode == EXIT_OK, completed.stderr
    assert "Orders" in completed.stdout
    summary = json.loads(json_path.read_text(encoding="utf-8"))
    assert summary["read"]["invoices_read"] == 33
    assert summary["read"]["invoices_usable"] == 21
    assert summary["invoices_replayed"] == 21
    assert summary["users"] == {"created": 14, "failed": {}}
    assert summary["products"] == {"created": 207, "reused": 0, "failed": {}}
    orders = summary["orders"]
    assert orders["submitted"] == 21
    assert orders["succeeded"] == 21
    assert orders["failed"] == {}
    assert orders["rejected"] == {}
    assert orders["not_submitted"] == {}
    assert orders["timed_out"] == 0
    assert orders["paid_by_paypal"] == expected_paypal_orders(SAMPLE_INVOICES)
    assert orders["paid_by_card"] == 21 - orders["paid_by_paypal"]
    assert summary["latency_p50_s"] > 0
    assert summary["latency_p95_s"] >= summary["latency_p50_s"]
    assert summary["finished_orders_per_s"] > 0


def test_sample_replay_sets_up_users_and_stock(stand_in, tmp_path):
    url, state = stand_in()

    run_replay_cli([str(SAMPLE_CSV), "--api-url", url, "--run-id", "setup-1"], tmp_path / "s.json")

    emails = sorted(user["email"] for user in state.users.values())
    assert emails == sorted(
        f"customer-{customer_id}.setup-1@replay.example" for customer_id in SAMPLE_CUSTOMERS
    )
    jar = state.products["23166"]
    assert jar["price"] == "1.04"
    assert jar["stock"] == stock_for(74215) - 74215
    for sku, product in SAMPLE_CATALOG.items():
        assert state.products[sku]["stock"] == stock_for(product.quantity_needed) - (
            product.quantity_needed
        )
    methods = [order["payment"]["method"] for order in state.orders.values()]
    assert methods.count("paypal") == expected_paypal_orders(SAMPLE_INVOICES)


def test_orders_placed_as_their_customers(stand_in, tmp_path):
    url, state = stand_in()

    run_replay_cli([str(SAMPLE_CSV), "--api-url", url, "--run-id", "owners-1"], tmp_path / "s.json")

    user_by_email = {user["email"]: user_id for user_id, user in state.users.items()}
    owners = {order["user_id"] for order in state.orders.values()}
    assert owners == {user_by_email[f"customer-{invoice.customer_id}.owners-1@replay.example"] for invoice in SAMPLE_INVOICES}
    assert state.logins == len(SAMPLE_CUSTOMERS)


def test_tokens_renewed_before_expiry(stand_in, tmp_path):
    url, state = stand_in(token_lifetime_s=30)

    summary = run_replay_cli([str(SAMPLE_CSV), "--api-url", url, "--limit", "5"], tmp_path / "s.json")

    assert summary["orders"]["succeeded"] == 5
    # One login per customer at setup, and more because every token was about to expire.
    assert state.logins > len(build_customers(SAMPLE_INVOICES[:5]))


def test_wrong_operator_key_fails_products(stand_in, tmp_path):
    url, _ = stand_in()

    summary = run_replay_cli(
        [str(SAMPLE_CSV), "--api-url", url, "--limit", "2", "--operator-key", "wrong"], tmp_path / "s.json"
    )

    assert summary["products"]["created"] == 0
    assert summary["products"]["failed"] == {"401 not_authenticated": summary["products"]["failed"]["401 not_authenticated"]}
    assert summary["orders"]["submitted"] == 0


def test_declined_payments_counted_by_reason(stand_in, tmp_path):
    url, _ = stand_in(decline_paypal=True)

    summary = run_replay_cli([str(SAMPLE_CSV), "--api-url", url], tmp_path / "s.json")

    paypal_orders = expected_paypal_orders(SAMPLE_INVOICES)
    assert paypal_orders > 0
    assert summary["orders"]["failed"] == {"payment_declined": paypal_orders}
    assert summary["orders"]["failure_examples"] == {"payment_declined": "payment_declined"}
    assert summary["orders"]["succeeded"] == 21 - paypal_orders


def test_rerun_reuses_products_and_runs_out_of_stock(stand_in, tmp_path):
    url, state = stand_in()
    run_replay_cli([str(SAMPLE_CSV), "--api-url", url], tmp_path / "first.json")

    summary = run_replay_cli(
        [str(SAMPLE_CSV), "--api-url", url, "--concurrency", "1"], tmp_path / "second.json"
    )

    assert summary["users"]["created"] == 14
    assert summary["products"] == {"created": 0, "reused": 207, "failed": {}}
    orders = summary["orders"]
    assert orders["submitted"] == 21
    assert orders["failed"]["out_of_stock"] >= 1
    assert orders["succeeded"] + orders["failed"]["out_of_stock"] == 21
    assert len(state.users) == 28


def test_rejected_orders_counted_by_status(stand_in, tmp_path):
    url, _ = stand_in(max_items=20)
    large = sum(len(invoice.lines) > 20 for invoice in SAMPLE_INVOICES)

    summary = run_replay_cli([str(SAMPLE_CSV), "--api-url", url], tmp_path / "s.json")

    assert large > 0
    assert summary["orders"]["rejected"] == {"422": large}
    assert summary["orders"]["submitted"] == 21 - large
    assert summary["orders"]["succeeded"] == 21 - large


def test_limit_replays_earliest_invoices(stand_in, tmp_path):
    url, state = stand_in()

    summary = run_replay_cli(
        [str(SAMPLE_CSV), "--api-url", url, "--limit", "3"], tmp_path / "s.json"
    )

    assert summary["invoices_replayed"] == 3
    assert summary["orders"]["succeeded"] == 3
    first_three_skus = {line.sku for invoice in SAMPLE_INVOICES[:3] for line in invoice.lines}
    assert set(state.products) == first_three_skus


def test_stuck_jobs_time_out(stand_in, tmp_path):
    url, _ = stand_in(hold_jobs=True)

    summary = run_replay_cli(
        [str(SAMPLE_CSV), "--api-url", url, "--limit", "4", "--timeout-s", "0.3"],
        tmp_path / "s.json",
    )

    assert summary["orders"]["submitted"] == 4
    assert summary["orders"]["timed_out"] == 4
    assert summary["orders"]["succeeded"] == 0
    assert summary["latency_p50_s"] is None


def test_deadline_stops_submitting(stand_in, tmp_path):
    url, _ = stand_in(hold_jobs=True)

    summary = run_replay_cli(
        [str(SAMPLE_CSV), "--api-url", url, "--concurrency", "2", "--deadline-s", "0.3"],
        tmp_path / "s.json",
    )

    orders = summary["orders"]
    assert orders["submitted"] == 2
    assert orders["timed_out"] == 2
    assert orders["not_submitted"] == {"deadline reached": 19}


def test_unreachable_api_exits_nonzero(tmp_path):
    closed_port = free_port()

    completed = subprocess.run(
        [
            sys.executable, "-m", "ops.replay", str(SAMPLE_CSV),
            "--api-url", f"http://127.0.0.1:{closed_port}", "--ready-timeout-s", "1",
            "--no-progress",
        ],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip

    assert completed.returncode == EXIT_API_UNREACHABLE
    assert "healthz did not return 200" in completed.stderr


def test_remote_api_url_rejected():
    with pytest.raises(SystemExit) as exit_info:
        main([str(SAMPLE_CSV), "--api-url", "http://orderflow.invalid:8000"])

    assert exit_info.value.code == 2


@pytest.mark.skipif(
    not os.environ.get("ORDERFLOW_DATA_DIR"),
    reason="ORDERFLOW_DATA_DIR is not set to the directory of UCI Online Retail CSV files",
)
def test_full_dataset_replay_first_invoices(stand_in, tmp_path):
    url, _ = stand_in()

    summary = run_replay_cli(["--api-url", url, "--limit", "200"], tmp_path / "s.json")

    assert summary["read"]["invoices_usable"] > 200
    assert summary["invoices_replayed"] == 200
    assert summary["orders"]["submitted"] == 200
    assert summary["orders"]["succeeded"] == 200
