"""The unit of work: one database transaction and the repositories that share it."""

from typing import Self

from sqlalchemy.orm import Session, sessionmaker

from domain.repositories import (
    NotificationRepository,
    OrderRepository,
    OutboxRepository,
    ProductRepository,
    UserRepository,
)


class UnitOfWork:
    """Open with `with uow_factory() as uow:`; nothing is written until `uow.commit()`.

    Leaving the block without a commit rolls back, so an error half-way through a step
    leaves nothing half-written.
    """

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        read_session_factory: sessionmaker[Session] | None = None,
        read_only: bool = False,
    ) -> None:
        # A read-only unit of work must not commit writes: on SQLite its transaction does
        # not hold the write lock, so a write in it can fail with "database is locked".
        use_reader = read_only and read_session_factory is not None
        self._session_factory = read_session_factory if use_reader else session_factory

    def __enter__(self) -> Self:
        self.session = self._session_factory()
        self.users = UserRepository(self.session)
        self.products = ProductRepository(self.session)
        self.orders = OrderRepository(self.session)
        self.outbox = OutboxRepository(self.session)
        self.notifications = NotificationRepository(self.session)
        return self

    def __exit__(self, *exc_info) -> None:
        # close() rolls back an uncommitted transaction; unlike rollback() it leaves loaded
        # objects readable, so services can return them after the block.
        self.session.close()

    def commit(self) -> None:
        self.session.commit()

    def rollback(self) -> None:
        self.session.rollback()
