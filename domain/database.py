"""Engines and sessions for SQLite (embedded default) and PostgreSQL (production).

SQLite needs three things to behave under concurrent writers: WAL so readers do not block
the writer, a busy timeout so a second writer waits instead of failing, and write
transactions that take the write lock at BEGIN (`BEGIN IMMEDIATE`). Without the last, two
transactions that both read and then write deadlock and one fails with "database is locked".
Read-only transactions begin deferred instead, so that they do not queue for the write lock.
Writers to a database file queue at a write gate (domain/write_gate.py) rather than in
SQLite's busy handler, which sleeps.
"""

from pathlib import Path

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.orm import Session, sessionmaker

from domain.write_gate import GatedConnection

SQLITE_BUSY_TIMEOUT_MS = 30_000
# Execution option that marks an engine's transactions as read-only (see read_only_engine).
READ_ONLY = "orderflow_read_only"


def create_db_engine(url: str, pool_size: int = 20, max_overflow: int = 20, **kwargs) -> Engine:
    # The pool is sized for the API's thread pool (40 threads by default in AnyIO) and a
    # worker's threads, so that threads wait for the database, not for a pooled connection.
    kwargs = {"pool_size": pool_size, "max_overflow": max_overflow} | kwargs
    if url.startswith("sqlite"):
        return _create_sqlite_engine(url, **kwargs)
    return create_engine(url, pool_pre_ping=True, **kwargs)


def _create_sqlite_engine(url: str, **kwargs) -> Engine:
    path = _database_path(url)
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    connect_args = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "factory": GatedConnection}
    engine = create_engine(url, connect_args=connect_args, pool_use_lifo=True, **kwargs)

    @event.listens_for(engine, "connect")
    def configure_connection(dbapi_connection, _record):
        # Let SQLAlchemy emit BEGIN itself (below) instead of the driver's deferred BEGIN.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # In WAL mode NORMAL loses no committed transaction when a process crashes, only
        # when the machine loses power (https://www.sqlite.org/pragma.html#pragma_synchronous).
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()
        dbapi_connection.database_path = path

    @event.listens_for(engine, "begin")
    def begin(connection):
        if connection.get_execution_options().get(READ_ONLY, False):
            connection.exec_driver_sql("BEGIN")
        else:
            connection.connection.dbapi_connection.begin_write()

    return engine


def _database_path(url: str) -> str | None:
    """Return the file of a SQLite URL, or None for an in-memory or URI database."""
    path = make_url(url).database
    if not path or path == ":memory:" or path.startswith("file:"):
        return None
    return path


def create_session_factory(engine: Engine, read_only: bool = False) -> sessionmaker[Session]:
    """Make sessions on `engine`; read-only ones must not write (SQLite begins them deferred)."""
    bind = engine.execution_options(**{READ_ONLY: True}) if read_only else engine
    return sessionmaker(bind, expire_on_commit=False)
