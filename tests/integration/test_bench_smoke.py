"""Runs the benchmark harness at tiny counts and checks that its report has every figure.

Nothing here asserts a timing: at these counts the figures mean nothing. The test only keeps
`python -m bench.run` working as the code it measures changes.
"""

import json
import os
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path

import pytest

from bench import load
from bench.processes import HOST, start_listener, wait_for_health
from bench.stack import api_command

ROOT = Path(__file__).resolve().parents[2]
REPLAY_DATA = ROOT / "tests" / "data"
REPLAY_AVAILABLE = find_spec("ops.replay") is not None and REPLAY_DATA.is_dir()
SMOKE_ARGS = ["--quick", "--scale", "0.02"]
HARNESS_TIMEOUT_S = 240

NUMERIC_FIGURES = [
    ("ceilings", "http", "per_s"),
    ("ceilings", "http", "latency", "p50_ms"),
    ("ceilings", "chain", "saturation", "per_s"),
    ("ceilings", "chain", "light", "latency", "p50_ms"),
    ("ceilings", "chain", "light", "latency", "p99_ms"),
    ("zero_latency", "light_load", "latency", "p50_ms"),
    ("zero_latency", "light_load", "latency", "p99_ms"),
    ("zero_latency", "saturation", "completed_per_s"),
    ("zero_latency", "saturation_top_up", "completed_per_s"),
    ("gateway_latency", "saturation", "completed_per_s"),
    ("gateway_latency", "intake", "latency", "p50_ms"),
    ("gateway_latency", "sync_peer", "per_s"),
    ("gateway_latency", "sync_peer", "latency", "p50_ms"),
    ("gateway_latency", "sync_peer", "latency", "p99_ms"),
    ("gateway_latency", "intake_at_rate", "latency", "p50_ms"),
    ("gateway_latency", "sync_peer", "at_rate", "latency", "p50_ms"),
]
INTAKE_CLIENTS = ["1", "16", "64"]
VERSIONS = ["python", "celery", "kombu", "fastapi", "uvicorn", "sqlalchemy", "redis_server"]


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("bench")
    command = [
        sys.executable, "-m", "bench.run", *SMOKE_ARGS,
        "--json", str(out / "report.json"), "--markdown", str(out / "benchmarks.md"),
    ]
    replay_args = ["--data", str(REPLAY_DATA), "--replay-limit", "3"]
    command += replay_args if REPLAY_AVAILABLE else []
    completed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=HARNESS_TIMEOUT_S, check=False)
    assert completed.returncode == 0, completed.stderr[-4000:]
    assert (out / "benchmarks.md").read_text().startswith("# Benchmarks")
    return json.loads((out / "report.json").read_text())


def figure(report: dict, path: tuple[str, ...]):
    value = report["results"]
    for key in path:
        value = value[key]
    return value


@pytest.mark.parametrize("path", NUMERIC_FIGURES, ids=".".join)
def test_report_has_figure(report, path):
    assert isinstance(figure(report, path), int | float)


@pytest.mark.parametrize("clients", INTAKE_CLIENTS)
def test_report_has_intake_at(report, clients):
    intake = report["results"]["zero_latency"]["intake"][clients]
    assert isinstance(intake["per_s"], int | float)
    assert isinstance(intake["latency"]["p50_ms"], int | float)
    assert isinstance(intake["latency"]["p99_ms"], int | float)
    assert intake["api_cpu_ms_per_request"] > 0


def test_report_has_two_memory_snapshots(report):
    snapshots = report["results"]["zero_latency"]["memory"]["snapshots"]
    assert len(snapshots) == 2
    assert snapshots[0]["orders"] < snapshots[1]["orders"]
    for snapshot in snapshots:
        assert snapshot["api_rss_mib"] > 0
        assert snapshot["worker_rss_mib"] > 0


@pytest.mark.skipif(not REPLAY_AVAILABLE, reason="ops.replay or the sample in tests/data is missing")
def test_report_has_replay(report):
    replay = report["results"]["zero_latency"]["replay"]
    assert replay["invoices_replayed"] == 3
    assert isinstance(replay["orders_per_s"], int | float)
    assert 0 <= replay["completed_share"] <= 1


def test_every_target_is_evaluated(report):
    assert len(report["targets"]) == 9
    for target in report["targets"]:
        assert isinstance(target["ratio"], int | float), target["name"]
        assert isinstance(target["met"], bool), target["name"]


def test_report_records_environment(report):
    versions = report["environment"]["versions"]
    for name in VERSIONS:
        assert versions[name], name
    assert report["environment"]["machine"]["logical_cpus"] >= 1
    assert report["settings"]["pool"] == "threads"
    assert report["settings"]["concurrency"] == 16


def test_httpx_load_generator_counts_responses(tmp_path):
    server, port = start_listener(
        "ceiling-http", lambda port: api_command("bench.ceiling_app:app", port), dict(os.environ),
        tmp_path / "server.log", wait_for_health(timeout_s=30),
    )
    try:
        result = load.closed_loop(
            f"http://{HOST}:{port}/orders", concurrency=4, max_requests=40, max_duration_s=30,
            requests=[{"headers": {}, "body": {"n": 1}}], generator="httpx",
        )
    finally:
        server.stop()

    assert result["load_generator"] == "httpx"
    assert result["requests"] == 40
    assert result["ok"] == 40
    assert result["latency"]["samples"] == 40
