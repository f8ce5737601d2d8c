"""The real-data replay: `python -m ops.replay DIR` against the stack, read back from its JSON."""

import json
import logging
import os
import subprocess
from pathlib import Path
from typing import Any

from bench.config import BenchConfig
from bench.processes import ROOT, BenchProcessError, python_command
from bench.stack import OrderflowStack

log = logging.getLogger(__name__)

# Time allowed past the replay's own deadline for setup and the last polls.
SLACK_S = 120.0


def measure_replay(config: BenchConfig, stack: OrderflowStack, data_dir: Path, workdir: Path) -> dict[str, Any]:
    json_path = workdir / "replay.json"
    command = python_command(
        "-m", "ops.replay", str(data_dir), "--api-url", stack.api_url, "--json", str(json_path),
        "--no-progress", "--deadline-s", str(config.durations.replay_s),
    )
    if config.counts.replay_limit is not None:
        command += ["--limit", str(config.counts.replay_limit)]

    with (workdir / "replay.log").open("wb") as log_file:
        completed = subprocess.run(
            command, cwd=ROOT, env=os.environ | {"ORDERFLOW_OPERATOR_KEY": stack.operator_key},
            stdout=log_file, stderr=subprocess.STDOUT,
            timeout=config.durations.replay_s + SLACK_S, check=False,
        )
    if completed.returncode != 0:
        raise BenchProcessError(f"ops.replay failed with exit code {completed.returncode}; see {workdir / 'replay.log'}")

    summary = json.loads(json_path.read_text(encoding="utf-8"))
    replayed = summary["invoices_replayed"]
    succeeded = summary["orders"]["succeeded"]
    result = {
        "data_dir": str(data_dir),
        "invoices_replayed": replayed,
        "orders_submitted": summary["orders"]["submitted"],
        "orders_succeeded": succeeded,
        "orders_per_s": summary["finished_orders_per_s"],
        "completed_share": round(succeeded / replayed, 4) if replayed else None,
        "summary": summary,
    }
    log.info("Replay of %s: %s orders/s, %s of %s completed", data_dir, result["orders_per_s"], succeeded, replayed)
    return result
