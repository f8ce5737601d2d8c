"""Starts orderflow as separate processes: Redis, uvicorn and a Celery worker.

The SMTP sink runs in the test process so tests can read the mail it received.
"""

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from ops.ports import free_port
from ops.redis_server import RedisServer
from ops.smtp_sink import SmtpSink

ROOT = Path(__file__).resolve().parents[2]
STARTUP_DEADLINE_S = 60


@dataclass
class Stack:
    api_url: str
    smtp: SmtpSink
    database_url: str


def start(command: list[str], env: dict, log_path: Path) -> subprocess.Popen:
    log = log_path.open("wb")
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def stack_environment(database_url: str, redis_url: str, smtp: SmtpSink, **overrides: str) -> dict:
    """Return the environment of the stack's processes: this test's database, Redis and SMTP sink."""
    return os.environ | {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "CELERY_BROKER_URL": redis_url,
        "CELERY_RESULT_BACKEND": redis_url,
        "SMTP_HOST": smtp.host,
        "SMTP_PORT": str(smtp.port),
        # The tests register dozens of users from one address.
        "REGISTRATION_LIMIT_PER_ADDRESS": "1000 per minute",
    } | overrides


def start_api(port: int, env: dict, log_path: Path, *options: str) -> subprocess.Popen:
    command = [sys.executable, "-m", "uvicorn", "api.main:app", "--host", "127.0.0.1", "--port", str(port), *options]
    return start(command, env, log_path)


def start_worker(env: dict, log_path: Path, loglevel: str = "INFO", concurrency: int = 8) -> subprocess.Popen:
    command = [
        sys.executable, "-m", "celery", "-A", "workers.app", "worker", "--pool", "threads", "--concurrency", str(concurrency),
        "--queues", "users,inventory,payments,notifications,orderflow", "--loglevel", loglevel, "--without-mingle", "--without-gossip",
    ]
    return start(command, env, log_path)


def wait_until_healthy(api_url: str, processes: list[subprocess.Popen], logs: Path) -> None:
    deadline = time.monotonic() + STARTUP_DEADLINE_S
    while time.monotonic() < deadline:
        for process in processes:
            if process.poll() is not None:
                raise RuntimeError(f"{process.args} exited with {process.returncode}; see logs in {logs}")
        try:
            if httpx.get(f"{api_url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the API at {api_url} was not healthy within {STARTUP_DEADLINE_S} s; see logs in {logs}")


def stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[Stack]:
    logs = tmp_path_factory.mktemp("stack-logs")
    database_url = f"sqlite:///{logs / 'orderflow.db'}"
    api_port = free_port("127.0.0.1")

    with RedisServer() as redis, SmtpSink() as smtp:
        env = stack_environment(database_url, redis.url, smtp)
        subprocess.run([sys.executable, "-m", "alembic", "upgrade", "head"], cwd=ROOT, env=env, check=True, capture_output=True)

        processes = [start_api(api_port, env, logs / "api.log"), start_worker(env, logs / "worker.log")]
        try:
            api_url = f"http://127.0.0.1:{api_port}"
            wait_until_healthy(api_url, processes, logs)
            yield Stack(api_url=api_url, smtp=smtp, database_url=database_url)
        finally:
            stop(processes)
