"""Email over SMTP with smtplib."""

import smtplib
from email.message import EmailMessage
from email.utils import format_datetime

from domain.clock import Clock, utc_now
from domain.errors import NotificationRejected, NotifierUnavailable
from domain.notifications.base import Notification, Notifier


class EmailNotifier(Notifier):
    channel = "email"

    def __init__(self, host: str, port: int, sender: str, timeout_s: float = 10.0, clock: Clock = utc_now) -> None:
        self.host = host
        self.port = port
        self.sender = sender
        self.timeout_s = timeout_s
        self._clock = clock

    def send(self, notification: Notification) -> None:
        message = self._compose(notification)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout_s) as smtp:
                smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as error:
            raise _classify(error, _first_code(error.recipients)) from error
        except smtplib.SMTPResponseException as error:
            raise _classify(error, error.smtp_code) from error
        except (TimeoutError, smtplib.SMTPException, OSError) as error:
            raise NotifierUnavailable(f"SMTP server {self.host}:{self.port} failed: {error}") from error

    def _compose(self, notification: Notification) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = notification.recipient
        message["Subject"] = notification.subject
        # One Message-ID per notification, the same on every attempt, so that a receiving
        # system can drop the duplicate when a retry follows a lost reply (RFC 5322, 3.6.4).
        message["Message-ID"] = f"<{notification.idempotency_key}@orderflow>"
        # RFC 5322 (3.6) requires an origination date.
        message["Date"] = format_datetime(self._clock())
        message.set_content(notification.body)
        return message


def _first_code(recipients: dict) -> int:
    return next(iter(recipients.values()))[0]


def _classify(error: Exception, code: int) -> Exception:
    # SMTP reply codes: 4xx are transient and worth retrying, 5xx are permanent (RFC 5321, 4.2.1).
    if 500 <= code < 600:
        return NotificationRejected(f"mail server rejected the message ({code})")
    return NotifierUnavailable(f"mail server deferred the message ({code})")
