"""The software versions, pool settings and machine behind a run's figures."""

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

import psutil
import redis

from bench.config import BenchConfig
from bench.processes import ROOT

PACKAGES = ("celery", "kombu", "redis", "fastapi", "starlette", "uvicorn", "sqlalchemy", "pydantic", "httpx")
GIB = 1024**3


def describe_environment(config: BenchConfig, redis_url: str, workdir: Path) -> dict[str, Any]:
    return {
        "versions": _versions(redis_url),
        "pool": {"pool": config.pool.pool, "concurrency": config.pool.concurrency},
        "machine": _machine(),
        "database": {"engine": "sqlite", "filesystem": _filesystem(workdir)},
        "git_commit": _git_commit(),
    }


def _versions(redis_url: str) -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    with redis.Redis.from_url(redis_url, socket_timeout=5) as client:
        versions["redis_server"] = client.info("server")["redis_version"]
    return versions


def _machine() -> dict[str, Any]:
    return {
        "platform": platform.platform(),
        "cpu_model": _cpu_model(),
        "logical_cpus": os.cpu_count(),
        "physical_cores": psutil.cpu_count(logical=False),
        "memory_gib": round(psutil.virtual_memory().total / GIB, 1),
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _filesystem(path: Path) -> str:
    """Return the type of the file system that contains `path` (ext4, tmpfs, ...)."""
    best = None
    for partition in psutil.disk_partitions(all=True):
        if str(path).startswith(partition.mountpoint) and (best is None or len(partition.mountpoint) > len(best.mountpoint)):
            best = partition
    return best.fstype if best else "unknown"


def _git_commit() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
        # The results page is left out: every full run rewrites it.
        status = ["git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)docs/benchmarks.md"]
        dirty = subprocess.run(status, cwd=ROOT, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head} (uncommitted changes)" if dirty.strip() else head

