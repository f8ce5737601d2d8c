"""Wait until a health URL returns 200, run a command once, then stay alive until stopped.

The local stack runs the replay through this module. honcho stops every process as soon as one
of them exits, so this process keeps running after the command has finished, whatever its exit
code, and exits on SIGINT or SIGTERM.

    python -m ops.run_when_healthy http://127.0.0.1:8000/healthz -- python -m ops.replay DIR
"""

import argparse
import logging
import shlex
import signal
import subprocess
import sys
import threading
import time

import httpx

logger = logging.getLogger(__name__)

POLL_INTERVAL_SECONDS = 1.0
REQUEST_TIMEOUT_SECONDS = 2.0


def wait_until_healthy(url: str, timeout: float, stop_requested: threading.Event) -> bool:
    """Poll `url` until it returns 200.

    Returns False when `timeout` seconds pass without a 200 or when `stop_requested` is set.
    """
    deadline = time.monotonic() + timeout
    last_problem = "no request sent"
    while time.monotonic() < deadline and not stop_requested.is_set():
        try:
            response = httpx.get(url, timeout=REQUEST_TIMEOUT_SECONDS, trust_env=False)
        except httpx.HTTPError as error:
            last_problem = f"{type(error).__name__}: {error}"
        else:
            if response.status_code == 200:
                return True
            last_problem = f"HTTP {response.status_code}"
        stop_requested.wait(POLL_INTERVAL_SECONDS)

    if stop_requested.is_set():
        return False
    logger.error("%s did not return 200 within %s s, last result: %s", url, timeout, last_problem)
    return False


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m ops.run_when_healthy",
        usage="%(prog)s [--timeout SECONDS] URL -- COMMAND [ARG ...]",
        description="Run a command once a health URL returns 200, then wait for SIGTERM.",
    )
    parser.add_argument("url", help="health URL to poll, e.g. http://127.0.0.1:8000/healthz")
    parser.add_argument(
        "--timeout",
        type=float,
        default=120.0,
        help="seconds to wait for a 200 before giving up on the command (default: 120)",
    )
    argv = sys.argv[1:] if argv is None else argv
    if "--" not in argv:
        parser.error("missing command: put it after --")
    separator = argv.index("--")
    args = parser.parse_args(argv[:separator])
    args.command = argv[separator + 1:]
    if not args.command:
        parser.error("missing command: put it after --")
    return args


def run_command(command: list[str]) -> None:
    """Run `command` to completion and log its exit code. A failure is logged, not raised."""
    logger.info("running %s", shlex.join(command))
    try:
        returncode = subprocess.run(command, check=False).returncode
    except OSError as error:
        logger.error("could not run %s: %s", command[0], error)
        return
    if returncode == 0:
        logger.info("command finished with exit code 0")
    else:
        logger.error("command failed with exit code %s", returncode)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    # httpx logs every request at INFO, which would be one line per poll.
    logging.getLogger("httpx").setLevel(logging.WARNING)

    stop_requested = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop_requested.set())

    logger.info("waiting for %s to return 200", args.url)
    if wait_until_healthy(args.url, args.timeout, stop_requested):
        run_command(args.command)
    elif not stop_requested.is_set():
        logger.error("skipped the command because %s did not become healthy", args.url)

    stop_requested.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
