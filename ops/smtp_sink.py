"""An SMTP server that accepts every mail, logs one line per mail and appends it to an mbox file.

Run it as `python -m ops.smtp_sink --host 127.0.0.1 --port 8025 --mbox var/mail.mbox`, or start
an `SmtpSink` in-process from a test and read `messages`. It relays nothing and needs no
authentication, so bind it to loopback or to a private container network only.
"""

import argparse
import email
import email.policy
import logging
import mailbox
import os
import signal
import threading
import time
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Self

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from ops.ports import free_port

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReceivedMail:
    """One mail as the sink received it: the SMTP envelope and the parsed message."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return self.message.get("Subject", "")

    @property
    def message_id(self) -> str:
        return self.message.get("Message-ID", "")


class _SinkHandler:
    """aiosmtpd handler that passes every accepted mail to SmtpSink._store."""

    def __init__(self, sink: "SmtpSink") -> None:
        self._sink = sink

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        received = ReceivedMail(
            mail_from=envelope.mail_from,
            rcpt_tos=tuple(envelope.rcpt_tos),
            message=message,
        )
        try:
            self._sink._store(received, envelope.original_content)
        except OSError:
            logger.exception("appending mail %s to the mbox failed", received.message_id)
            return "451 Requested action aborted: local error in processing"
        return "250 Message accepted for delivery"


class SmtpSink:
    """An in-process SMTP sink on `host`:`port` (a free port when `port` is 0).

    `messages` lists every received mail in arrival order. Tests call wait_for() because
    senders such as Celery workers deliver asynchronously.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, mbox_path: Path | None = None):
        self.host = host
        self.port = port or free_port(host)
        self.mbox_path = mbox_path
        self.messages: list[ReceivedMail] = []
        self._arrived = threading.Condition()
        self._controller = Controller(_SinkHandler(self), hostname=host, port=self.port)

    def start(self) -> Self:
        if self.mbox_path is not None:
            self.mbox_path.parent.mkdir(parents=True, exist_ok=True)
        self._controller.start()
        logger.info("SMTP sink listening on %s:%s, mbox=%s", self.host, self.port, self.mbox_path)
        return self

    def stop(self) -> None:
        self._controller.stop()
        logger.info("SMTP sink on %s:%s stopped", self.host, self.port)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[ReceivedMail]:
        """Wait until at least `count` mails have arrived and return all of them.

        Raises TimeoutError naming both counts when fewer have arrived after `timeout` seconds.
        """
        with self._arrived:
            arrived = self._arrived.wait_for(lambda: len(self.messages) >= count, timeout)
            if not arrived:
                raise TimeoutError(
                    f"expected {count} mails within {timeout} s, received {len(self.messages)}"
                )
            return list(self.messages)

    def _store(self, received: ReceivedMail, raw: bytes) -> None:
        # The handler runs on the controller's event loop thread, while tests read `messages`
        # from the main thread, so appends go through the condition's lock.
        with self._arrived:
            if self.mbox_path is not None:
                _append_to_mbox(self.mbox_path, received.mail_from, raw)
            self.messages.append(received)
            self._arrived.notify_all()
        logger.info(
            "received mail from=%s to=%s subject=%r message_id=%s",
            received.mail_from,
            ",".join(received.rcpt_tos),
            received.subject,
            received.message_id,
        )


def _append_to_mbox(path: Path, mail_from: str, raw: bytes) -> None:
    box = mailbox.mbox(path, create=True)
    box.lock()
    try:
        entry = mailbox.mboxMessage(raw)
        entry.set_from(mail_from or "MAILER-DAEMON", time.gmtime())
        box.add(entry)
        box.flush()
    finally:
        box.unlock()
        box.close()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m ops.smtp_sink",
        description="Accept every mail over SMTP, log it and append it to an mbox file.",
    )
    parser.add_argument(
        "--host",
        default=os.environ.get("SMTP_HOST", "127.0.0.1"),
        help="address to listen on (default: $SMTP_HOST or 127.0.0.1)",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("SMTP_PORT", "8025")),
        help="TCP port to listen on (default: $SMTP_PORT or 8025)",
    )
    parser.add_argument(
        "--mbox",
        type=Path,
        default=None,
        help="mbox file to append every received mail to (default: keep mails in memory only)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    # aiosmtpd logs every SMTP command at INFO on "mail.log", which would bury the mail lines.
    logging.getLogger("mail.log").setLevel(logging.WARNING)

    stop_requested = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop_requested.set())

    sink = SmtpSink(args.host, args.port, args.mbox)
    try:
        sink.start()
    except OSError as error:
        logger.error("SMTP sink could not listen on %s:%s: %s", args.host, args.port, error)
        return 1
    stop_requested.wait()
    sink.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
