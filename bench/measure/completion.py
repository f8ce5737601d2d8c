"""orderflow at saturation: submit a batch of orders at once and time until all are final.

Orders/s is the batch's completed orders over the span from the first submit to the last
order's final update, read from the database. The batch can hold more orders than requested,
because wrk already has a request on every connection when it reaches its limit, so the
batch's size is counted in the database too.
"""

import logging
from datetime import UTC, datetime
from typing import Any

from bench.config import BenchConfig
from bench.measure.intake import post_orders
from bench.orders_db import OrderReader
from bench.seed import Seed
from bench.stack import OrderflowStack
from bench.stats import rate

log = logging.getLogger(__name__)

SUBMIT_CLIENTS = 64


def measure_completion(config: BenchConfig, stack: OrderflowStack, seed: Seed, reader: OrderReader, count: int) -> dict[str, Any]:
    since = datetime.now(UTC)
    submitted = post_orders(config, stack, seed, SUBMIT_CLIENTS, count, config.durations.drain_s)
    tally = reader.wait_until_final(since, config.durations.drain_s)
    span_s = (tally.last_updated - since).total_seconds() if tally.last_updated else 0.0

    result = {
        "requested": count,
        "orders": tally.total,
        "submit_per_s": submitted["per_s"],
        "completed": tally.completed,
        "failed": tally.final - tally.completed,
        "not_final": tally.pending,
        "span_s": round(span_s, 3),
        "completed_per_s": rate(tally.completed, span_s),
    }
    log.info("Saturation on %s: %s orders completed at %s/s", stack.name, tally.completed, result["completed_per_s"])
    return result
