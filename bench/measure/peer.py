"""The synchronous peer (bench/sync_peer.py): requests/s and latency as its clients see them."""

import logging
import os
from pathlib import Path
from typing import Any

from bench import load
from bench.config import BenchConfig
from bench.processes import ManagedProcess, wait_for_http
from bench.seed import Seed
from bench.stack import HOST, api_command
from ops.ports import free_port

log = logging.getLogger(__name__)


def measure_sync_peer(config: BenchConfig, workdir: Path, users_api_url: str, users_api_key: str, seed: Seed) -> dict[str, Any]:
    port = free_port(HOST)
    url = f"http://{HOST}:{port}"
    env = os.environ | {
        "BENCH_USERS_API_URL": users_api_url,
        "BENCH_USERS_API_KEY": users_api_key,
        "BENCH_PEER_LATENCY_MS": str(config.latency_ms),
    }
    server = ManagedProcess("sync-peer", api_command("bench.sync_peer:app", port), env, workdir / "sync-peer.log")
    try:
        wait_for_http(f"{url}/healthz", server, config.durations.startup_s)
        result = load.closed_loop(
            f"{url}/orders", config.peer_clients, config.counts.peer_requests, config.durations.load_s,
            requests=seed.order_requests, generator=config.load_generator,
        )
    finally:
        server.stop()
    log.info("Sync peer at %s clients: %s requests/s, p50 %s ms", config.peer_clients, result["per_s"], result["latency"]["p50_ms"])
    return result | {"latency_ms_per_call": config.latency_ms}
