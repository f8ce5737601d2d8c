"""The order in which the benchmark runs its measurements, and the stacks they share.

1. Ceilings: the bare uvicorn endpoint, then the bare Celery chain.
2. orderflow with GATEWAY_LATENCY_MS=0: light load; a saturation batch that brings the stack
   to the first memory checkpoint; POST /orders at each client count, each followed by a
   drain; a batch up to the second memory checkpoint; the real-data replay, if asked for.
3. orderflow with GATEWAY_LATENCY_MS=50: a saturation batch; POST /orders at the peer's
   client count; then the synchronous peer, which validates users against this stack.

Each orderflow scenario runs on a fresh stack with its own SQLite file and Redis database,
so no backlog carries over from one scenario to the next.
"""

import logging
from pathlib import Path
from typing import Any

from bench import load
from bench.config import BenchConfig
from bench.measure.chain_ceiling import measure_chain_ceiling
from bench.measure.completion import measure_completion
from bench.measure.http_ceiling import measure_http_ceiling
from bench.measure.intake import measure_intake, measure_intake_at_rate
from bench.measure.memory import rss_growth, rss_snapshot
from bench.measure.order_latency import measure_light_load
from bench.measure.peer import (
    comparison_rate,
    measure_sync_peer,
    measure_sync_peer_at_rate,
    running_sync_peer,
)
from bench.measure.replay import measure_replay
from bench.orders_db import OrderReader
from bench.processes import BenchProcessError
from bench.seed import Seed, seed_stack
from bench.stack import OrderflowStack
from ops.redis_server import RedisServer

log = logging.getLogger(__name__)

# Orders in each batch at the least, even when a memory checkpoint is already passed.
MIN_BATCH = 5
# Orders run through each new stack before any measurement, so none times the worker's start.
WARMUP_ORDERS = 3
# Redis databases: one per Celery app, so that no worker consumes another app's queues.
CHAIN_DB, ZERO_LATENCY_DB, GATEWAY_LATENCY_DB = 1, 2, 3


def redis_db(redis: RedisServer, db: int) -> str:
    return redis.url.rsplit("/", 1)[0] + f"/{db}"


def run_scenarios(config: BenchConfig, workdir: Path, redis: RedisServer, data_dir: Path | None, notify_via: str) -> dict[str, Any]:
    results: dict[str, Any] = {"ceilings": measure_ceilings(config, workdir, redis)}
    results["zero_latency"] = run_zero_latency(config, workdir, redis_db(redis, ZERO_LATENCY_DB), data_dir, notify_via)
    results["gateway_latency"] = run_gateway_latency(config, workdir, redis_db(redis, GATEWAY_LATENCY_DB), notify_via)
    return results


def measure_ceilings(config: BenchConfig, workdir: Path, redis: RedisServer) -> dict[str, Any]:
    log.info("Measuring the ceilings")
    return {
        "http": measure_http_ceiling(config, workdir),
        "chain": measure_chain_ceiling(config, workdir, redis_db(redis, CHAIN_DB)),
    }


def run_zero_latency(config: BenchConfig, workdir: Path, redis_url: str, data_dir: Path | None, notify_via: str) -> dict[str, Any]:
    log.info("Measuring orderflow with GATEWAY_LATENCY_MS=0")
    first_checkpoint, second_checkpoint = config.counts.memory_checkpoints
    results: dict[str, Any] = {}

    with OrderflowStack("latency-0", workdir, redis_url, config.pool, 0, config.durations.startup_s) as stack:
        seed = seed_stack(stack.api_url, stack.operator_key, notify_via)
        _warm_up(config, stack, seed)
        reader = OrderReader(stack.database_url)
        try:
            results["light_load"] = measure_light_load(config, stack, seed)
            results["saturation"] = measure_completion(config, stack, seed, reader, _batch_size(reader, first_checkpoint))
            memory = [rss_snapshot(stack, _drain(config, reader))]

            results["intake"] = {}
            for clients, requests in config.counts.intake_requests.items():
                results["intake"][str(clients)] = measure_intake(config, stack, seed, clients, requests)
                _drain(config, reader)

            results["saturation_top_up"] = measure_completion(config, stack, seed, reader, _batch_size(reader, second_checkpoint))
            memory.append(rss_snapshot(stack, _drain(config, reader)))
            results["memory"] = {"snapshots": memory, "growth": rss_growth(*memory)}
            stack.check_running()

            if data_dir is not None:
                results["replay"] = measure_replay(config, stack, data_dir, workdir)
        finally:
            reader.dispose()
    return results


def run_gateway_latency(config: BenchConfig, workdir: Path, redis_url: str, notify_via: str) -> dict[str, Any]:
    log.info("Measuring orderflow with GATEWAY_LATENCY_MS=%s", config.latency_ms)
    results: dict[str, Any] = {"gateway_latency_ms": config.latency_ms}

    name = f"latency-{config.latency_ms}"
    with OrderflowStack(name, workdir, redis_url, config.pool, config.latency_ms, config.durations.startup_s) as stack:
        seed = seed_stack(stack.api_url, stack.operator_key, notify_via)
        _warm_up(config, stack, seed)
        reader = OrderReader(stack.database_url)
        try:
            results["saturation"] = measure_completion(config, stack, seed, reader, config.counts.latency_saturation_orders)
            clients = config.intake_latency_clients
            results["intake"] = measure_intake(config, stack, seed, clients, config.counts.intake_requests.get(clients, config.counts.peer_requests))
            _drain(config, reader)
            with running_sync_peer(config, workdir, stack.api_url, stack.operator_key) as peer_url:
                results["sync_peer"] = measure_sync_peer(config, peer_url, seed)
                rate_per_s = comparison_rate(results["sync_peer"]["per_s"], results["saturation"]["completed_per_s"])
                results["intake_at_rate"] = measure_intake_at_rate(config, stack, seed, rate_per_s)
                _drain(config, reader)
                results["sync_peer"]["at_rate"] = measure_sync_peer_at_rate(config, peer_url, seed, rate_per_s)
            stack.check_running()
        finally:
            reader.dispose()
    return results


def _warm_up(config: BenchConfig, stack: OrderflowStack, seed: Seed) -> None:
    result = load.order_roundtrip(
        stack.api_url, seed.order_requests, WARMUP_ORDERS, config.poll_interval_s, config.durations.startup_s, config.durations.startup_s
    )
    if result["states"].get("succeeded") != WARMUP_ORDERS:
        raise BenchProcessError(f"warm-up orders on {stack.name} ended as {result['states']}, expected {WARMUP_ORDERS} succeeded; see the logs in {stack.dir}")


def _batch_size(reader: OrderReader, checkpoint: int) -> int:
    return max(MIN_BATCH, checkpoint - reader.tally().total)


def _drain(config: BenchConfig, reader: OrderReader) -> int:
    """Wait until every order of the stack is final; return how many orders it holds."""
    return reader.wait_until_final(None, config.durations.drain_s).total
