"""Reads order progress straight from a stack's database, so that counting costs the API nothing.

Reads go through a plain engine: orderflow's own engine opens every transaction with
BEGIN IMMEDIATE on SQLite, which would take the write lock from the stack under test.
"""

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, case, create_engine, func, select

from domain.models import Order, OrderStatus

log = logging.getLogger(__name__)

FINAL = (OrderStatus.COMPLETED.value, OrderStatus.FAILED.value)
POLL_INTERVAL_S = 0.25


@dataclass(frozen=True)
class OrderTally:
    """Orders created since some instant: how many, how many final, and when."""

    total: int
    final: int
    completed: int
    first_created: datetime | None
    last_updated: datetime | None

    @property
    def pending(self) -> int:
        return self.total - self.final


class OrderReader:
    def __init__(self, database_url: str) -> None:
        self.engine: Engine = create_engine(database_url)

    def tally(self, since: datetime | None = None) -> OrderTally:
        query = select(
            func.count(),
            func.sum(case((Order.status.in_(FINAL), 1), else_=0)),
            func.sum(case((Order.status == OrderStatus.COMPLETED.value, 1), else_=0)),
            func.min(Order.created_at),
            func.max(Order.updated_at),
        )
        if since is not None:
            query = query.where(Order.created_at >= since)
        with self.engine.connect() as connection:
            total, final, completed, first, last = connection.execute(query).one()
        return OrderTally(total, final or 0, completed or 0, _as_utc(first), _as_utc(last))

    def wait_until_final(self, since: datetime | None, timeout_s: float) -> OrderTally:
        """Poll until every order created since `since` is final or `timeout_s` passes."""
        deadline = time.monotonic() + timeout_s
        tally = self.tally(since)
        while tally.pending and time.monotonic() < deadline:
            time.sleep(POLL_INTERVAL_S)
            tally = self.tally(since)
        if tally.pending:
            log.warning("%s of %s orders were not final after %s s", tally.pending, tally.total, timeout_s)
        return tally

    def dispose(self) -> None:
        self.engine.dispose()


def _as_utc(value: datetime | str | None) -> datetime | None:
    # Aggregates skip the column's result processing, so SQLite returns ISO text here.
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)
