"""The Celery application. Start a worker with `celery -A workers.app worker -Q <queues>`."""

from celery import Celery
from celery.signals import after_setup_logger, after_setup_task_logger, worker_process_init

from domain.logs import use_context_formatter

app = Celery("orderflow")
app.config_from_object("celeryconfig")
app.autodiscover_tasks(["workers"], related_name="tasks", force=True)


@worker_process_init.connect
def _dispose_inherited_connections(**_kwargs) -> None:
    # A prefork child inherits the parent's pooled database connections; sharing a socket
    # between processes corrupts it, so each child drops them and opens its own.
    from workers.container import reset_container

    reset_container()


@after_setup_logger.connect
@after_setup_task_logger.connect
def _show_log_context(logger, **_kwargs) -> None:
    use_context_formatter(logger)
