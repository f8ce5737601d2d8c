"""Renders docs/benchmarks.md from one run's report, so the page always matches a real run."""

from typing import Any

from bench.report import FIGURE_HEADER, TARGET_HEADER, markdown_table

CHANNEL_NAMES = {"sms": "SMS", "email": "email"}

METHOD = """\
## What is measured

Every process runs on this machine and listens on 127.0.0.1: a private redis-server, a
SQLite file migrated with `alembic upgrade head`, the SMTP sink, `uvicorn api.main:app
--workers 1` and one Celery worker for all queues. A separate load-generator process drives
each load: wrk with one thread when /usr/bin/wrk exists, else an httpx async client, which
costs far more CPU per request and so caps the bare ceiling lower. The light-load rounds always
use httpx. Every load stops at a request count or a duration, whichever comes first, and wrk
may send up to one request per connection past the count.

- **Ceilings.** A bare ASGI app runs under the same uvicorn options (`bench/ceiling_app.py`).
  A bare Celery chain of four no-op tasks stores its results in Celery's Redis result
  backend (`bench/ceiling_chain.py`) and runs on the same Redis with the same worker pool
  options as orderflow. The chain copies orderflow's delivery and event settings from
  `celeryconfig.py` (late acknowledgement, prefetch of one, and task events, which are off
  unless CELERY_TASK_EVENTS is set).
- **Intake.** POST /orders accepted/s and latency at 1, 16 and 64 clients while the worker
  processes the accepted orders. Each level ends with a drain: the next level starts when
  every order is final.
- **Saturation.** A batch of orders is submitted by 64 clients; completed orders/s is the
  batch's completed orders over the time from the first submit to the last order's final
  update, read from the database.
- **Light load.** One order at a time. The latency runs from just before POST /orders to
  the order's final update (its `updated_at`; every process reads the same clock). The
  client polls GET /jobs every 20 ms to learn that the order is final: polling faster
  would not change the figure, but its requests would compete with the worker for the
  two cores.
- **Gateway latency.** A fresh stack with GATEWAY_LATENCY_MS set, which delays every call to
  the card and PayPal gateways and the SMS sandbox. Benchmark users are notified by SMS, so
  an order waits on two remote calls, as in the synchronous peer.
- **Synchronous peer** (`bench/sync_peer.py`). A FastAPI app with `def` endpoints that checks
  the user with GET /users/{id} on the orderflow API, sleeps once for the charge and once
  for the notification, and then responds.
- **Latency at one rate.** The httpx generator sends requests to POST /orders on the
  gateway-latency stack, then to the peer, in an open loop. Each request goes out when it
  is due, even if earlier ones are still waiting, and its latency runs from that moment. The rate is half of what the
  slower side sustains (the peer's closed-loop requests/s, or orderflow's completed
  orders/s at that latency), so neither builds a queue, and the two p50s compare how long
  each front makes a client wait. With 16 clients in a closed loop (also reported) each
  side's p50 is about 16 divided by its requests/s, so that ratio compares throughput
  instead.
- **Memory.** Resident set size of the API process and of the worker process with its
  children (psutil), on an idle stack after the first and the second order count.
- **Replay.** With `--data DIR` or ORDERFLOW_DATA_DIR, `python -m ops.replay DIR` runs against
  the zero-latency stack at the end.

All processes share the machine's cores with the load generator, so the figures are
relative to this machine. Compare ratios between runs, not absolute figures.

`python -m bench.profile --out DIR` starts the same zero-latency stack and records the API
under the 64-client intake load and the worker at saturation with py-spy. It needs
`pip install py-spy` and prints the samples by component and by frame.

## Where the time goes

- **The database write lock.** SQLite runs one write transaction at a time, and an order
  takes up to nine. Two are in the API: the order, and marking its message sent, which
  concurrent requests share. Seven are in the worker: one per step, plus the sandbox
  gateway's ledger entry, the notification claim and the SMS sandbox's record.
  Under load, py-spy's wall-clock samples (`bench.profile`) find most API and worker
  threads waiting for their write turn (`WriteGate.acquire`). A turn lasts as long as its
  ORM statements and commit, plus any time the holding thread waits for its process's GIL.
  Before the write gate those threads slept in SQLite's busy handler instead, with a p99
  about 20 times the p50 (docs/decisions.md).
- **POST /orders.** The "API CPU" figure is the API process's CPU time per accepted order:
  request parsing and validation, the order's transaction, and the publish to Redis. One
  uvicorn process accepts at most one order per that many milliseconds, which is far
  below half of a bare endpoint that returns a constant.
- **Steps against no-op tasks.** The bare chain pays the same broker round trips per task
  as orderflow, but no database work. orderflow's steps read and write through the
  SQLAlchemy ORM in the same worker process, so an order costs more than a chain.
"""


def render_page(report: dict[str, Any], figures: list[tuple[str, ...]], targets: list[tuple[str, ...]], notes: list[str]) -> str:
    environment = report["environment"]
    versions = ", ".join(f"{name} {version}" for name, version in environment["versions"].items())
    machine = environment["machine"]
    sections = [
        "# Benchmarks",
        "Produced by the benchmark harness; rerun it to replace this page:",
        f"```\n{report['command']}\n```",
        f"Mode: {report['mode']}. Wall time of the run: {report['wall_time_s']:.0f} s. Commit: {environment['git_commit']}.",
        "## Targets",
        markdown_table(TARGET_HEADER, targets),
        (
            "Ratio is the figure divided by its ceiling or reference, and bound is the project's target for it. "
            "The RSS rows divide the second snapshot by the first. A row that is not met is a known gap, explained "
            "under \"Where the time goes\" below; the harness reports it and still exits 0. For a quick look, "
            "`--quick` runs smaller counts in a few minutes and `--scale 0.02` smaller still; at those counts a "
            "verdict rests on few requests. The replay rows need `--data DIR` or ORDERFLOW_DATA_DIR set to the "
            "directory of UCI Online Retail CSV files."
        ),
        "## Figures",
        markdown_table(FIGURE_HEADER, figures),
        "## Settings",
        _settings_list(report),
        "## Machine",
        (
            f"- {machine['cpu_model']}, {machine['logical_cpus']} logical CPUs ({machine['physical_cores']} physical cores), "
            f"{machine['memory_gib']} GiB of memory\n- {machine['platform']}\n"
            f"- SQLite on {environment['database']['filesystem']}\n- {versions}"
        ),
    ]
    if notes:
        sections += ["## Notes", "\n".join(f"- {note}" for note in notes)]
    sections.append(METHOD)
    return "\n\n".join(sections).rstrip() + "\n"


def _settings_list(report: dict[str, Any]) -> str:
    settings = report["settings"]
    lines = [
        f"- Celery worker: `--pool {settings['pool']} --concurrency {settings['concurrency']}`, queues users, inventory, payments, notifications, orderflow",
        "- API: `uvicorn api.main:app --workers 1`, LOG_LEVEL=WARNING",
        f"- Gateway latency of the second stack: {settings['gateway_latency_ms']} ms per call. Users are notified by {CHANNEL_NAMES[settings['notify_via']]}.",
        f"- Load generator: {settings['load_generator']} (auto is wrk when /usr/bin/wrk exists, else httpx)",
        f"- Counts (bench/config.py): {_pairs(settings['counts'])}",
        f"- Bounds in seconds: {_pairs(settings['durations'])}",
    ]
    return "\n".join(lines)


def _pairs(values: dict[str, Any]) -> str:
    return ", ".join(f"{name} {_value(value)}" for name, value in values.items())


def _value(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}: {_value(item)}" for key, item in value.items()) + "}"
    if isinstance(value, list | tuple):
        return " and ".join(_value(item) for item in value)
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    if value is None:
        return "none"
    return str(value)
