"""Ceiling (a): requests/s of a bare uvicorn JSON endpoint at the intake's client count."""

import logging
import os
from pathlib import Path
from typing import Any

from bench import load
from bench.config import BenchConfig
from bench.processes import HOST, start_listener, wait_for_health
from bench.seed import BenchUser, order_requests
from bench.stack import api_command

log = logging.getLogger(__name__)

CLIENTS = 64


def measure_http_ceiling(config: BenchConfig, workdir: Path) -> dict[str, Any]:
    server, port = start_listener(
        "ceiling-http", lambda port: api_command("bench.ceiling_app:app", port), dict(os.environ),
        workdir / "ceiling-http.log", wait_for_health(config.durations.startup_s),
    )
    url = f"http://{HOST}:{port}"
    try:
        # Requests of the same size as the orders, token included, so both servers read as much.
        requests = order_requests([BenchUser(id="0" * 32, access_token="0" * 160)], ["BENCH-0", "BENCH-1"])
        result = load.closed_loop(
            f"{url}/orders", CLIENTS, config.counts.http_ceiling_requests, config.durations.load_s, requests=requests, generator=config.load_generator
        )
    finally:
        server.stop()
    log.info("Bare uvicorn: %s requests/s at %s clients", result["per_s"], CLIENTS)
    return result
