import mailbox
import signal
import smtplib
import subprocess
import sys
import time
from email.message import EmailMessage
from email.utils import make_msgid

import pytest

from ops.ports import free_port
from ops.smtp_sink import SmtpSink


def build_message(subject: str, recipient: str = "buyer@example.com") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "orders@example.com"
    message["To"] = recipient
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain="orderflow.test")
    message.set_content("Your order has shipped.")
    return message


def send(port: int, message: EmailMessage) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=5) as client:
        client.send_message(message)


def test_sink_receives_mail(tmp_path):
    mbox_path = tmp_path / "mail" / "sink.mbox"
    message = build_message("Order 42 confirmed")

    with SmtpSink(mbox_path=mbox_path) as sink:
        send(sink.port, message)
        received = sink.wait_for(1, timeout=5)

    assert len(received) == 1
    assert received[0].mail_from == "orders@example.com"
    assert received[0].rcpt_tos == ("buyer@example.com",)
    assert received[0].subject == "Order 42 confirmed"
    assert received[0].message_id == message["Message-ID"]
    assert received[0].message.get_content().strip() == "Your order has shipped."


def test_sink_appends_to_mbox(tmp_path):
    mbox_path = tmp_path / "sink.mbox"

    with SmtpSink(mbox_path=mbox_path) as sink:
        send(sink.port, build_message("first"))
        send(sink.port, build_message("second", recipient="other@example.com"))
        sink.wait_for(2, timeout=5)

    stored = list(mailbox.mbox(mbox_path))
    assert [entry["Subject"] for entry in stored] == ["first", "second"]
    assert stored[0].get_from().startswith("orders@example.com ")
    assert stored[1]["To"] == "other@example.com"


def test_sink_keeps_arrival_order():
    with SmtpSink() as sink:
        for number in range(20):
            send(sink.port, build_message(f"mail {number}"))
        received = sink.wait_for(20, timeout=10)

    assert [mail.subject for mail in received] == [f"mail {number}" for number in range(20)]


def test_wait_for_times_out_with_counts():
    expected_error = "expected 1 mails within 0.2 s, received 0"
    with SmtpSink() as sink, pytest.raises(TimeoutError, match=expected_error):
        sink.wait_for(1, timeout=0.2)


def test_cli_sink_logs_and_stops(tmp_path):
    port = free_port()
    mbox_path = tmp_path / "cli.mbox"
    command = [sys.executable, "-m", "ops.smtp_sink", "--port", str(port), "--mbox", str(mbox_path)]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    try:
        wait_until_listening(port, timeout=10)
        message = build_message("from the command line")
        send(port, message)
    finally:
        process.send_signal(signal.SIGTERM)
        _, log = process.communicate(timeout=10)

    assert process.returncode == 0
    assert "subject='from the command line'" in log
    assert message["Message-ID"] in log
    assert [entry["Subject"] for entry in mailbox.mbox(mbox_path)] == ["from the command line"]


def wait_until_listening(port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=1) as client:
                client.noop()
            return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"SMTP sink did not listen on port {port} within {timeout} s")
