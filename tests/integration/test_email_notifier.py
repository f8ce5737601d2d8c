"""The SMTP notifier against a real aiosmtpd server on loopback."""

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import pytest
from aiosmtpd.controller import Controller

from domain.errors import NotificationRejected, NotifierUnavailable
from domain.notifications import EmailNotifier, Notification
from ops.ports import free_port


class RejectingHandler:
    """Refuses every recipient with the SMTP reply code it is given."""

    def __init__(self, code: int) -> None:
        self.code = code

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        return f"{self.code} mailbox unavailable"


def notification() -> Notification:
    return Notification(idempotency_key="order-1.confirmation", recipient="ann@example.com", subject="Order confirmed", body="Thanks")


def test_email_delivered_with_stable_message_id(smtp_sink):
    sent_at = datetime(2026, 12, 4, 9, 30, tzinfo=UTC)
    EmailNotifier(smtp_sink.host, smtp_sink.port, "shop@example.com", clock=lambda: sent_at).send(notification())

    mail = smtp_sink.wait_for(1)[0]
    assert mail.rcpt_tos == ("ann@example.com",)
    assert mail.subject == "Order confirmed"
    assert mail.message_id == "<order-1.confirmation@orderflow>"
    assert parsedate_to_datetime(mail.message["Date"]) == sent_at


@pytest.mark.parametrize(("code", "error"), [(550, NotificationRejected), (451, NotifierUnavailable)])
def test_refused_recipient(code, error):
    port = free_port("127.0.0.1")
    controller = Controller(RejectingHandler(code), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        with pytest.raises(error):
            EmailNotifier("127.0.0.1", port, "shop@example.com").send(notification())
    finally:
        controller.stop()


def test_closed_port_is_transient():
    with pytest.raises(NotifierUnavailable):
        EmailNotifier("127.0.0.1", free_port("127.0.0.1"), "shop@example.com", timeout_s=2).send(notification())
