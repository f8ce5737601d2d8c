"""Fixtures shared by every test layer.

Each test gets a fresh database: a new SQLite file, or (when ORDERFLOW_TEST_POSTGRES_URL
names a database) PostgreSQL with every table emptied. Tests that need Redis get a
private redis-server started for the session, so no data from another run can leak in.
"""

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, text

from domain.bootstrap import Container, bootstrap
from domain.database import create_db_engine
from domain.models import Base
from domain.settings import Settings
from ops.redis_server import RedisServer
from ops.smtp_sink import SmtpSink
from workers.app import app as orderflow_celery

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_URL = os.environ.get("ORDERFLOW_TEST_POSTGRES_URL")
NO_POSTGRES = "ORDERFLOW_TEST_POSTGRES_URL is not set, so the PostgreSQL variant does not run"


def migrate(engine: Engine) -> None:
    """Create the schema with the Alembic migrations, as production does."""
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    config.attributes["configure_logging"] = False
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """A migrated SQLite file that each test copies, instead of migrating again."""
    path = tmp_path_factory.mktemp("template") / "orderflow.db"
    engine = create_db_engine(f"sqlite:///{path}")
    migrate(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_engine() -> Iterator[Engine]:
    if not POSTGRES_URL:
        pytest.skip(NO_POSTGRES)
    engine = create_db_engine(POSTGRES_URL)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request, tmp_path, sqlite_template) -> str:
    if request.param == "sqlite":
        path = tmp_path / "orderflow.db"
        shutil.copyfile(sqlite_template, path)
        return f"sqlite:///{path}"

    engine = request.getfixturevalue("postgres_engine")
    tables = ", ".join(table.name for table in Base.metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    return POSTGRES_URL


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    with RedisServer() as server:
        yield server.url


@pytest.fixture(scope="session", autouse=True)
def private_broker(redis_url) -> None:
    """Point the Celery app at the private Redis before any test builds a connection pool.

    Kombu's pools keep the URL they were built with, so this must happen first: otherwise
    a test could publish to whatever Redis listens on the default port.
    """
    orderflow_celery.conf.update(broker_url=redis_url, result_backend=redis_url)


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    with SmtpSink() as sink:
        yield sink


@pytest.fixture
def settings(database_url, smtp_sink) -> Settings:
    # Rate limits counted in memory: each test gets a fresh count and no shared Redis.
    return Settings(
        database_url=database_url, smtp_host=smtp_sink.host, smtp_port=smtp_sink.port, rate_limit_storage_url="memory://"
    )


class RecordingPublisher:
    """Collects published steps instead of sending them, for tests that drive steps by hand."""

    def __init__(self) -> None:
        self.published: list[tuple[str, str]] = []

    def publish(self, step: str, order_id: str, redelivery: bool = False) -> None:
        self.published.append((str(step), order_id))


@pytest.fixture
def container(settings) -> Iterator[Container]:
    container = bootstrap(settings, RecordingPublisher())
    yield container
    container.dispose()
