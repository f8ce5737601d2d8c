"""A sandbox payment gateway: a ledger keyed by idempotency key, latency and timeouts.

Timeouts come in the two kinds a real gateway produces: the request is lost before the
gateway acts, or the gateway acts and the response is lost. The second kind is why callers
must retry with the same idempotency key.
"""

import logging
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from domain.clock import Clock, utc_now
from domain.errors import GatewayUnavailable, PaymentDeclined
from domain.models import SandboxLedgerEntry
from domain.money import Money
from domain.payments.base import ChargeResult
from domain.sandbox import SandboxBehaviour

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LedgerEntry:
    idempotency_key: str
    processor: str
    kind: str
    amount: Money
    approved: bool
    decline_code: str | None
    reference: str


class SandboxLedger(ABC):
    """The gateway's own record of every operation, one per idempotency key."""

    @abstractmethod
    def get(self, idempotency_key: str) -> LedgerEntry | None: ...

    @abstractmethod
    def record(self, entry: LedgerEntry) -> LedgerEntry:
        """Store `entry` unless its key is taken, and return the entry stored under the key."""


class SqlSandboxLedger(SandboxLedger):
    """A ledger in its own transactions, apart from any order transaction, like a remote gateway."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        read_session_factory: sessionmaker[Session] | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self._session_factory = session_factory
        self._read_session_factory = read_session_factory or session_factory
        self._clock = clock

    def get(self, idempotency_key: str) -> LedgerEntry | None:
        with self._read_session_factory() as session:
            row = session.get(SandboxLedgerEntry, idempotency_key)
            return _entry_from_row(row) if row else None

    def record(self, entry: LedgerEntry) -> LedgerEntry:
        with self._session_factory() as session:
            session.add(_row_from_entry(entry, self._clock()))
            try:
                session.commit()
            except IntegrityError:
                session.rollback()
                return _entry_from_row(session.get(SandboxLedgerEntry, entry.idempotency_key))
        return entry


def _row_from_entry(entry: LedgerEntry, now: datetime) -> SandboxLedgerEntry:
    return SandboxLedgerEntry(
        idempotency_key=entry.idempotency_key,
        processor=entry.processor,
        kind=entry.kind,
        amount_minor=entry.amount.minor,
        currency=entry.amount.currency,
        approved=entry.approved,
        decline_code=entry.decline_code,
        reference=entry.reference,
        created_at=now,
    )


def _entry_from_row(row: SandboxLedgerEntry) -> LedgerEntry:
    return LedgerEntry(
        idempotency_key=row.idempotency_key,
        processor=row.processor,
        kind=row.kind,
        amount=Money(row.amount_minor, row.currency),
        approved=row.approved,
        decline_code=row.decline_code,
        reference=row.reference,
    )


class SandboxGateway:
    def __init__(self, name: str, ledger: SandboxLedger, behaviour: SandboxBehaviour) -> None:
        self.name = name
        self.ledger = ledger
        self.behaviour = behaviour

    def execute(
        self, idempotency_key: str, kind: str, amount: Money, decide: Callable[[], str | None]
    ) -> ChargeResult:
        """Run one operation; `decide` returns a decline code, or None to approve.

        A `decide` that raises GatewayUnavailable stands for a gateway error on that input.
        A repeated key is a network call like the first, and returns the first call's result.
        """
        return _result_of(self._perform(idempotency_key, kind, amount, decide))

    def find(self, idempotency_key: str) -> ChargeResult | None:
        entry = self.ledger.get(idempotency_key)
        if entry is None or not entry.approved:
            return None
        return _result_of(entry)

    def _perform(self, idempotency_key: str, kind: str, amount: Money, decide) -> LedgerEntry:
        self.behaviour.wait()
        self._maybe_time_out(idempotency_key, "before the gateway acted")

        decline_code = decide()
        entry = self.ledger.record(
            LedgerEntry(
                idempotency_key=idempotency_key,
                processor=self.name,
                kind=kind,
                amount=amount,
                approved=decline_code is None,
                decline_code=decline_code,
                reference=f"{self.name}_{kind}_{uuid.uuid4().hex[:16]}",
            )
        )

        self.behaviour.maybe_crash()
        self._maybe_time_out(idempotency_key, "after the gateway acted")
        return entry

    def _maybe_time_out(self, idempotency_key: str, when: str) -> None:
        if self.behaviour.fails():
            log.info("Sandbox %s timed out %s", self.name, when, extra={"idempotency_key": idempotency_key})
            raise GatewayUnavailable(f"{self.name} gateway timed out")


def _result_of(entry: LedgerEntry) -> ChargeResult:
    if not entry.approved:
        raise PaymentDeclined(entry.decline_code or "declined")
    return ChargeResult(reference=entry.reference, amount=entry.amount)
