import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ops.run_when_healthy import wait_until_healthy


class HealthServer:
    """A loopback HTTP server whose /healthz returns 503 for the first `failures` requests."""

    def __init__(self, failures: int) -> None:
        self.requests = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.requests += 1
                self.send_response(503 if owner.requests <= failures else 200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_port}/healthz"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> "HealthServer":
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def test_wait_returns_after_first_200(monkeypatch):
    monkeypatch.setattr("ops.run_when_healthy.POLL_INTERVAL_SECONDS", 0.05)

    with HealthServer(failures=3) as server:
        healthy = wait_until_healthy(server.url, timeout=5, stop_requested=threading.Event())

    assert healthy
    assert server.requests == 4


def test_wait_gives_up_after_timeout(monkeypatch):
    monkeypatch.setattr("ops.run_when_healthy.POLL_INTERVAL_SECONDS", 0.05)

    with HealthServer(failures=1000) as server:
        started = time.monotonic()
        healthy = wait_until_healthy(server.url, timeout=0.5, stop_requested=threading.Event())
        elapsed = time.monotonic() - started

    assert not healthy
    assert server.requests >= 2
    assert elapsed < 3


def test_wait_stops_when_requested():
    stop_requested = threading.Event()
    stop_requested.set()

    with HealthServer(failures=1000) as server:
        healthy = wait_until_healthy(server.url, timeout=30, stop_requested=stop_requested)

    assert not healthy
    assert server.requests == 0


def run_cli(url: str, command: list[str], log_path: Path) -> subprocess.Popen[bytes]:
    with log_path.open("wb") as log_file:
        return subprocess.Popen(
            [sys.executable, "-m", "ops.run_when_healthy", url, "--timeout", "10", "--", *command],
            stderr=log_file,
        )


def wait_for_log(log_path: Path, text: str, timeout: float = 10) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        log = log_path.read_text()
        if text in log:
            return log
        time.sleep(0.05)
    raise TimeoutError(f"{text!r} not logged within {timeout} s, log so far: {log!r}")


def stop_cli(process: subprocess.Popen[bytes]) -> int:
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout=10)


def test_cli_runs_command_then_stays_alive(tmp_path):
    marker = tmp_path / "ran"
    log_path = tmp_path / "cli.log"
    command = [sys.executable, "-c", f"open({str(marker)!r}, 'w').write('done')"]

    with HealthServer(failures=1) as server:
        process = run_cli(server.url, command, log_path)
        try:
            wait_for_log(log_path, "command finished with exit code 0")
            time.sleep(0.3)
            still_running = process.poll() is None
        finally:
            returncode = stop_cli(process)

    assert marker.read_text() == "done"
    assert still_running
    assert returncode == 0


@pytest.mark.parametrize(
    ("command", "expected_log"),
    [
        ([sys.executable, "-c", "raise SystemExit(3)"], "command failed with exit code 3"),
        (["/nonexistent/replay"], "could not run /nonexistent/replay"),
    ],
)
def test_cli_logs_command_failure(tmp_path, command, expected_log):
    log_path = tmp_path / "cli.log"

    with HealthServer(failures=0) as server:
        process = run_cli(server.url, command, log_path)
        try:
            wait_for_log(log_path, expected_log)
            time.sleep(0.3)
            still_running = process.poll() is None
        finally:
            returncode = stop_cli(process)

    assert still_running
    assert returncode == 0


@pytest.mark.parametrize(
    "argv", [["http://127.0.0.1:1/healthz"], ["http://127.0.0.1:1/healthz", "--"]]
)
def test_cli_rejects_missing_command(argv):
    result = subprocess.run(
        [sys.executable, "-m", "ops.run_when_healthy", *argv], capture_output=True, text=True
    )

    assert result.returncode == 2
    assert "missing command" in result.stderr
