"""orderflow at light load: submit-to-final time of one order at a time, polling GET /jobs."""

import logging
from typing import Any

from bench import load
from bench.config import BenchConfig
from bench.seed import Seed
from bench.stack import OrderflowStack

log = logging.getLogger(__name__)


def measure_light_load(config: BenchConfig, stack: OrderflowStack, seed: Seed) -> dict[str, Any]:
    result = load.order_roundtrip(
        stack.api_url,
        seed.order_requests,
        count=config.counts.light_orders,
        poll_interval_s=config.poll_interval_s,
        order_timeout_s=config.durations.order_timeout_s,
        max_duration_s=config.durations.load_s,
    )
    log.info("Light load on %s: submit-to-final p50 %s ms over %s orders", stack.name, result["latency"]["p50_ms"], result["orders"])
    return result
