"""The bare Celery ceiling: a chain of four no-op tasks, as many hops as an order's saga.

The worker runs as `celery -A bench.ceiling_chain worker --queues bench_chain` with the pool
settings of orderflow's worker. Results go to Celery's Redis result backend, where the
driver reads them:

    python -m bench.ceiling_chain SPEC.json

SPEC.json has `mode` ("light": one chain at a time; "saturation": send `count` chains, then
wait for all), `count`, `max_duration_s` and `warmup`. The result is printed as one JSON object.
"""

import logging
import os
import time
from typing import Any

from celery import Celery, chain
from celery.result import AsyncResult

import celeryconfig
from bench.processes import spec_tool_main
from bench.stats import latency_summary_ms, rate

log = logging.getLogger(__name__)

QUEUE = "bench_chain"
CHAIN_LENGTH = 4
# NOTE: AsyncResult.get() waits for a pub/sub message from the Redis result backend, and with
# Celery 5.7 and redis-py 8.2 it sometimes never returned although the result was stored
# (about one run in four of 300 chains). So the driver polls the stored result instead, at
# this interval, which bounds the resolution of a send-to-done time.
POLL_INTERVAL_S = 0.001
# Delivery and event settings copied from orderflow's celeryconfig, so that the ratio to this
# ceiling measures orderflow's code rather than a difference in configuration.
MIRRORED_SETTINGS = (
    "task_serializer",
    "result_serializer",
    "accept_content",
    "task_acks_late",
    "task_reject_on_worker_lost",
    "worker_prefetch_multiplier",
    "broker_transport_options",
    "worker_send_task_events",
    "task_send_sent_event",
)


def mirrored_settings() -> dict[str, Any]:
    return {name: getattr(celeryconfig, name) for name in MIRRORED_SETTINGS if hasattr(celeryconfig, name)}


_redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
app = Celery("bench_ceiling")
app.conf.update(
    broker_url=_redis_url,
    result_backend=_redis_url,
    task_default_queue=QUEUE,
    broker_connection_retry_on_startup=True,
    **mirrored_settings(),
)


@app.task(name="bench.noop")
def noop(value: int) -> int:
    return value


def new_chain(value: int):
    return chain(noop.s(value), *(noop.s() for _ in range(CHAIN_LENGTH - 1)))


def light(count: int, max_duration_s: float) -> dict[str, Any]:
    """Run chains one at a time; time each from send to its result."""
    deadline = time.perf_counter() + max_duration_s
    latencies = []
    for index in range(count):
        started = time.perf_counter()
        if not wait_until_ready(new_chain(index).apply_async(), deadline):
            break
        latencies.append(time.perf_counter() - started)
    return {"chains": len(latencies), "poll_interval_s": POLL_INTERVAL_S, "latency": latency_summary_ms(latencies)}


def saturation(count: int, max_duration_s: float) -> dict[str, Any]:
    """Send `count` chains at once, then wait for every result; chains/s is chains done over the span."""
    started = time.perf_counter()
    deadline = started + max_duration_s
    pending = [new_chain(index).apply_async() for index in range(count)]
    sent_s = time.perf_counter() - started

    done = 0
    for result in pending:
        if not wait_until_ready(result, deadline):
            break
        done += 1
    duration = time.perf_counter() - started
    return {"chains": count, "done": done, "send_s": round(sent_s, 3), "duration_s": round(duration, 3), "per_s": rate(done, duration)}


def wait_until_ready(result: AsyncResult, deadline: float) -> bool:
    """Poll the stored result until it is ready; return False if `deadline` passes first."""
    while not result.ready():
        if time.perf_counter() >= deadline:
            return False
        time.sleep(POLL_INTERVAL_S)
    return True


def run(spec: dict[str, Any]) -> dict[str, Any]:
    # The first chains also wait for the worker to finish starting.
    warmup_deadline = time.perf_counter() + spec.get("warmup_timeout_s", 60)
    for index in range(spec.get("warmup", 0)):
        if not wait_until_ready(new_chain(index).apply_async(), warmup_deadline):
            raise TimeoutError(f"no result of a warm-up chain within {spec.get('warmup_timeout_s', 60)} s: is the bench_chain worker running?")
    measure = light if spec["mode"] == "light" else saturation
    return measure(spec["count"], spec["max_duration_s"])


def main(argv: list[str] | None = None) -> int:
    return spec_tool_main("bench.ceiling_chain", run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
