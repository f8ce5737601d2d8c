"""Celery settings, read from the environment with defaults for a local run.

Delivery is at-least-once and every task is idempotent (see domain/saga.py), so:
- a task is acknowledged after it ran (`task_acks_late`) and returned to the queue if its
  worker process dies (`task_reject_on_worker_lost`);
- a worker reserves one message per process at a time, because steps wait on the network
  and a prefetched message would sit behind a slow one;
- the Redis visibility timeout, after which an unacknowledged message is delivered again,
  is longer than the longest step plus the longest retry countdown, so a live task is
  never handed to a second worker.
The order's state lives in the database; task results are not stored.
"""

import os

_redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")

broker_url = os.environ.get("CELERY_BROKER_URL", _redis_url)
result_backend = os.environ.get("CELERY_RESULT_BACKEND", _redis_url)
task_ignore_result = True
result_expires = 3600

task_serializer = "json"
result_serializer = "json"
accept_content = ["json"]

task_acks_late = True
task_reject_on_worker_lost = True
worker_prefetch_multiplier = 1

# Seconds. The longest step is a gateway call bounded by its timeout (about 10 s); the
# longest retry countdown is RETRY_BACKOFF_MAX_S in workers/tasks.py (300 s).
broker_transport_options = {
    "visibility_timeout": 3600,
    "socket_timeout": 5,
    "socket_connect_timeout": 5,
}
broker_connection_retry_on_startup = True
# How long publishing waits for the broker before the caller gives up (the outbox retries).
broker_connection_timeout = 5
# None: a worker reconnects to the broker for as long as it is down. Publishing is bounded
# separately by the retry policy in workers/publisher.py.
broker_connection_max_retries = None
redis_socket_timeout = 5
redis_socket_connect_timeout = 5

task_default_queue = "orderflow"
task_routes = {
    "orderflow.validate_user": {"queue": "users"},
    "orderflow.reserve_stock": {"queue": "inventory"},
    "orderflow.release_stock": {"queue": "inventory"},
    "orderflow.charge_payment": {"queue": "payments"},
    "orderflow.refund_payment": {"queue": "payments"},
    "orderflow.send_confirmation": {"queue": "notifications"},
    "orderflow.relay_outbox": {"queue": "orderflow"},
    "orderflow.sweep": {"queue": "orderflow"},
}

# Seconds between runs of the outbox relay and of the stalled-order sweeper.
beat_schedule = {
    "relay-outbox": {"task": "orderflow.relay_outbox", "schedule": float(os.environ.get("OUTBOX_RELAY_INTERVAL_S", "2"))},
    "sweep-stalled-orders": {"task": "orderflow.sweep", "schedule": float(os.environ.get("SWEEP_INTERVAL_S", "30"))},
}

# Task events cost four broker round trips per task (sent, received, started, succeeded),
# about a third of a step's broker traffic, and only a monitor reads them. Flower switches
# them on in the workers while it runs (its enable_events option, on by default); set
# CELERY_TASK_EVENTS=1 to send them always, for another event consumer.
_task_events = os.environ.get("CELERY_TASK_EVENTS", "0").lower() in ("1", "true", "yes")
worker_send_task_events = _task_events
task_send_sent_event = _task_events
