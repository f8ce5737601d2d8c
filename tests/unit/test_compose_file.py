"""Structural checks of docker-compose.yml, because CI has no Docker engine to run it."""

import re
from pathlib import Path

import pytest
import yaml

from ops.stack import QUEUES

COMPOSE_PATH = Path(__file__).resolve().parents[2] / "docker-compose.yml"
APP_SERVICES = [
    "api",
    "worker-users",
    "worker-inventory",
    "worker-payments",
    "worker-notifications",
    "worker-maintenance",
    "beat",
]
WORKER_QUEUES = {
    "worker-users": "users",
    "worker-inventory": "inventory",
    "worker-payments": "payments",
    "worker-notifications": "notifications",
    "worker-maintenance": "orderflow",
}


@pytest.fixture(scope="module")
def services() -> dict:
    return yaml.safe_load(COMPOSE_PATH.read_text())["services"]


def option(command: list[str], name: str) -> str | None:
    for argument in command:
        if argument.startswith(f"{name}="):
            return argument.split("=", 1)[1]
    return None


def test_compose_has_every_service(services):
    expected = {*APP_SERVICES, "flower", "redis", "postgres", "migrate", "smtp"}

    assert set(services) == expected


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_service_waits_for_migrate(services, name):
    depends_on = services[name]["depends_on"]

    assert depends_on["migrate"]["condition"] == "service_completed_successfully"
    assert depends_on["redis"]["condition"] == "service_healthy"


def test_migrate_runs_alembic_after_postgres(services):
    migrate = services["migrate"]

    assert migrate["command"] == ["alembic", "upgrade", "head"]
    assert migrate["restart"] == "no"
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"


@pytest.mark.parametrize("name", ["api", "redis", "postgres"])
def test_service_has_healthcheck(services, name):
    assert services[name]["healthcheck"]["test"]


def test_workers_cover_every_queue(services):
    consumed = {option(services[name]["command"], "--queues") for name in WORKER_QUEUES}

    assert consumed == set(QUEUES)


@pytest.mark.parametrize(("name", "queue"), sorted(WORKER_QUEUES.items()))
def test_worker_consumes_its_queue(services, name, queue):
    assert option(services[name]["command"], "--queues") == queue


@pytest.mark.parametrize("name", ["worker-payments", "worker-notifications"])
def test_io_bound_workers_use_threads(services, name):
    assert option(services[name]["command"], "--pool") == "threads"


def test_app_environment_uses_service_names(services):
    environment = services["api"]["environment"]

    assert "@postgres:5432/orderflow" in environment["DATABASE_URL"]
    assert environment["DATABASE_URL"].startswith("postgresql+psycopg://")
    assert environment["REDIS_URL"] == "${REDIS_URL:-redis://redis:6379/0}"
    assert environment["SMTP_HOST"] == "${SMTP_HOST:-smtp}"
    assert environment["ORDERFLOW_ENV"] == "production"


@pytest.mark.parametrize(
    ("name", "variable"),
    [
        ("postgres", "POSTGRES_PASSWORD"),
        ("api", "DATABASE_URL"),
        ("flower", "FLOWER_BASIC_AUTH"),
        ("api", "JWT_SECRET"),
        ("api", "OPERATOR_API_KEY_SHA256"),
    ],
)
def test_secret_has_no_default(services, name, variable):
    value = services[name]["environment"][variable]

    assert re.search(r"\$\{(POSTGRES_PASSWORD|FLOWER_BASIC_AUTH|JWT_SECRET|OPERATOR_API_KEY_SHA256):\?", value), value


def test_api_secrets_only_in_api(services):
    for name, service in services.items():
        if name != "api":
            assert "JWT_SECRET" not in service.get("environment", {}), name


def test_flower_requires_basic_auth(services):
    assert "FLOWER_BASIC_AUTH" in services["flower"]["environment"]


def test_only_api_and_flower_publish_ports(services):
    assert {name for name, service in services.items() if service.get("ports")} == {"api", "flower"}


@pytest.mark.parametrize("name", ["api", "flower"])
def test_published_ports_default_to_loopback(services, name):
    for mapping in services[name]["ports"]:
        assert ":-127.0.0.1:" in mapping, mapping
