"""Ceiling (b): a bare Celery chain of four no-op tasks on the same Redis and pool settings."""

import logging
import os
from pathlib import Path
from typing import Any

from bench.ceiling_chain import QUEUE, mirrored_settings
from bench.config import BenchConfig
from bench.processes import ManagedProcess, run_json_tool
from bench.stack import worker_command

log = logging.getLogger(__name__)

WARMUP_CHAINS = 5
SLACK_S = 60.0


def measure_chain_ceiling(config: BenchConfig, workdir: Path, redis_url: str) -> dict[str, Any]:
    env = os.environ | {"REDIS_URL": redis_url}
    worker = ManagedProcess("ceiling-worker", worker_command("bench.ceiling_chain", QUEUE, config.pool), env, workdir / "ceiling-worker.log")
    try:
        light = _drive(env, config, "light", config.counts.chain_light)
        saturation = _drive(env, config, "saturation", config.counts.chain_saturation)
        worker.check_running()
    finally:
        worker.stop()

    log.info("Bare chain: %s chains/s, light-load p50 %s ms", saturation["per_s"], light["latency"]["p50_ms"])
    return {"light": light, "saturation": saturation, "mirrored_settings": sorted(mirrored_settings())}


def _drive(env: dict[str, str], config: BenchConfig, mode: str, count: int) -> dict[str, Any]:
    spec = {
        "mode": mode,
        "count": count,
        "max_duration_s": config.durations.load_s,
        "warmup": WARMUP_CHAINS,
        "warmup_timeout_s": config.durations.startup_s,
    }
    timeout = config.durations.load_s + config.durations.startup_s + SLACK_S
    return run_json_tool("bench.ceiling_chain", spec, env, timeout)
