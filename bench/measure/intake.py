"""orderflow intake: POST /orders accepted/s and latency at a fixed number of clients.

The worker runs meanwhile, as it does in production, so the API shares the machine and the
database with the saga steps of the orders it accepts.
"""

import logging
from typing import Any

from bench import load
from bench.config import BenchConfig
from bench.seed import Seed
from bench.stack import OrderflowStack

log = logging.getLogger(__name__)


def measure_intake(config: BenchConfig, stack: OrderflowStack, seed: Seed, clients: int, requests: int) -> dict[str, Any]:
    cpu_before = stack.api.cpu_seconds()
    result = post_orders(config, stack, seed, clients, requests, config.durations.load_s)
    # The API's CPU time per accepted order bounds its requests/s on one core from above.
    result["api_cpu_ms_per_request"] = round((stack.api.cpu_seconds() - cpu_before) * 1000 / max(1, result["ok"]), 2)
    log.info(
        "POST /orders on %s at %s clients: %s accepted/s, p50 %s ms, p99 %s ms",
        stack.name, clients, result["per_s"], result["latency"]["p50_ms"], result["latency"]["p99_ms"],
    )
    return result


def post_orders(config: BenchConfig, stack: OrderflowStack, seed: Seed, clients: int, requests: int, max_duration_s: float) -> dict[str, Any]:
    """Send POST /orders from `clients` clients until `requests` responses or `max_duration_s`."""
    return load.closed_loop(
        f"{stack.api_url}/orders",
        concurrency=clients,
        max_requests=requests,
        max_duration_s=max_duration_s,
        requests=seed.order_requests,
        expected_status=202,
        generator=config.load_generator,
    )


def measure_intake_at_rate(config: BenchConfig, stack: OrderflowStack, seed: Seed, rate_per_s: float) -> dict[str, Any]:
    """Send POST /orders at `rate_per_s` in an open loop, the rate the sync peer gets too."""
    result = load.fixed_rate(
        f"{stack.api_url}/orders", rate_per_s, config.counts.rate_requests, config.durations.load_s, seed.order_requests, expected_status=202
    )
    log.info("POST /orders on %s at %s requests/s: p50 %s ms, p99 %s ms", stack.name, rate_per_s, result["latency"]["p50_ms"], result["latency"]["p99_ms"])
    return result
