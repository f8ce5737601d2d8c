"""Stored responses for requests sent with an `Idempotency-Key` header.

The first request with a key claims it (a row with no response yet), runs, and stores its
status code and body. A retry with the same key and the same request gets the stored response back. A retry with a different request is rejected, and a retry while the first is still running gets a conflict telling it to retry later. Follows the IETF draft "The Idempotency-Key HTTP Header Field"
(draft-ietf-httpapi-idempotency-key-header), which Stripe's API also implements.
"""

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from domain.errors import IdempotencyKeyReused, RequestInProgress
from domain.models import IdempotencyRecord
from domain.service import Service

MAX_KEY_LENGTH = 255
# Stored responses are kept at least this long; the sweeper deletes older ones.
RETENTION = timedelta(hours=24)
# A claim this old with no response belongs to a request that died; a retry may take it over.
ABANDONED_AFTER = timedelta(minutes=2)

@dataclass(frozen=True)
class StoredResponse:
    status_code: int
    body: dict | list | None
    headers: dict[str, str]


@dataclass(frozen=True)
class IdempotencyClaim:
    """A claimed key whose response the request stores together with what it creates."""

    scope: str
    key: str


def store_response(session: Session, claim: IdempotencyClaim, response: StoredResponse) -> None:
    """Record `response` for a claimed key inside the caller's open transaction."""
    session.execute(
        update(IdempotencyRecord)
        .where(IdempotencyRecord.scope == claim.scope, IdempotencyRecord.key == claim.key)
        .values(status_code=response.status_code, body=response.body, headers=response.headers)
    )

class IdempotencyService(Service):
    def __init__(self, session_factory: sessionmaker[Session], **kwargs) -> None:
        super().__init__(**kwargs)
        self.session_factory = session_factory

    def claim(self, scope: str, key: str, fingerprint: str) -> StoredResponse | None:
        """Claim `key` for a new request, or return the response stored for it.

        Raises IdempotencyKeyReused when the key came with another request, and
        RequestInProgress when the first request with the key has not finished.
        """
        with self.session_factory() as session:
            session.add(IdempotencyRecord(scope=scope, key=key, fingerprint=fingerprint, created_at=self.clock()))
            try:
                session.commit()
                return None
            except IntegrityError:
                session.rollback()

            record = session.scalar(select(IdempotencyRecord).where(IdempotencyRecord.scope == scope, IdempotencyRecord.key == key))
            if record is None:
                # Deleted between our insert and this read (expired or released): claim again.
                return self.claim(scope, key, fingerprint)
            return self._existing(session, record, fingerprint)

    def complete(self, scope: str, key: str, response: StoredResponse) -> None:
        with self.session_factory() as session:
            record = self._get(session, scope, key)
            record.status_code = response.status_code
            record.body = response.body
            record.headers = response.headers
            session.commit()

    def release(self, scope: str, key: str) -> None:
        """Drop a claim whose request failed on our side, so the client can retry it."""
        with self.session_factory() as session:
            session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.scope == scope, IdempotencyRecord.key == key))
            session.commit()

    def purge_expired(self) -> int:
        with self.session_factory() as session:
            result = session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.created_at < self.clock() - RETENTION))
            session.commit()
        return result.rowcount

    def _existing(self, session: Session, record: IdempotencyRecord, fingerprint: str) -> StoredResponse | None:
        if record.fingerprint != fingerprint:
            raise IdempotencyKeyReused("this Idempotency-Key was already used with a different request: send a new key")

        if record.status_code is not None:
            return StoredResponse(record.status_code, record.body, record.headers or {})

        if record.created_at < self.clock() - ABANDONED_AFTER and self._take_over(session, record):
            self.log.warning("Took over an abandoned idempotency key", extra={"key": record.key})
            return None
        raise RequestInProgress("a request with this Idempotency-Key is still being processed: retry later")

    def _take_over(self, session: Session, record: IdempotencyRecord) -> bool:
        # Compare-and-set on the claim time, so two retries cannot both take the claim over.
        result = session.execute(
            update(IdempotencyRecord)
            .where(IdempotencyRecord.id == record.id, IdempotencyRecord.created_at == record.created_at)
            .values(created_at=self.clock())
        )
        session.commit()
        return result.rowcount == 1

    @staticmethod
    def _get(session: Session, scope: str, key: str) -> IdempotencyRecord:
        return session.scalar(select(IdempotencyRecord).where(IdempotencyRecord.scope == scope, IdempotencyRecord.key == key))
