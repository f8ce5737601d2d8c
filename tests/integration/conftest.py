"""A real Celery worker (celery.contrib.pytest's session worker) on a private Redis, and the
API under uvicorn on loopback."""

import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn

from api.app import create_app
from domain.bootstrap import Container, bootstrap
from ops.ports import free_port
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


@pytest.fixture
def api_server(container) -> Iterator[str]:
    """Serve the app on this test's container with uvicorn on a loopback port; yield its URL."""
    port = free_port("127.0.0.1")
    server = uvicorn.Server(uvicorn.Config(create_app(container), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
