"""Celery tasks: one per saga step, each on its own queue (see celeryconfig.task_routes).

Tasks take an order id, run the step through the domain saga, and publish the steps that the saga returns as due next. Only `TransientError`s are retried, with exponential backoff,
full jitter and a limit; business failures are already handled inside the saga.
"""

import logging

from celery import Task
from celery.utils.time import get_exponential_backoff_interval

from domain.errors import TransientError
from domain.steps import Step
from workers.app import app
from workers.container import container

log = logging.getLogger(__name__)

FORWARD_MAX_RETRIES = 5
RETRY_BACKOFF_S = 1
RETRY_BACKOFF_MAX_S = 300


def run_step(task: Task, step: Step, order_id: str, redelivery: bool = False) -> None:
    ids = {"order_id": order_id, "task_id": task.request.id, "step": step}
    log.info("Step task received", extra=ids)
    saga = container().saga

    # Kombu marks a message redelivered when it comes back unacknowledged (its worker died).
    # The sweeper marks the messages it sends again for steps that did not finish.
    redelivered = redelivery or bool((task.request.delivery_info or {}).get("redelivered"))
    try:
        next_steps = getattr(saga, step)(order_id, redelivered=redelivered)
    except TransientError as error:
        next_steps = _retry_or_give_up(task, step, order_id, error, ids)

    dispatch(next_steps, order_id)


def _retry_or_give_up(task: Task, step: Step, order_id: str, error: TransientError, ids: dict) -> list[Step]:
    if task.max_retries is not None and task.request.retries >= task.max_retries:
        log.warning("Step gave up after retries: %s", error, extra=ids)
        return container().saga.gave_up(order_id, step, str(error))

    countdown = get_exponential_backoff_interval(
        factor=RETRY_BACKOFF_S, retries=task.request.retries, maximum=RETRY_BACKOFF_MAX_S, full_jitter=True
    )
    log.warning("Step failed, retrying in %s s: %s", countdown, error, extra=ids)
    raise task.retry(countdown=countdown, exc=error)


def dispatch(steps: list[Step], order_id: str, redelivery: bool = False) -> None:
    publisher = container().outbox.publisher
    for step in steps:
        publisher.publish(step, order_id, redelivery)


@app.task(name="orderflow.validate_user", bind=True, max_retries=FORWARD_MAX_RETRIES)
def validate_user(self: Task, order_id: str, redelivery: bool = False) -> None:
    run_step(self, Step.VALIDATE_USER, order_id, redelivery)


@app.task(name="orderflow.reserve_stock", bind=True, max_retries=FORWARD_MAX_RETRIES)
def reserve_stock(self: Task, order_id: str, redelivery: bool = False) -> None:
    run_step(self, Step.RESERVE_STOCK, order_id, redelivery)


@app.task(name="orderflow.charge_payment", bind=True, max_retries=FORWARD_MAX_RETRIES)
def charge_payment(self: Task, order_id: str, redelivery: bool = False) -> None:
    run_step(self, Step.CHARGE_PAYMENT, order_id, redelivery)


@app.task(name="orderflow.send_confirmation", bind=True, max_retries=FORWARD_MAX_RETRIES)
def send_confirmation(self: Task, order_id: str, redelivery: bool = False) -> None:
    run_step(self, Step.SEND_CONFIRMATION, order_id, redelivery)


# Compensations retry without limit: stock must come back and money must be returned.
# The order shows them pending (status "compensating") until they succeed.


@app.task(name="orderflow.release_stock", bind=True, max_retries=None)
def release_stock(self: Task, order_id: str, redelivery: bool = False) -> None:
    run_step(self, Step.RELEASE_STOCK, order_id, redelivery)


@app.task(name="orderflow.refund_payment", bind=True, max_retries=None)
def refund_payment(self: Task, order_id: str, redelivery: bool = False) -> None:
    run_step(self, Step.REFUND_PAYMENT, order_id, redelivery)


@app.task(name="orderflow.relay_outbox")
def relay_outbox() -> int:
    return container().outbox.relay_pending()


@app.task(name="orderflow.sweep")
def sweep() -> int:
    container().idempotency.purge_expired()
    redrive = container().sweeper.sweep()
    for order_id, step in redrive:
        dispatch([step], order_id, redelivery=True)
    return len(redrive)
