"""Publish saga steps as Celery tasks. The routes in celeryconfig.py pick each step's queue."""

from celery import Celery

# Bounded so that a caller does not hang on a broker that is down: three attempts (this
# policy), each connect limited by broker_connection_timeout and redis_socket_timeout
# (5 s each in celeryconfig.py), so about 16 s at most. Then the error reaches the caller,
# and the outbox relay publishes the message again later.
PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.5, "interval_max": 1}


def task_name(step: str) -> str:
    return f"orderflow.{step}"


class CeleryPublisher:
    def __init__(self, app: Celery) -> None:
        self.app = app

    def publish(self, step: str, order_id: str, redelivery: bool = False) -> None:
        # Through the registered task rather than send_task, so that eager mode (unit tests) applies.
        task = self.app.tasks[task_name(step)]
        kwargs = {"redelivery": True} if redelivery else {}
        task.apply_async(args=[order_id], kwargs=kwargs, retry=True, retry_policy=PUBLISH_RETRY_POLICY)
