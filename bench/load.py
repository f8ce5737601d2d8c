"""Runs the load generator in its own process and returns what it measured."""

import os
from typing import Any

from bench import wrk
from bench.processes import run_json_tool

# Time allowed past a load's own bound for requests still in flight and for process start.
SLACK_S = 60.0
REQUEST_TIMEOUT_S = 60.0


def closed_loop(
    url: str,
    concurrency: int,
    max_requests: int,
    max_duration_s: float,
    method: str = "POST",
    requests: list[dict] | None = None,
    expected_status: int = 200,
    generator: str = "auto",
) -> dict[str, Any]:
    """Keep `concurrency` clients busy against `url`; see bench.loadgen.closed_loop.

    `generator` is "wrk", "httpx", or "auto" for wrk when it is installed.
    """
    spec = {
        "mode": "closed_loop",
        "url": url,
        "method": method,
        "requests": requests or [],
        "concurrency": concurrency,
        "max_requests": max_requests,
        "max_duration_s": max_duration_s,
        "expected_status": expected_status,
        "timeout_s": REQUEST_TIMEOUT_S,
    }
    if generator == "wrk" or (generator == "auto" and wrk.available()):
        result = wrk.closed_loop(spec, max_duration_s + SLACK_S)
    else:
        result = run_json_tool("bench.loadgen", spec, dict(os.environ), max_duration_s + SLACK_S)
    return {"clients": concurrency} | result


def fixed_rate(
    url: str, rate_per_s: float, max_requests: int, max_duration_s: float, requests: list[dict], expected_status: int = 200, method: str = "POST"
) -> dict[str, Any]:
    """Send requests to `url` at `rate_per_s` from the httpx load generator; see bench.loadgen.fixed_rate."""
    spec = {
        "mode": "fixed_rate",
        "url": url,
        "method": method,
        "requests": requests,
        "rate_per_s": rate_per_s,
        "max_requests": max_requests,
        "max_duration_s": max_duration_s,
        "expected_status": expected_status,
        "timeout_s": REQUEST_TIMEOUT_S,
    }
    return {"rate_per_s": rate_per_s} | run_json_tool("bench.loadgen", spec, dict(os.environ), max_duration_s + SLACK_S)


def order_roundtrip(api_url: str, requests: list[dict], count: int, poll_interval_s: float, order_timeout_s: float, max_duration_s: float) -> dict[str, Any]:
    """Submit orders one at a time and poll each to its end; see bench.loadgen.order_roundtrip."""
    spec = {
        "mode": "order_roundtrip",
        "api_url": api_url,
        "requests": requests,
        "count": count,
        "poll_interval_s": poll_interval_s,
        "order_timeout_s": order_timeout_s,
        "max_duration_s": max_duration_s,
        "timeout_s": REQUEST_TIMEOUT_S,
    }
    return run_json_tool("bench.loadgen", spec, dict(os.environ), max_duration_s + order_timeout_s + SLACK_S)
