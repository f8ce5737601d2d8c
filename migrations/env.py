"""Alembic environment: migrates the database named by DATABASE_URL (or an engine passed in)."""

from logging.config import fileConfig

from alembic import context

from domain.database import create_db_engine
from domain.models import Base
from domain.settings import get_settings

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logging", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def run_migrations() -> None:
    # Tests pass a live connection in `attributes` so that migrations run on their database.
    connection = config.attributes.get("connection")
    if connection is not None:
        _migrate(connection)
        return

    engine = create_db_engine(config.get_main_option("sqlalchemy.url") or get_settings().database_url)
    with engine.connect() as connection:
        _migrate(connection)
    engine.dispose()


def _migrate(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        # SQLite cannot ALTER most constraints in place; batch mode copies the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
