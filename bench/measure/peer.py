"""The synchronous peer (bench/sync_peer.py): requests/s and latency as its clients see them."""

import logging
import os
from pathlib import Path
from typing import Any

from bench import load
from bench.config import BenchConfig
from bench.processes import HOST, start_listener, wait_for_health
from bench.seed import Seed
from bench.stack import api_command

log = logging.getLogger(__name__)


def measure_sync_peer(config: BenchConfig, workdir: Path, users_api_url: str, users_api_key: str, seed: Seed) -> dict[str, Any]:
    env = os.environ | {
        "BENCH_USERS_API_URL": users_api_url,
        "BENCH_USERS_API_KEY": users_api_key,
        "BENCH_PEER_LATENCY_MS": str(config.latency_ms),
    }
    server, port = start_listener(
        "sync-peer", lambda port: api_command("bench.sync_peer:app", port), env, workdir / "sync-peer.log", wait_for_health(config.durations.startup_s)
    )
    url = f"http://{HOST}:{port}/orders"
    try:
        result = load.closed_loop(
            url, config.peer_clients, config.counts.peer_requests, config.durations.load_s,
            requests=seed.order_requests, generator=config.load_generator,
        )
        at_rate = load.fixed_rate(url, config.compare_rate_per_s, config.counts.rate_requests, config.durations.load_s, seed.order_requests)
    finally:
        server.stop()
    log.info("Sync peer at %s clients: %s requests/s, p50 %s ms", config.peer_clients, result["per_s"], result["latency"]["p50_ms"])
    log.info("Sync peer at %s requests/s: p50 %s ms, p99 %s ms", config.compare_rate_per_s, at_rate["latency"]["p50_ms"], at_rate["latency"]["p99_ms"])
    return result | {"latency_ms_per_call": config.latency_ms, "at_rate": at_rate}
