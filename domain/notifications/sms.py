"""The SMS sandbox: records each message once per idempotency key, as a provider's log would."""

import logging

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from domain.clock import Clock, utc_now
from domain.errors import NotifierUnavailable
from domain.models import SandboxSms
from domain.notifications.base import Notification, Notifier
from domain.sandbox import SandboxBehaviour

log = logging.getLogger(__name__)


class SmsNotifier(Notifier):
    channel = "sms"

    def __init__(self, session_factory: sessionmaker[Session], behaviour: SandboxBehaviour, clock: Clock = utc_now) -> None:
        self._session_factory = session_factory
        self.behaviour = behaviour
        self._clock = clock

    def send(self, notification: Notification) -> None:
        self.behaviour.wait()
        if self.behaviour.fails():
            raise NotifierUnavailable("SMS sandbox timed out")

        with self._session_factory() as session:
            insert = _insert_for(session)
            session.execute(
                insert(SandboxSms)
                .values(
                    idempotency_key=notification.idempotency_key,
                    phone=notification.recipient,
                    body=notification.body,
                    created_at=self._clock(),
                )
                .on_conflict_do_nothing(index_elements=["idempotency_key"])
            )
            session.commit()


def _insert_for(session: Session):
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
