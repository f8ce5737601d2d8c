"""One orderflow stack for the benchmark: SQLite file, SMTP sink, uvicorn and a Celery worker.

Every process is a child of the harness, bound to 127.0.0.1, with its environment pointing at
a fresh SQLite file migrated with `alembic upgrade head` and at a Redis database of its own.
Celery beat does not run, so an order whose first publish fails is not relayed again. The
harness reports such orders as not final instead of waiting for them.
"""

import hashlib
import logging
import os
import secrets
import subprocess
from pathlib import Path
from typing import Self

from bench.config import PoolSettings
from bench.processes import (
    HOST,
    ROOT,
    BenchProcessError,
    ManagedProcess,
    python_command,
    start_listener,
    wait_for_health,
    wait_for_port,
)

log = logging.getLogger(__name__)

ORDERFLOW_QUEUES = "users,inventory,payments,notifications,orderflow"
# Seconds. Longer than any benchmark run, so that no access token expires during one.
ACCESS_TOKEN_LIFETIME_S = 7200


def api_command(app: str, port: int) -> list[str]:
    """Build the uvicorn command line shared by orderflow, the bare endpoint and the sync peer."""
    return python_command(
        "-m", "uvicorn", app, "--host", HOST, "--port", str(port),
        "--workers", "1", "--log-level", "warning", "--no-access-log",
    )


def worker_command(app: str, queues: str, pool: PoolSettings) -> list[str]:
    """Build the Celery worker command line shared by orderflow and the bare chain."""
    return python_command(
        "-m", "celery", "-A", app, "worker",
        "--pool", pool.pool, "--concurrency", str(pool.concurrency), "--queues", queues,
        "--without-mingle", "--without-gossip", "--loglevel", "WARNING",
    )


class OrderflowStack:
    """orderflow's processes on loopback; use as a context manager."""

    def __init__(self, name: str, workdir: Path, redis_url: str, pool: PoolSettings, latency_ms: int, startup_s: float) -> None:
        self.name = name
        self.dir = workdir / name
        self.redis_url = redis_url
        self.pool = pool
        self.latency_ms = latency_ms
        self.startup_s = startup_s
        self.database_url = f"sqlite:///{self.dir / 'orderflow.db'}"
        # Secrets made for this stack only, so no run depends on the development defaults.
        self.operator_key = secrets.token_urlsafe(24)
        self._jwt_secret = secrets.token_urlsafe(48)
        self.api_url = ""
        self.smtp_port = 0
        self.api: ManagedProcess | None = None
        self.worker: ManagedProcess | None = None
        self._smtp: ManagedProcess | None = None

    def env(self, smtp_port: int | None = None) -> dict[str, str]:
        return os.environ | {
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "CELERY_BROKER_URL": self.redis_url,
            "CELERY_RESULT_BACKEND": self.redis_url,
            "SMTP_HOST": HOST,
            "SMTP_PORT": str(smtp_port or self.smtp_port),
            "GATEWAY_LATENCY_MS": str(self.latency_ms),
            "LOG_LEVEL": "WARNING",
            "OPERATOR_API_KEY_SHA256": hashlib.sha256(self.operator_key.encode()).hexdigest(),
            "USERS_API_KEY": self.operator_key,
            "JWT_SECRET": self._jwt_secret,
            "ACCESS_TOKEN_LIFETIME_S": str(ACCESS_TOKEN_LIFETIME_S),
            # The replay registers hundreds of customers from one address.
            "REGISTRATION_LIMIT_PER_ADDRESS": "100000 per hour",
        }

    def start(self) -> Self:
        self.dir.mkdir(parents=True)
        self._smtp, self.smtp_port = start_listener(
            f"{self.name}-smtp",
            lambda port: python_command("-m", "ops.smtp_sink", "--host", HOST, "--port", str(port)),
            self.env(), self.dir / "smtp.log",
            lambda process, port: wait_for_port(HOST, port, process, self.startup_s),
        )
        env = self.env()
        self._migrate(env)

        self.worker = ManagedProcess(
            f"{self.name}-worker", worker_command("workers.app", ORDERFLOW_QUEUES, self.pool), env, self.dir / "worker.log"
        )
        self.api, api_port = start_listener(
            f"{self.name}-api", lambda port: api_command("api.main:app", port), env, self.dir / "api.log", wait_for_health(self.startup_s)
        )
        self.api_url = f"http://{HOST}:{api_port}"
        log.info("Stack %s is up: api=%s database=%s latency_ms=%s", self.name, self.api_url, self.database_url, self.latency_ms)
        return self

    def check_running(self) -> None:
        for process in (self.api, self.worker, self._smtp):
            process.check_running()

    def stop(self) -> None:
        for process in (self.worker, self.api, self._smtp):
            if process is not None:
                process.stop()

    def __enter__(self) -> Self:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _migrate(self, env: dict[str, str]) -> None:
        completed = subprocess.run(
            python_command("-m", "alembic", "upgrade", "head"), cwd=ROOT, env=env, capture_output=True, text=True, check=False
        )
        if completed.returncode != 0:
            raise BenchProcessError(f"alembic upgrade head failed with exit code {completed.returncode}: {completed.stderr[-2000:]}")
