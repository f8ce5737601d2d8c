"""The transactional outbox relay: publishes task messages committed with their orders.

An order and the message that starts its saga are written in one transaction, so neither
exists without the other. Publishing happens after the commit: at once for the fast path,
and again from `relay_pending` for any message whose first publish failed (broker down)
or never ran (process killed). A message may therefore be published twice; every step
is idempotent, so a duplicate does no harm.
"""

import threading
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Protocol

from domain.service import Service
from domain.unit_of_work import UnitOfWork

BROKER_BACKOFF_S = 5.0


class TaskPublisher(Protocol):
    def publish(self, step: str, order_id: str, redelivery: bool = False) -> None:
        """Send the task for `step` of `order_id` to the broker; raise on failure.

        `redelivery` marks a message sent again for a step that did not finish, so the step
        counts it towards its attempt limit.
        """


class OutboxRelay(Service):
    def __init__(self, uow_factory: Callable[[], UnitOfWork], publisher: TaskPublisher, **kwargs) -> None:
        super().__init__(**kwargs)
        self.uow_factory = uow_factory
        self.publisher = publisher
        self._paused_until = 0.0
        self._unmarked: list[int] = []
        self._marking = False
        self._lock = threading.Lock()

    def publish(self, message_id: int, step: str, order_id: str) -> bool:
        """Publish one message now and mark it sent; return False if it was left for the relay.

        After a failure the fast path pauses for BROKER_BACKOFF_S, so that while the broker
        is down each request does not wait out a publish timeout in a server thread.
        """
        if time.monotonic() < self._paused_until:
            return False

        try:
            self.publisher.publish(step, order_id)
        except Exception:
            # The relay retries it later; the order is safe in the database meanwhile.
            self._paused_until = time.monotonic() + BROKER_BACKOFF_S
            self.log.warning("Publish failed, left for the relay", exc_info=True, extra={"order_id": order_id})
            return False

        self._note_sent(message_id)
        return True

    def relay_pending(self, min_age: timedelta = timedelta(seconds=5), limit: int = 500) -> int:
        """Publish messages older than `min_age` that are still unsent; return how many."""
        with self.uow_factory(read_only=True) as uow:
            pending = [(m.id, m.task, m.order_id) for m in uow.outbox.pending(self.clock() - min_age, limit)]

        sent = []
        for message_id, step, order_id in pending:
            try:
                self.publisher.publish(step, order_id)
            except Exception:
                self.log.warning("Relay publish failed", exc_info=True, extra={"order_id": order_id})
                break
            sent.append(message_id)

        self._mark_sent(sent)
        if sent:
            self.log.info("Relayed outbox messages", extra={"count": len(sent)})
        return len(sent)

    def _note_sent(self, message_id: int) -> None:
        """Mark a published message sent, batching the writes of concurrent publishers.

        While one thread writes a batch, others only append their ids. The writing thread
        then takes the next batch, so under load one transaction marks many messages.
        """
        with self._lock:
            self._unmarked.append(message_id)
            if self._marking:
                return
            self._marking = True

        try:
            while batch := self._take_unmarked():
                self._mark_sent(batch)
        except Exception:
            with self._lock:
                self._marking = False
            raise

    def _take_unmarked(self) -> list[int]:
        # Clearing the flag under the same lock as the empty check means no id appended
        # after the last batch can be left behind.
        with self._lock:
            batch, self._unmarked = self._unmarked, []
            if not batch:
                self._marking = False
        return batch

    def _mark_sent(self, message_ids: Sequence[int]) -> None:
        if not message_ids:
            return
        with self.uow_factory() as uow:
            uow.outbox.mark_sent(message_ids, self.clock())
            uow.commit()
