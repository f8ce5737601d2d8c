"""Run the whole orderflow stack on this machine with one command: `python -m ops.stack`.

Steps: use the Redis at REDIS_URL if it replies to PING, else start a private redis-server on
a free loopback port and pass its URL to every process as REDIS_URL. Create the state
directory (var/, or the directory given with --var-dir) and run `alembic upgrade head`. Then
run the processes under honcho, which prefixes every log line with the process name and stops
every process on Ctrl-C or as soon as one of them exits:

    redis    private redis-server, only when nothing responded at REDIS_URL
    api      uvicorn api.main:app on API_HOST:API_PORT
    worker   one Celery worker for all queues, thread pool of CELERY_WORKER_CONCURRENCY
    beat     Celery beat, schedule file in the state directory
    flower   Celery monitoring UI on FLOWER_HOST:FLOWER_PORT
    smtp     ops.smtp_sink on SMTP_HOST:SMTP_PORT, mails appended to mail.mbox in the state
             directory
    replay   with --replay DATA_DIR: ops.replay, once /healthz returns 200

DATABASE_URL and the other application settings pass through to the processes unchanged. With
--replay, REGISTRATION_LIMIT_PER_ADDRESS defaults to REPLAY_REGISTRATION_LIMIT, because the
replay registers every customer from one address. The API and Flower listen on 127.0.0.1
unless API_HOST or FLOWER_HOST says otherwise.
"""

import argparse
import dataclasses
import logging
import os
import shlex
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from honcho.manager import Manager

from ops.ports import client_host, free_port
from ops.redis_server import RedisServerError, find_redis_binary, redis_command, redis_reachable

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
QUEUES = ("users", "inventory", "payments", "notifications", "orderflow")
LOOPBACK_HOSTS = {"127.0.0.1", "::1", "localhost"}
HEALTH_TIMEOUT_SECONDS = 120
# The full UCI Online Retail data has about 4,400 customers.
REPLAY_REGISTRATION_LIMIT = "100000 per hour"


class StackError(RuntimeError):
    """The stack could not be configured or prepared, so no process was started."""


@dataclass(frozen=True)
class StackConfig:
    """Addresses and sizes of the local stack, read from the environment."""

    api_host: str = "127.0.0.1"
    api_port: int = 8000
    flower_host: str = "127.0.0.1"
    flower_port: int = 5555
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8025
    redis_url: str = "redis://127.0.0.1:6379/0"
    worker_concurrency: int = 8
    var_dir: Path = ROOT / "var"

    @classmethod
    def from_environ(cls, environ: Mapping[str, str], var_dir: Path | None = None) -> "StackConfig":
        defaults = cls()
        return cls(
            var_dir=var_dir or defaults.var_dir,
            api_host=environ.get("API_HOST", defaults.api_host),
            api_port=_positive_int(environ, "API_PORT", defaults.api_port),
            flower_host=environ.get("FLOWER_HOST", defaults.flower_host),
            flower_port=_positive_int(environ, "FLOWER_PORT", defaults.flower_port),
            smtp_host=environ.get("SMTP_HOST", defaults.smtp_host),
            smtp_port=_positive_int(environ, "SMTP_PORT", defaults.smtp_port),
            redis_url=environ.get("REDIS_URL", defaults.redis_url),
            worker_concurrency=_positive_int(
                environ, "CELERY_WORKER_CONCURRENCY", defaults.worker_concurrency
            ),
        )

    @property
    def api_url(self) -> str:
        return f"http://{client_host(self.api_host)}:{self.api_port}"

    @property
    def flower_url(self) -> str:
        return f"http://{client_host(self.flower_host)}:{self.flower_port}"


def _positive_int(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value <= 0:
        raise StackError(f"invalid {name}={raw!r}: expected a positive integer")
    return value


def choose_redis(redis_url: str, var_dir: Path) -> tuple[str, list[str] | None]:
    """Choose the Redis server for the stack and return its URL.

    When no server responds at `redis_url`, a free loopback port is chosen for a private
    redis-server and its command is returned too, else the command is None.
    """
    # NOTE: Celery queues are keyed by name inside one Redis database, so a second stack or a
    # stray worker on the same REDIS_URL consumes this stack's tasks. Give each its own database.
    if redis_reachable(redis_url):
        logger.info("using the Redis server at %s", redact_url(redis_url))
        return redis_url, None

    logger.info("no Redis server responds at %s, starting a private one", redact_url(redis_url))
    try:
        binary = find_redis_binary()
    except RedisServerError as error:
        raise StackError(str(error)) from error
    port = free_port("127.0.0.1")
    workdir = var_dir / "redis"
    workdir.mkdir(parents=True, exist_ok=True)
    return f"redis://127.0.0.1:{port}/0", redis_command(binary, "127.0.0.1", port, workdir)


def run_migrations(env: Mapping[str, str]) -> None:
    """Run `alembic upgrade head` from the repository root, where alembic.ini is."""
    logger.info("running alembic upgrade head")
    command = [sys.executable, "-m", "alembic", "upgrade", "head"]
    result = subprocess.run(command, cwd=ROOT, env=dict(env), check=False)
    if result.returncode != 0:
        raise StackError(
            f"alembic upgrade head failed with exit code {result.returncode}, "
            "see its output above"
        )


def build_processes(
    config: StackConfig,
    redis_command: list[str] | None = None,
    replay_dir: Path | None = None,
    python: str = sys.executable,
) -> dict[str, list[str]]:
    """Return the command of every stack process, by process name, in start order."""
    celery = [python, "-m", "celery", "-A", "workers.app"]
    processes: dict[str, list[str]] = {}
    if redis_command is not None:
        processes["redis"] = redis_command
    processes["api"] = [
        python, "-m", "uvicorn", "api.main:app",
        "--host", config.api_host, "--port", str(config.api_port),
    ]
    processes["worker"] = [
        *celery, "worker",
        "--queues", ",".join(QUEUES),
        "--pool", "threads",
        "--concurrency", str(config.worker_concurrency),
        "--hostname", "orderflow@%h",
        "--loglevel", "INFO",
    ]
    processes["beat"] = [
        *celery, "beat", "--schedule", str(config.var_dir / "celerybeat-schedule"),
        "--loglevel", "INFO",
    ]
    processes["flower"] = [
        *celery, "flower", f"--address={config.flower_host}", f"--port={config.flower_port}",
    ]
    processes["smtp"] = [
        python, "-m", "ops.smtp_sink",
        "--host", config.smtp_host, "--port", str(config.smtp_port),
        "--mbox", str(config.var_dir / "mail.mbox"),
    ]
    if replay_dir is not None:
        processes["replay"] = [
            python, "-m", "ops.run_when_healthy", f"{config.api_url}/healthz",
            "--timeout", str(HEALTH_TIMEOUT_SECONDS), "--",
            python, "-m", "ops.replay", str(replay_dir), "--api-url", config.api_url,
        ]
    return processes


def child_environment(environ: Mapping[str, str], redis_url: str, replay: bool = False) -> dict[str, str]:
    env = dict(environ)
    env["REDIS_URL"] = redis_url
    if replay:
        env.setdefault("REGISTRATION_LIMIT_PER_ADDRESS", REPLAY_REGISTRATION_LIMIT)
    # Without this, Python children block-buffer their output into honcho's pipe and their log
    # lines show up late and out of order.
    env["PYTHONUNBUFFERED"] = "1"
    return env


def redact_url(url: str) -> str:
    """Replace the password in `url`, if any, with `***` so the URL can be logged."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def warn_if_api_exposed(config: StackConfig) -> None:
    if config.api_host not in LOOPBACK_HOSTS:
        logger.warning(
            "The API listens on %s, beyond this machine, with the development secrets unless "
            "JWT_SECRET and OPERATOR_API_KEY_SHA256 are set. Set API_HOST=127.0.0.1 to keep it local.",
            config.api_host,
        )


def warn_if_flower_exposed(config: StackConfig, environ: Mapping[str, str]) -> None:
    if config.flower_host not in LOOPBACK_HOSTS and not environ.get("FLOWER_BASIC_AUTH"):
        logger.warning(
            "Flower listens on %s without authentication. "
            "Set FLOWER_BASIC_AUTH=user:password or FLOWER_HOST=127.0.0.1.",
            config.flower_host,
        )


def print_banner(config: StackConfig, started_redis: bool) -> None:
    redis_origin = "private, started by this stack" if started_redis else "from REDIS_URL"
    mbox_path = config.var_dir / "mail.mbox"
    lines = [
        "orderflow local stack",
        f"  API docs   {config.api_url}/docs",
        f"  Flower     {config.flower_url}",
        f"  SMTP sink  {config.smtp_host}:{config.smtp_port}, mails in {mbox_path}",
        f"  Redis      {redact_url(config.redis_url)} ({redis_origin})",
        "  Press Ctrl-C to stop every process.",
    ]
    print("\n".join(lines), flush=True)


def existing_directory(value: str) -> Path:
    path = Path(value).resolve()
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"replay data directory not found: {value}")
    return path


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m ops.stack",
        description="Run Redis, the API, Celery worker and beat, Flower and an SMTP sink locally.",
    )
    parser.add_argument(
        "--replay",
        metavar="DATA_DIR",
        type=existing_directory,
        help="replay the data in DATA_DIR through the API once /healthz returns 200",
    )
    parser.add_argument(
        "--var-dir",
        metavar="PATH",
        type=lambda value: Path(value).resolve(),
        help="directory for the mbox, beat schedule and private Redis files (default: var/)",
    )
    return parser.parse_args(argv)


def prepare(
    environ: Mapping[str, str], var_dir: Path | None, replay: bool = False
) -> tuple[StackConfig, list[str] | None, dict[str, str]]:
    """Read the settings, create the state directory, choose Redis and migrate the database."""
    config = StackConfig.from_environ(environ, var_dir)
    config.var_dir.mkdir(parents=True, exist_ok=True)
    redis_url, private_redis_command = choose_redis(config.redis_url, config.var_dir)
    config = dataclasses.replace(config, redis_url=redis_url)
    env = child_environment(environ, redis_url, replay)
    if config.flower_host in LOOPBACK_HOSTS and not env.get("FLOWER_BASIC_AUTH"):
        # Flower's HTTP API refuses requests without auth unless this is set. On loopback it
        # is as open as Flower's pages already are.
        env.setdefault("FLOWER_UNAUTHENTICATED_API", "true")
    run_migrations(env)
    return config, private_redis_command, env


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s stack  | %(message)s",
                        datefmt="%H:%M:%S")
    try:
        config, private_redis_command, env = prepare(os.environ, args.var_dir, replay=args.replay is not None)
    except StackError as error:
        logger.error("%s", error)
        return 1

    warn_if_api_exposed(config)
    warn_if_flower_exposed(config, env)
    print_banner(config, started_redis=private_redis_command is not None)
    manager = Manager()
    for name, command in build_processes(config, private_redis_command, args.replay).items():
        manager.add_process(name, shlex.join(command), env=env, cwd=str(ROOT))
    manager.loop()
    return manager.returncode or 0


if __name__ == "__main__":
    raise SystemExit(main())
