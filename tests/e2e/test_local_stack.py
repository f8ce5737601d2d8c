"""Start `python -m ops.stack` as a separate process and check what a developer would use."""

import os
import signal
import smtplib
import socket
import subprocess
import sys
import time
from email.message import EmailMessage
from importlib.util import find_spec
from pathlib import Path

import httpx
import pytest

from ops.ports import free_port
from ops.redis_server import redis_reachable

ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT_SECONDS = 90
SHUTDOWN_TIMEOUT_SECONDS = 30

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        find_spec("api.main") is None or find_spec("workers.app") is None,
        reason="the stack needs api.main and workers.app",
    ),
]


def stack_environment(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    for name in ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "ORDERFLOW_ENV"):
        env.pop(name, None)
    env.update(
        {
            "API_HOST": "127.0.0.1",
            "API_PORT": str(free_port()),
            "FLOWER_HOST": "127.0.0.1",
            "FLOWER_PORT": str(free_port()),
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(free_port()),
            # Nothing listens here, so the stack has to start its own Redis.
            "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'stack.db'}",
            "CELERY_WORKER_CONCURRENCY": "2",
        }
    )
    return env


def wait_for_status(url: str, timeout: float, process: subprocess.Popen[bytes]) -> int:
    deadline = time.monotonic() + timeout
    status = 0
    while time.monotonic() < deadline and process.poll() is None:
        try:
            status = httpx.get(url, timeout=2, trust_env=False).status_code
        except httpx.HTTPError:
            status = 0
        if status == 200:
            return status
        time.sleep(0.5)
    return status


def port_open(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def private_redis_url(log: str) -> str:
    for line in log.splitlines():
        if line.strip().startswith("Redis ") and "private" in line:
            return line.split()[1]
    raise AssertionError(f"no private Redis line in the stack output:\n{log}")


def send_mail(port: int) -> None:
    message = EmailMessage()
    message["From"] = "orders@example.com"
    message["To"] = "buyer@example.com"
    message["Subject"] = "stack smoke test"
    message.set_content("hello")
    with smtplib.SMTP("127.0.0.1", port, timeout=5) as client:
        client.send_message(message)


def test_stack_serves_and_stops_on_sigint(tmp_path):
    env = stack_environment(tmp_path)
    api_port = int(env["API_PORT"])
    log_path = tmp_path / "stack.log"
    var_dir = tmp_path / "var"
    command = [sys.executable, "-m", "ops.stack", "--var-dir", str(var_dir)]

    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT
        )
    try:
        health = wait_for_status(
            f"http://127.0.0.1:{api_port}/healthz", STARTUP_TIMEOUT_SECONDS, process
        )
        docs = wait_for_status(f"http://127.0.0.1:{api_port}/docs", 10, process)
        flower = wait_for_status(f"http://127.0.0.1:{env['FLOWER_PORT']}/", 30, process)
        send_mail(int(env["SMTP_PORT"]))
    finally:
        process.send_signal(signal.SIGINT)
        try:
            returncode = process.wait(timeout=SHUTDOWN_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            returncode = process.wait()
    log = log_path.read_text(errors="replace")

    assert health == 200, log
    assert docs == 200, log
    assert flower == 200, log
    assert "subject='stack smoke test'" in log
    assert (var_dir / "mail.mbox").stat().st_size > 0
    assert returncode == 130, log
    assert not port_open(api_port)
    assert not redis_reachable(private_redis_url(log))
