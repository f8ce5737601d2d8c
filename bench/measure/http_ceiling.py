"""Ceiling (a): requests/s of a bare uvicorn JSON endpoint at the intake's client count."""

import logging
import os
from pathlib import Path
from typing import Any

from bench import load
from bench.config import BenchConfig
from bench.processes import ManagedProcess, wait_for_http
from bench.seed import BenchUser, order_requests
from bench.stack import HOST, api_command
from ops.ports import free_port

log = logging.getLogger(__name__)

CLIENTS = 64


def measure_http_ceiling(config: BenchConfig, workdir: Path) -> dict[str, Any]:
    port = free_port(HOST)
    url = f"http://{HOST}:{port}"
    server = ManagedProcess("ceiling-http", api_command("bench.ceiling_app:app", port), dict(os.environ), workdir / "ceiling-http.log")
    try:
        wait_for_http(f"{url}/healthz", server, config.durations.startup_s)
        # Requests of the same size as the orders, token included, so both servers read as much.
        requests = order_requests([BenchUser(id="0" * 32, access_token="0" * 160)], ["BENCH-0", "BENCH-1"])
        result = load.closed_loop(
            f"{url}/orders", CLIENTS, config.counts.http_ceiling_requests, config.durations.load_s, requests=requests, generator=config.load_generator
        )
    finally:
        server.stop()
    log.info("Bare uvicorn: %s requests/s at %s clients", result["per_s"], CLIENTS)
    return result
