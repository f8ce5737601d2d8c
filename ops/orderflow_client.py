"""Async client for the parts of the orderflow HTTP API that the replay drives.

Exceptions:

    OrderflowError
    ├── ApiUnreachableError    GET /healthz never returned 200 before the timeout
    ├── ApiError               a request returned an unexpected status code
    └── InvalidResponseError   a response body is not JSON or lacks a field of the contract

Transport failures (refused connections, timeouts) surface as ``httpx.HTTPError`` from every
method except ``wait_until_ready``.

Authentication: ``login`` returns a customer's bearer token, which the order and job methods
take; ``create_product`` sends the operator key given to the constructor as ``X-API-Key``.
A 429 with a short ``Retry-After`` is retried a few times before it raises ApiError.
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

__all__ = [
    "TERMINAL_JOB_STATES",
    "AccessToken",
    "ApiError",
    "ApiUnreachableError",
    "InvalidResponseError",
    "JobStatus",
    "OrderflowClient",
    "OrderflowError",
    "ResourceId",
    "SubmittedOrder",
    "parse_retry_after",
]

# The API decides whether ids are integers or UUID strings, so the client passes them back as is.
ResourceId = int | str

TERMINAL_JOB_STATES = frozenset({"succeeded", "failed"})

# A 429 is retried at most this many times, and only when Retry-After is at most this long.
RATE_LIMIT_RETRIES = 3
MAX_RATE_LIMIT_WAIT_S = 30.0


class OrderflowError(Exception):
    """Base class of the errors raised by OrderflowClient."""


class ApiUnreachableError(OrderflowError):
    """The API did not report ready on GET /healthz before the timeout."""


class ApiError(OrderflowError):
    """A request returned an unexpected status code.

    ``code`` and ``message`` come from the API's error body ``{"error": {"code", "message"}}``
    when it has one, and ``code`` is empty otherwise.
    """

    def __init__(self, method: str, path: str, status_code: int, code: str, message: str):
        super().__init__(f"{method} {path} returned {status_code} {code}: {message}")
        self.status_code = status_code
        self.code = code
        self.message = message


class InvalidResponseError(OrderflowError):
    """A response body is not JSON or lacks a field that the API contract requires."""


@dataclass(frozen=True)
class AccessToken:
    """A bearer token from POST /auth/token and the ``time.monotonic()`` at which it expires."""

    token: str
    expires_at: float

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass(frozen=True)
class SubmittedOrder:
    """The API's 202 response to POST /orders."""

    order_id: ResourceId
    job_id: ResourceId
    retry_after_s: float | None


@dataclass(frozen=True)
class JobStatus:
    """A GET /jobs/{job_id} response. ``error`` is whatever JSON the API put there."""

    job_id: ResourceId
    order_id: ResourceId | None
    state: str
    step: str | None
    error: Any
    retry_after_s: float | None

    @property
    def finished(self) -> bool:
        return self.state in TERMINAL_JOB_STATES


class OrderflowClient:
    """Send requests to one orderflow API through an injected ``httpx.AsyncClient``.

    The caller owns the httpx client, including its base URL, timeouts and connection limits.
    ``operator_key`` is sent as ``X-API-Key`` by the methods that need an operator.
    """

    def __init__(self, http: httpx.AsyncClient, operator_key: str | None = None):
        self._http = http
        self._operator_headers = {"X-API-Key": operator_key} if operator_key else {}

    async def wait_until_ready(self, timeout_s: float, interval_s: float = 0.5) -> None:
        """Poll GET /healthz until it returns 200.

        Raises ApiUnreachableError with the last status or transport error after ``timeout_s``.
        """
        healthz_url = self._http.build_request("GET", "/healthz").url
        deadline = time.monotonic() + timeout_s
        last_problem = "no request was sent"
        while True:
            try:
                response = await self._http.get("/healthz")
            except httpx.HTTPError as error:
                last_problem = f"{type(error).__name__}: {error}"
            else:
                if response.status_code == 200:
                    return
                last_problem = f"status {response.status_code}"
            if time.monotonic() + interval_s > deadline:
                raise ApiUnreachableError(
                    f"GET {healthz_url} did not return 200 within {timeout_s:g} s "
                    f"(last result: {last_problem}); start the orderflow stack or fix --api-url"
                )
            await asyncio.sleep(interval_s)

    async def create_user(
        self, *, name: str, email: str, password: str, notify_via: str = "email"
    ) -> ResourceId:
        """Create a user and return its id. A duplicate email raises ApiError with status 409."""
        body = {"name": name, "email": email, "password": password, "notify_via": notify_via}
        response = await self._request("POST", "/users", json=body, expected=201)
        return _require(_json_object(response, "POST /users"), "id", "POST /users")

    async def login(self, *, email: str, password: str) -> AccessToken:
        """Log in with the OAuth 2.0 password flow. Wrong credentials raise ApiError with status 401."""
        requested_at = time.monotonic()
        form = {"username": email, "password": password}
        response = await self._request("POST", "/auth/token", data=form, expected=200)
        payload = _json_object(response, "POST /auth/token")
        expires_in = _require(payload, "expires_in", "POST /auth/token")
        return AccessToken(
            token=_require(payload, "access_token", "POST /auth/token"),
            expires_at=requested_at + float(expires_in),
        )

    async def create_product(
        self, *, sku: str, name: str, price: Decimal, stock: int, currency: str = "GBP"
    ) -> ResourceId:
        """Create a product and return its id. A duplicate SKU raises ApiError with status 409.

        The price is sent as a decimal string with two places, because GBP has pence. A price
        with more places is rounded half to even.
        """
        body = {
            "sku": sku,
            "name": name,
            "price": f"{price:.2f}",
            "currency": currency,
            "stock": stock,
        }
        response = await self._request(
            "POST", "/products", json=body, headers=self._operator_headers, expected=201
        )
        return _require(_json_object(response, "POST /products"), "id", "POST /products")

    async def find_product(self, sku: str) -> dict[str, Any] | None:
        """Return the product whose SKU is exactly ``sku``, or None when there is none."""
        response = await self._request("GET", "/products", params={"sku": sku}, expected=200)
        payload = _json_value(response, "GET /products")
        if not isinstance(payload, list):
            raise InvalidResponseError(f"GET /products returned {_preview(payload)}, not a list")
        matches = (item for item in payload if isinstance(item, dict) and item.get("sku") == sku)
        return next(matches, None)

    async def submit_order(
        self, *, token: AccessToken, items: list[dict[str, Any]], payment: dict[str, Any]
    ) -> SubmittedOrder:
        """Submit an order for the token's user and return its job."""
        body = {"items": items, "payment": payment}
        response = await self._request(
            "POST", "/orders", json=body, headers=token.headers(), expected=202
        )
        payload = _json_object(response, "POST /orders")
        return SubmittedOrder(
            order_id=_require(payload, "order_id", "POST /orders"),
            job_id=_require(payload, "job_id", "POST /orders"),
            retry_after_s=parse_retry_after(response.headers.get("Retry-After")),
        )

    async def get_job(self, job_id: ResourceId, token: AccessToken) -> JobStatus:
        path = f"/jobs/{job_id}"
        response = await self._request("GET", path, headers=token.headers(), expected=200)
        payload = _json_object(response, f"GET {path}")
        return JobStatus(
            job_id=payload.get("job_id", job_id),
            order_id=payload.get("order_id"),
            state=_require(payload, "state", f"GET {path}"),
            step=payload.get("step"),
            error=payload.get("error"),
            retry_after_s=parse_retry_after(response.headers.get("Retry-After")),
        )

    async def get_order(self, order_id: ResourceId, token: AccessToken) -> dict[str, Any]:
        path = f"/orders/{order_id}"
        response = await self._request("GET", path, headers=token.headers(), expected=200)
        return _json_object(response, f"GET {path}")

    async def _request(self, method: str, path: str, *, expected: int, **kwargs) -> httpx.Response:
        response = await self._http.request(method, path, **kwargs)
        for _retry in range(RATE_LIMIT_RETRIES):
            wait_s = parse_retry_after(response.headers.get("Retry-After"))
            if response.status_code != 429 or wait_s is None or wait_s > MAX_RATE_LIMIT_WAIT_S:
                break
            await asyncio.sleep(wait_s)
            response = await self._http.request(method, path, **kwargs)
        if response.status_code != expected:
            code, message = _error_details(response)
            raise ApiError(method, path, response.status_code, code, message)
        return response


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Return the delay that a Retry-After header requests, in seconds, or None when the header
    is absent or invalid. Both forms of RFC 9110 section 10.2.3 are accepted: delay seconds and
    an HTTP date.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return max(seconds, 0.0) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now = now or datetime.now(UTC)
    return max((when - now).total_seconds(), 0.0)


def _json_value(response: httpx.Response, request: str) -> Any:
    try:
        return response.json()
    except ValueError as error:
        raise InvalidResponseError(f"{request} returned a body that is not JSON") from error


def _json_object(response: httpx.Response, request: str) -> dict[str, Any]:
    payload = _json_value(response, request)
    if not isinstance(payload, dict):
        raise InvalidResponseError(f"{request} returned {_preview(payload)}, not an object")
    return payload


def _require(payload: dict[str, Any], key: str, request: str) -> Any:
    if key not in payload:
        raise InvalidResponseError(
            f"{request} response lacks the field {key!r}: {_preview(payload)}"
        )
    return payload[key]


def _preview(payload: Any) -> str:
    return repr(payload)[:200]


def _error_details(response: httpx.Response) -> tuple[str, str]:
    """Return (code, message) from the API error body, or ("", start of the body text)."""
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        error = None
    if isinstance(error, dict):
        return str(error.get("code", "")), str(error.get("message", ""))
    return "", response.text[:200]
