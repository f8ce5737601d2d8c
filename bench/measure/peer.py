"""The synchronous peer (bench/sync_peer.py): requests/s and latency as its clients see them."""

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench import load
from bench.config import BenchConfig
from bench.processes import HOST, start_listener, wait_for_health
from bench.seed import Seed
from bench.stack import api_command

log = logging.getLogger(__name__)

# Share of the slower side's capacity at which the two fronts are compared.
COMPARISON_LOAD_SHARE = 0.5


@contextmanager
def running_sync_peer(config: BenchConfig, workdir: Path, users_api_url: str, users_api_key: str) -> Iterator[str]:
    """Run the sync peer for the duration of the block and yield its POST /orders URL."""
    env = os.environ | {
        "BENCH_USERS_API_URL": users_api_url,
        "BENCH_USERS_API_KEY": users_api_key,
        "BENCH_PEER_LATENCY_MS": str(config.latency_ms),
    }
    server, port = start_listener(
        "sync-peer", lambda port: api_command("bench.sync_peer:app", port), env, workdir / "sync-peer.log", wait_for_health(config.durations.startup_s)
    )
    try:
        yield f"http://{HOST}:{port}/orders"
    finally:
        server.stop()


def measure_sync_peer(config: BenchConfig, url: str, seed: Seed) -> dict[str, Any]:
    """Load the peer with `peer_clients` clients in a closed loop."""
    result = load.closed_loop(
        url, config.peer_clients, config.counts.peer_requests, config.durations.load_s,
        requests=seed.order_requests, generator=config.load_generator,
    )
    log.info("Sync peer at %s clients: %s requests/s, p50 %s ms", config.peer_clients, result["per_s"], result["latency"]["p50_ms"])
    return result | {"latency_ms_per_call": config.latency_ms}


def measure_sync_peer_at_rate(config: BenchConfig, url: str, seed: Seed, rate_per_s: float) -> dict[str, Any]:
    """Send the peer requests at `rate_per_s` in an open loop."""
    result = load.fixed_rate(url, rate_per_s, config.counts.rate_requests, config.durations.load_s, seed.order_requests)
    log.info("Sync peer at %s requests/s: p50 %s ms, p99 %s ms", rate_per_s, result["latency"]["p50_ms"], result["latency"]["p99_ms"])
    return result


def comparison_rate(peer_per_s: float, completed_per_s: float) -> float:
    """Return the request rate for comparing the two fronts: half of what the slower side sustains.

    orderflow sustains no more orders per second than its workers complete, and the peer no
    more than its closed-loop requests/s. At half the smaller of the two, neither side
    builds a queue, so both p50s measure a request's own time.
    """
    return max(1.0, round(min(peer_per_s, completed_per_s) * COMPARISON_LOAD_SHARE))
