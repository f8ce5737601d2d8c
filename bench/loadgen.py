"""The load generator, run as its own process so that it does not share a CPU with the harness.

    python -m bench.loadgen SPEC.json

SPEC.json contains one load description (see `closed_loop` and `order_roundtrip`), and the
result is printed to stdout as one JSON object. Every loop stops at `max_requests` (or `count`)
and at `max_duration_s`, whichever comes first, and only loopback URLs are accepted.
"""

import asyncio
import ipaddress
import logging
import resource
import time
from collections import Counter
from datetime import datetime
from typing import Any

import httpx

from bench.processes import spec_tool_main
from bench.stats import latency_summary_ms, rate

log = logging.getLogger(__name__)

FINAL_JOB_STATES = ("succeeded", "failed")
# Connections an open-loop load may hold at once, so a stalled server cannot take all of them.
MAX_OPEN_LOOP_CONNECTIONS = 256


async def closed_loop(spec: dict[str, Any]) -> dict[str, Any]:
    """Keep `concurrency` clients sending requests back to back; count and time the responses.

    Spec keys: url, method, requests (list of {"headers", "body"} sent in turn, where a body
    of None sends none), concurrency, max_requests, max_duration_s, expected_status, timeout_s.
    """
    requests = spec.get("requests") or [{"headers": {}, "body": None}]
    concurrency = spec["concurrency"]
    deadline = time.perf_counter() + spec["max_duration_s"]
    issued = 0
    latencies: list[float] = []
    outcomes: Counter[str] = Counter()

    async def client() -> None:
        # One connection per client: a pool shared by many clients costs more CPU per
        # request in httpx than the bare server does.
        nonlocal issued
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        async with httpx.AsyncClient(limits=limits, timeout=spec["timeout_s"]) as http:
            while issued < spec["max_requests"] and time.perf_counter() < deadline:
                request = requests[issued % len(requests)]
                issued += 1
                started = time.perf_counter()
                outcome = await _send(http, spec["method"], spec["url"], request)
                outcomes[outcome] += 1
                if outcome == str(spec["expected_status"]):
                    latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    duration = time.perf_counter() - started

    return {
        "requests": issued,
        "ok": len(latencies),
        "outcomes": dict(outcomes),
        "duration_s": round(duration, 3),
        "per_s": rate(len(latencies), duration),
        "latency": latency_summary_ms(latencies),
    }


async def fixed_rate(spec: dict[str, Any]) -> dict[str, Any]:
    """Send requests at a fixed rate, whether or not earlier ones have had a response (open loop).

    Spec keys: url, method, requests (as in `closed_loop`), rate_per_s, max_requests,
    max_duration_s, expected_status, timeout_s. A latency runs from the time a request was
    due to be sent, so a client that falls behind counts the delay against the server
    instead of hiding it. Comparing two servers at one rate compares their latency at the
    same throughput, which a closed loop does not.
    """
    requests = spec.get("requests") or [{"headers": {}, "body": None}]
    interval_s = 1.0 / spec["rate_per_s"]
    deadline = time.perf_counter() + spec["max_duration_s"]
    latencies: list[float] = []
    outcomes: Counter[str] = Counter()

    async def send_when_due(http: httpx.AsyncClient, index: int, due: float) -> None:
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        outcome = await _send(http, spec["method"], spec["url"], requests[index % len(requests)])
        outcomes[outcome] += 1
        if outcome == str(spec["expected_status"]):
            latencies.append(time.perf_counter() - due)

    started = time.perf_counter()
    count = min(spec["max_requests"], int(spec["max_duration_s"] * spec["rate_per_s"]))
    limits = httpx.Limits(max_connections=MAX_OPEN_LOOP_CONNECTIONS, max_keepalive_connections=MAX_OPEN_LOOP_CONNECTIONS)
    async with httpx.AsyncClient(limits=limits, timeout=spec["timeout_s"]) as http:
        sends = [send_when_due(http, index, started + index * interval_s) for index in range(count)]
        await asyncio.wait_for(asyncio.gather(*sends), timeout=max(0.0, deadline - time.perf_counter()) + spec["timeout_s"])
    duration = time.perf_counter() - started

    return {
        "requests": count,
        "ok": len(latencies),
        "outcomes": dict(outcomes),
        "rate_per_s": spec["rate_per_s"],
        "duration_s": round(duration, 3),
        "per_s": rate(len(latencies), duration),
        "latency": latency_summary_ms(latencies),
    }


async def order_roundtrip(spec: dict[str, Any]) -> dict[str, Any]:
    """Submit one order at a time and wait for each to reach its final state.

    Spec keys: api_url, requests (as in `closed_loop`; each job is polled with its order's
    headers), count, poll_interval_s, order_timeout_s, max_duration_s, timeout_s.

    A latency runs from just before POST /orders to the order's final update, which the
    order's `updated_at` records (API and workers share this machine's clock). Polling only
    finds out that the order is final, so the poll interval adds nothing to the figure, and
    a long interval keeps the polls' own load off the stack. The time until a poll saw the
    order final is reported too, as `seen_latency`.
    """
    deadline = time.perf_counter() + spec["max_duration_s"]
    latencies: list[float] = []
    seen_latencies: list[float] = []
    states: Counter[str] = Counter()

    async with httpx.AsyncClient(base_url=spec["api_url"], timeout=spec["timeout_s"]) as http:
        for index in range(spec["count"]):
            if time.perf_counter() >= deadline:
                break
            request = spec["requests"][index % len(spec["requests"])]
            submitted_at, started = time.time(), time.perf_counter()
            state, final_at = await _submit_and_wait(http, request, spec)
            states[state] += 1
            if final_at is not None:
                seen_latencies.append(time.perf_counter() - started)
                latencies.append(final_at - submitted_at)

    return {
        "orders": sum(states.values()),
        "states": dict(states),
        "poll_interval_s": spec["poll_interval_s"],
        "latency": latency_summary_ms(latencies),
        "seen_latency": latency_summary_ms(seen_latencies),
    }


async def _submit_and_wait(http: httpx.AsyncClient, request: dict, spec: dict[str, Any]) -> tuple[str, float | None]:
    """Return the final job state and the Unix time of the order's final update.

    When no final state was seen, the state names the reason (`rejected-<status>`, `timed-out`).
    """
    headers = request["headers"]
    response = await http.post("/orders", json=request["body"], headers=headers)
    if response.status_code != 202:
        return f"rejected-{response.status_code}", None
    accepted = response.json()

    give_up_at = time.perf_counter() + spec["order_timeout_s"]
    while time.perf_counter() < give_up_at:
        await asyncio.sleep(spec["poll_interval_s"])
        job = await http.get(accepted["status_url"], headers=headers)
        if job.status_code == 200 and job.json()["state"] in FINAL_JOB_STATES:
            order = await http.get(f"/orders/{accepted['order_id']}", headers=headers)
            return job.json()["state"], datetime.fromisoformat(order.json()["updated_at"]).timestamp()
    return "timed-out", None


async def _send(http: httpx.AsyncClient, method: str, url: str, request: dict) -> str:
    """Send one request; return its status code, or the exception's class name."""
    try:
        response = await http.request(method, url, json=request["body"], headers=request["headers"])
    except httpx.HTTPError as error:
        return type(error).__name__
    return str(response.status_code)


MODES = {"closed_loop": closed_loop, "fixed_rate": fixed_rate, "order_roundtrip": order_roundtrip}


def run(spec: dict[str, Any]) -> dict[str, Any]:
    """Run the load that `spec` describes and add this process's CPU seconds to the result."""
    _require_loopback(spec.get("url") or spec["api_url"])
    cpu_before = _cpu_seconds()
    result = asyncio.run(MODES[spec["mode"]](spec))
    result["loadgen_cpu_s"] = round(_cpu_seconds() - cpu_before, 3)
    result["load_generator"] = "httpx"
    return result


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _require_loopback(url: str) -> None:
    host = httpx.URL(url).host
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(f"invalid target {url!r}: the load generator sends only to loopback addresses")


def main(argv: list[str] | None = None) -> int:
    return spec_tool_main("bench.loadgen", run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
