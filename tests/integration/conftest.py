"""A real Celery worker (celery.contrib.pytest's session worker) on a private Redis."""

from collections.abc import Iterator

import pytest

from domain.bootstrap import Container, bootstrap
from workers.app import app as orderflow_celery
from workers.container import reset_container, use_container
from workers.publisher import CeleryPublisher

QUEUES = ["users", "inventory", "payments", "notifications", "orderflow"]


@pytest.fixture(scope="session")
def celery_session_app(private_broker):
    return orderflow_celery


@pytest.fixture(scope="session")
def celery_worker_pool() -> str:
    return "threads"


@pytest.fixture(scope="session")
def celery_worker_parameters() -> dict:
    return {"queues": QUEUES, "concurrency": 4, "perform_ping_check": False}


@pytest.fixture
def worker_container(settings, celery_session_worker) -> Iterator[Container]:
    """Services on this test's database, used by the running worker and by the test."""
    container = bootstrap(settings, CeleryPublisher(orderflow_celery))
    use_container(container)
    yield container
    reset_container()
    container.dispose()
