"""Run the benchmark: `python -m bench.run [--quick] [--json PATH] [--data DIR]`.

Starts everything it measures on 127.0.0.1 (see bench/scenarios.py for the order), prints a
table of figures and a table of targets, and writes the JSON report and docs/benchmarks.md.
"""

import argparse
import dataclasses
import logging
import os
import shlex
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.config import FULL_COUNTS, QUICK_COUNTS, BenchConfig, Durations, PoolSettings
from bench.docs_page import render_page
from bench.environment import describe_environment
from bench.processes import ROOT
from bench.report import (
    FIGURE_HEADER,
    TARGET_HEADER,
    figure_rows,
    loadgen_notes,
    target_rows,
    text_table,
    write_json,
)
from bench.scenarios import run_scenarios
from bench.targets import evaluate_targets
from ops.redis_server import RedisServer

log = logging.getLogger(__name__)

DATA_DIR_ENV = "ORDERFLOW_DATA_DIR"
DOCS_PAGE = ROOT / "docs" / "benchmarks.md"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run",
        description="Measure orderflow on this machine against bare uvicorn and Celery ceilings.",
    )
    parser.add_argument("--quick", action="store_true", help="use smaller counts (memory after 200 and 2,000 orders); takes a few minutes")
    parser.add_argument("--scale", type=_positive_float, default=1.0, metavar="FACTOR", help="multiply every count by FACTOR, e.g. 0.02 for a smoke run (default: 1)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="write the full report as JSON to PATH")
    parser.add_argument("--data", type=Path, metavar="DIR", help=f"replay the UCI Online Retail CSV files in DIR at the end (default: ${DATA_DIR_ENV}, else no replay)")
    parser.add_argument("--replay-limit", type=_positive_int, metavar="N", help="replay at most N invoices (default: all)")
    parser.add_argument(
        "--markdown", type=Path, metavar="PATH",
        help="write the results page to PATH (default: docs/benchmarks.md for a full run, none with --quick or --scale)",
    )
    parser.add_argument("--pool", default=PoolSettings.pool, help="Celery worker pool for orderflow and the bare chain (default: %(default)s)")
    parser.add_argument("--concurrency", type=_positive_int, default=PoolSettings.concurrency, help="Celery worker concurrency (default: %(default)s)")
    parser.add_argument("--latency-ms", type=_positive_int, default=BenchConfig.latency_ms, help="gateway latency of the second stack and the sync peer, in ms (default: %(default)s)")
    parser.add_argument("--notify", choices=("sms", "email"), default="sms", help="how benchmark users are notified; SMS calls carry the gateway latency (default: %(default)s)")
    parser.add_argument(
        "--load-generator", choices=("auto", "wrk", "httpx"), default="auto",
        help="closed-loop load generator; auto uses wrk when /usr/bin/wrk exists, else httpx (default: %(default)s)",
    )
    parser.add_argument("--workdir", type=Path, metavar="DIR", help="keep databases and process logs in DIR, which must not exist (default: a temporary directory)")
    return parser


def build_config(args: argparse.Namespace) -> BenchConfig:
    counts = QUICK_COUNTS if args.quick else FULL_COUNTS
    counts = dataclasses.replace(counts.scaled(args.scale), replay_limit=args.replay_limit)
    return BenchConfig(
        counts=counts,
        durations=Durations().scaled(args.scale),
        pool=PoolSettings(args.pool, args.concurrency),
        quick=args.quick,
        scale=args.scale,
        latency_ms=args.latency_ms,
        load_generator=args.load_generator,
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    config = build_config(args)
    data_dir = args.data or _data_dir_from_env()
    command = shlex.join(["python", "-m", "bench.run", *(sys.argv[1:] if argv is None else argv)])
    if data_dir is not None and args.data is None:
        # The replay's data came from the environment; name the variable, not this machine's path.
        command = f"{DATA_DIR_ENV}=DIR {command}"

    started = time.monotonic()
    started_at = datetime.now(UTC)
    with _workdir(args.workdir) as workdir, RedisServer() as redis:
        log.info("Benchmark started: %s, logs in %s", command, workdir)
        environment = describe_environment(config, redis.url, workdir)
        results = run_scenarios(config, workdir, redis, data_dir, args.notify)

    report = assemble_report(config, args, command, started_at, time.monotonic() - started, environment, results)
    print(report["text"])
    if args.json:
        write_json(report["json"], args.json)
        log.info("Report written to %s", args.json)
    markdown_path = args.markdown or (DOCS_PAGE if not args.quick and args.scale == 1.0 else None)
    if markdown_path:
        markdown_path.write_text(report["markdown"], encoding="utf-8")
        log.info("Results page written to %s", markdown_path)
    return 0


def assemble_report(config: BenchConfig, args: argparse.Namespace, command: str, started_at: datetime, wall_time_s: float, environment: dict, results: dict) -> dict[str, Any]:
    """Return the report as text for stdout, as a JSON-ready dict and as a Markdown page."""
    targets = evaluate_targets(results)
    figures, target_table = figure_rows(results), target_rows(targets)
    notes = loadgen_notes(results) + _mode_notes(config, results)
    document = {
        "command": command,
        "mode": _mode(config),
        "started_at": started_at.isoformat(timespec="seconds"),
        "wall_time_s": round(wall_time_s, 1),
        "settings": _settings(config, args),
        "environment": environment,
        "results": results,
        "targets": [target.to_json() for target in targets],
        "notes": notes,
    }
    text = "\n\n".join([text_table(FIGURE_HEADER, figures), text_table(TARGET_HEADER, target_table), *notes])
    return {"json": document, "text": text, "markdown": render_page(document, figures, target_table, notes)}


def _settings(config: BenchConfig, args: argparse.Namespace) -> dict[str, Any]:
    counts = dataclasses.asdict(config.counts)
    counts["intake_requests"] = {str(clients): count for clients, count in config.counts.intake_requests.items()}
    return {
        "pool": config.pool.pool,
        "concurrency": config.pool.concurrency,
        "gateway_latency_ms": config.latency_ms,
        "notify_via": args.notify,
        "intake_latency_clients": config.intake_latency_clients,
        "peer_clients": config.peer_clients,
        "poll_interval_s": config.poll_interval_s,
        "load_generator": config.load_generator,
        "counts": counts,
        "durations": dataclasses.asdict(config.durations),
    }


def _mode(config: BenchConfig) -> str:
    mode = "quick" if config.quick else "full"
    return mode if config.scale == 1.0 else f"{mode}, counts scaled by {config.scale:g}"


def _mode_notes(config: BenchConfig, results: dict[str, Any]) -> list[str]:
    if not config.quick and config.scale == 1.0:
        return []
    snapshots = results["zero_latency"]["memory"]["snapshots"]
    counts = " and ".join(f"{snapshot['orders']:,}" for snapshot in snapshots)
    return [
        f"Reduced counts ({_mode(config)}): memory is taken after {counts} orders, not after 1,000 and 10,000.",
        "At reduced counts a figure may rest on a handful of requests, so its met or not met says little.",
    ]


@contextmanager
def _workdir(path: Path | None) -> Iterator[Path]:
    """Yield `path`, created here and kept, or a temporary directory removed after a successful run."""
    if path is not None:
        path.mkdir(parents=True)
        yield path
        log.info("Databases and logs kept in %s", path)
        return
    temporary = Path(tempfile.mkdtemp(prefix="orderflow-bench-"))
    try:
        yield temporary
    except BaseException:
        log.error("The benchmark failed; databases and logs are kept in %s", temporary)
        raise
    shutil.rmtree(temporary, ignore_errors=True)


def _data_dir_from_env() -> Path | None:
    value = os.environ.get(DATA_DIR_ENV, "").strip()
    return Path(value) if value else None


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"invalid value {text!r}: expected a whole number >= 1")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"invalid value {text!r}: expected a number > 0")
    return value


if __name__ == "__main__":
    raise SystemExit(main())
