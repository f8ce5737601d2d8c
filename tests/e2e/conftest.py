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
        env = os.environ | {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis.url,
            "CELERY_BROKER_URL": redis.url,
            "CELERY_RESULT_BACKEND": redis.url,
            "SMTP_HOST": smtp.host,
            "SMTP_PORT": str(smtp.port),
        }
        subprocess.run([sys.executable, "-m", "alembic", "upgrade", "head"], cwd=ROOT, env=env, check=True, capture_output=True)

        processes = [
            start([sys.executable, "-m", "uvicorn", "api.main:app", "--host", "127.0.0.1", "--port", str(api_port)], env, logs / "api.log"),
            start(
                [sys.executable, "-m", "celery", "-A", "workers.app", "worker", "--pool", "threads", "--concurrency", "8",
                 "--queues", "users,inventory,payments,notifications,orderflow", "--loglevel", "INFO", "--without-mingle", "--without-gossip"],
                env,
                logs / "worker.log",
            ),
        ]
        try:
            api_url = f"http://127.0.0.1:{api_port}"
            wait_until_healthy(api_url, processes, logs)
            yield Stack(api_url=api_url, smtp=smtp, database_url=database_url)
        finally:
            stop(processes)
