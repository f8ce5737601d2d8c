"""Profile orderflow under the benchmark's loads with py-spy: `python -m bench.profile --out DIR`.

Starts a zero-latency stack as bench.run does, then records two processes with py-spy, each
twice (on-CPU samples, then with --idle to include threads that wait):

1. the API while 64 clients send POST /orders (the intake load of bench.run);
2. the worker while it drains a batch of orders submitted at once (the saturation load).

It writes the collapsed stacks to DIR (`api-cpu.txt`, `api-wall.txt`, `worker-cpu.txt`,
`worker-wall.txt`) and prints a summary of each. py-spy must be installed
(`pip install py-spy`) and allowed to read other processes' memory (root, or ptrace allowed).
Sampling slows the processes it records, so figures measured during a profile are not
comparable with those of bench.run.
"""

import argparse
import logging
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from bench.config import BenchConfig, PoolSettings
from bench.measure.intake import post_orders
from bench.orders_db import OrderReader
from bench.processes import ManagedProcess
from bench.profile_report import read_stacks, render_summary
from bench.run import build_config, build_parser
from bench.seed import Seed, seed_stack
from bench.stack import OrderflowStack
from ops.redis_server import RedisServer

log = logging.getLogger(__name__)

CLIENTS = 64
SAMPLE_RATE_HZ = 100
# A cap far above what 64 clients send during both recordings (bench.run measured about 50
# requests/s), so the load's duration bound ends it.
INTAKE_REQUESTS = 20_000
SATURATION_ORDERS = 3_000


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    py_spy = shutil.which("py-spy")
    if py_spy is None:
        log.error("py-spy was not found on PATH; install it with `pip install py-spy`")
        return 2
    args.out.mkdir(parents=True, exist_ok=True)

    config = build_config(build_parser().parse_args(["--pool", args.pool, "--concurrency", str(args.concurrency)]))
    with tempfile.TemporaryDirectory(prefix="orderflow-profile-") as name, RedisServer() as redis:
        stack = OrderflowStack("profile", Path(name), redis.url, config.pool, 0, config.durations.startup_s)
        with stack:
            seed = seed_stack(stack.api_url, stack.operator_key, "sms")
            profile_api(py_spy, args, config, stack, seed)
            profile_worker(py_spy, args, config, stack, seed)

    for name in ("api-cpu", "api-wall", "worker-cpu", "worker-wall"):
        print(render_summary(name, read_stacks(args.out / f"{name}.txt")))
        print()
    return 0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="directory for the collapsed stacks")
    parser.add_argument("--seconds", type=float, default=15.0, help="length of each recording, in seconds (default: %(default)s)")
    parser.add_argument("--pool", default=PoolSettings.pool, help="Celery worker pool (default: %(default)s)")
    parser.add_argument("--concurrency", type=int, default=PoolSettings.concurrency, help="Celery worker concurrency (default: %(default)s)")
    return parser.parse_args(argv)


def profile_api(py_spy: str, args: argparse.Namespace, config: BenchConfig, stack: OrderflowStack, seed: Seed) -> None:
    """Record the API twice while 64 clients send POST /orders."""
    load_s = 2 * args.seconds + 10
    load = threading.Thread(target=post_orders, args=(config, stack, seed, CLIENTS, INTAKE_REQUESTS, load_s))
    load.start()
    time.sleep(2)
    record(py_spy, stack.api, args.out / "api-cpu.txt", args.seconds, idle=False)
    record(py_spy, stack.api, args.out / "api-wall.txt", args.seconds, idle=True)
    load.join()
    drain(config, stack)


def profile_worker(py_spy: str, args: argparse.Namespace, config: BenchConfig, stack: OrderflowStack, seed: Seed) -> None:
    """Record the worker twice while it drains a batch submitted at once."""
    post_orders(config, stack, seed, CLIENTS, SATURATION_ORDERS, config.durations.drain_s)
    record(py_spy, stack.worker, args.out / "worker-cpu.txt", args.seconds, idle=False)
    record(py_spy, stack.worker, args.out / "worker-wall.txt", args.seconds, idle=True)
    drain(config, stack)


def drain(config: BenchConfig, stack: OrderflowStack) -> None:
    reader = OrderReader(stack.database_url)
    try:
        reader.wait_until_final(None, config.durations.drain_s)
    finally:
        reader.dispose()


def record(py_spy: str, process: ManagedProcess, output: Path, seconds: float, idle: bool) -> None:
    command = [
        py_spy, "record", "--pid", str(process.pid), "--rate", str(SAMPLE_RATE_HZ), "--duration", str(round(seconds)),
        "--format", "raw", "--function", "--nonblocking", "--output", str(output),
    ]
    if idle:
        command.append("--idle")
    log.info("Recording %s for %s s into %s", process.name, seconds, output)
    subprocess.run(command, check=True, capture_output=True, timeout=seconds + 60)


if __name__ == "__main__":
    raise SystemExit(main())
