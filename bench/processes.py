"""Child processes of the harness: start them with a log file, wait for them, stop them, size them."""

import json
import logging
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psutil

from ops.ports import free_port

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
STOP_TIMEOUT_S = 15
BIND_ATTEMPTS = 3
BIND_FAILED = "address already in use"


class BenchProcessError(RuntimeError):
    """A child process failed to start, exited early or returned no result."""


class ManagedProcess:
    """A long-running child (server or worker) whose output goes to `log_path`."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], log_path: Path) -> None:
        self.name = name
        self.command = command
        self.log_path = log_path
        with log_path.open("wb") as log_file:
            self.popen = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        log.info("Started %s pid=%s", name, self.popen.pid)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def check_running(self) -> None:
        if self.popen.poll() is not None:
            raise BenchProcessError(f"{self.name} exited with code {self.popen.returncode}; see {self.log_path}")

    def rss_bytes(self) -> int:
        """Return the resident set size of this process plus all its descendants."""
        parent = psutil.Process(self.pid)
        total = parent.memory_info().rss
        for child in parent.children(recursive=True):
            try:
                total += child.memory_info().rss
            except psutil.NoSuchProcess:
                continue
        return total

    def cpu_seconds(self) -> float:
        """Return the user and system CPU time this process has used so far, in seconds."""
        times = psutil.Process(self.pid).cpu_times()
        return times.user + times.system

    def stop(self) -> None:
        """Send SIGTERM, then SIGKILL if the process is still running after STOP_TIMEOUT_S."""
        if self.popen.poll() is not None:
            return
        self.popen.terminate()
        try:
            self.popen.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            log.warning("%s pid=%s ignored SIGTERM for %s s, killing it", self.name, self.pid, STOP_TIMEOUT_S)
            self.popen.kill()
            self.popen.wait()
        log.info("Stopped %s pid=%s", self.name, self.pid)


def start_listener(
    name: str,
    command_for_port: Callable[[int], list[str]],
    env: dict[str, str],
    log_path: Path,
    wait_ready: Callable[[ManagedProcess, int], None],
) -> tuple[ManagedProcess, int]:
    """Start a server on a free loopback port and wait until `wait_ready` returns.

    A port from free_port can be taken before the server binds it, by another server or by
    any outgoing connection, so a start whose log shows a failed bind is retried on a new
    port, BIND_ATTEMPTS times in all.
    """
    for attempt in range(1, BIND_ATTEMPTS + 1):
        port = free_port(HOST)
        process = ManagedProcess(name, command_for_port(port), env, log_path)
        try:
            wait_ready(process, port)
            return process, port
        except BenchProcessError:
            process.stop()
            if attempt == BIND_ATTEMPTS or BIND_FAILED not in log_path.read_text(errors="replace"):
                raise
            log.warning("%s could not bind port %s, retrying on another port", name, port)
    raise AssertionError("unreachable: the last attempt returns or raises")


def wait_for_health(timeout_s: float) -> Callable[[ManagedProcess, int], None]:
    """Return a `wait_ready` for start_listener that waits for GET /healthz to return 200."""
    return lambda process, port: wait_for_http(f"http://{HOST}:{port}/healthz", process, timeout_s)


def python_command(*args: str) -> list[str]:
    return [sys.executable, *args]


def wait_for_http(url: str, process: ManagedProcess, timeout_s: float) -> None:
    """Wait until GET `url` returns 200; raise if `process` exits or `timeout_s` passes."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        process.check_running()
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise BenchProcessError(f"{url} did not return 200 within {timeout_s} s; see {process.log_path}")


def wait_for_port(host: str, port: int, process: ManagedProcess, timeout_s: float) -> None:
    """Wait until a TCP connection to `host`:`port` succeeds."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        process.check_running()
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise BenchProcessError(f"nothing listened on {host}:{port} within {timeout_s} s; see {process.log_path}")


def spec_tool_main(prog: str, run: Callable[[dict[str, Any]], dict[str, Any]], argv: list[str] | None = None) -> int:
    """Serve as the `main` of a tool run by `run_json_tool`: read SPEC.json, print run(spec) as JSON."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print(f"usage: python -m {prog} SPEC.json", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    spec = json.loads(Path(args[0]).read_text(encoding="utf-8"))
    print(json.dumps(run(spec)))
    return 0


def run_json_tool(module: str, spec: dict[str, Any], env: dict[str, str], timeout_s: float) -> dict[str, Any]:
    """Run `python -m module SPEC.json` to completion and return the JSON object it prints."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", prefix="bench-spec-", delete=False) as spec_file:
        json.dump(spec, spec_file)
    try:
        completed = subprocess.run(
            python_command("-m", module, spec_file.name),
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout_s, check=False,
        )
    except subprocess.TimeoutExpired as error:
        raise BenchProcessError(f"{module} timed out after {timeout_s} s") from error
    finally:
        Path(spec_file.name).unlink(missing_ok=True)

    if completed.returncode != 0:
        raise BenchProcessError(f"{module} failed with exit code {completed.returncode}: {completed.stderr[-2000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])
