"""The notifier interface: one message to one customer over one channel."""

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True)
class Notification:
    """A message to send. `idempotency_key` is the same on every attempt for one message."""

    idempotency_key: str
    recipient: str
    subject: str
    body: str


class Notifier(ABC):
    """Delivers notifications on one channel.

    `send` raises `NotifierUnavailable` when the provider may take the message later (retry)
    and `NotificationRejected` when it never will (an address it refuses).
    """

    channel: ClassVar[str]

    @abstractmethod
    def send(self, notification: Notification) -> None: ...
