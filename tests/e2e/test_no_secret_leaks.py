"""No card number, CVC or password reaches a log, a table, a Redis message or a mail.

The stack runs as separate processes (uvicorn and a Celery worker, both logging at DEBUG) on
a private Redis and its own SQLite file, while a thread records every command Redis receives
with MONITOR. The test places orders with card numbers and CVCs made up for this run and
registers users with passwords made up for this run, so a hit cannot be a coincidence. Then it
searches everything the stack wrote. Positive controls (the email in the database, the order
id in Redis and in the logs) show that each search can find what is there.
"""

import base64
import binascii
import re
import secrets
import subprocess
import sys
import threading
import time
from dataclasses import dataclass

import httpx
import pytest
import redis
from sqlalchemy import create_engine, inspect, text

from ops.ports import free_port
from ops.redis_server import RedisServer
from ops.smtp_sink import SmtpSink
from tests.builders import OPERATOR, product_fields, user_fields
from tests.e2e.conftest import (
    ROOT,
    stack_environment,
    start_api,
    start_worker,
    stop,
    wait_until_healthy,
)

pytestmark = pytest.mark.e2e

USERS = 3
JOB_DEADLINE_S = 60
MONITOR_MAX_COMMANDS = 200_000
MONITOR_STOP_MARKER = "leak-test-monitor-stop"
# Celery messages carry their body base64-encoded; runs this long are decoded and searched too.
BASE64_RUN = re.compile(rb"[A-Za-z0-9+/]{16,}={0,2}")


def luhn_check_digit(digits: str) -> str:
    total = 0
    for index, digit in enumerate(reversed(digits)):
        value = int(digit) * (2 if index % 2 == 0 else 1)
        total += value - 9 if value > 9 else value
    return str((10 - total % 10) % 10)


def made_up_visa() -> str:
    # Luhn-valid, so the API accepts it; unknown to the sandbox, which declines it after tokenising.
    body = "4" + "".join(secrets.choice("0123456789") for _digit in range(14))
    return body + luhn_check_digit(body)


def made_up_cvc() -> str:
    return f"{secrets.randbelow(9000) + 1000}"


@dataclass
class Secrets:
    passwords: list[str]
    card_numbers: list[str]
    cvcs: list[str]

    def patterns(self) -> dict[str, re.Pattern[bytes]]:
        found = {}
        for password in self.passwords:
            found[f"password {password}"] = re.compile(re.escape(password.encode()))
        for number in self.card_numbers:
            spaced = " ".join(number[start:start + 4] for start in range(0, 16, 4))
            found[f"card number {number}"] = re.compile(re.escape(number.encode()))
            found[f"spaced card number {number}"] = re.compile(re.escape(spaced.encode()))
            # Everything but the last four, which the order keeps on purpose.
            found[f"card number prefix {number[:12]}"] = re.compile(re.escape(number[:12].encode()))
        for cvc in self.cvcs:
            # Four digits alone also occur in UUIDs and timestamps, so a CVC counts only next to
            # its field name, as a logged dict, JSON body or repr would show it.
            found[f"CVC {cvc}"] = re.compile(rb"(?i)cvc\W{1,6}" + cvc.encode() + rb"(?![0-9])")
        return found


class RedisRecorder:
    """Records every command a Redis server receives, with MONITOR, on a thread."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.commands: list[bytes] = []
        self._thread = threading.Thread(target=self._record, daemon=True)
        self._started = threading.Event()

    def start(self) -> "RedisRecorder":
        self._thread.start()
        assert self._started.wait(10), "MONITOR did not start"
        return self

    def stop(self) -> None:
        redis.Redis.from_url(self.url).echo(MONITOR_STOP_MARKER)
        self._thread.join(timeout=30)
        assert not self._thread.is_alive(), "MONITOR thread did not stop"

    def _record(self) -> None:
        client = redis.Redis.from_url(self.url)
        with client.monitor() as monitor:
            self._started.set()
            # Bounded: the stop marker ends it, and so does the command limit.
            for _number in range(MONITOR_MAX_COMMANDS):
                command = monitor.next_command()["command"]
                if MONITOR_STOP_MARKER in command:
                    return
                self.commands.append(command.encode("utf-8", "backslashreplace"))

    def text(self) -> bytes:
        """Return every command, and after each the base64 runs in it decoded."""
        parts = []
        for command in self.commands:
            parts.append(command)
            for run in BASE64_RUN.findall(command):
                try:
                    parts.append(base64.b64decode(run + b"=" * (-len(run) % 4)))
                except (binascii.Error, ValueError):
                    continue
        return b"\n".join(parts)


def database_text(database_url: str) -> bytes:
    """Return every row of every table as text."""
    engine = create_engine(database_url)
    lines = []
    with engine.connect() as connection:
        for table in inspect(connection).get_table_names():
            for row in connection.execute(text(f'SELECT * FROM "{table}"')):
                lines.append(f"{table}: {tuple(row)!r}")
    engine.dispose()
    return "\n".join(lines).encode()


def wait_for_jobs(client: httpx.Client, placed: list[tuple[dict, dict]]) -> list[dict]:
    deadline = time.monotonic() + JOB_DEADLINE_S
    jobs = []
    for accepted, auth in placed:
        while True:
            job = client.get(accepted["status_url"], headers=auth).json()
            if job["state"] in ("succeeded", "failed"):
                jobs.append(job)
                break
            assert time.monotonic() < deadline, f"job {accepted['job_id']} did not finish"
            time.sleep(0.1)
    return jobs


def place_orders(client: httpx.Client, made_up: Secrets, users: list[dict]) -> list[tuple[dict, dict]]:
    product = client.post("/products", json=product_fields(stock=100), headers=OPERATOR).json()
    placed = []
    for number, user in enumerate(users):
        login = client.post("/auth/token", data={"username": user["email"], "password": made_up.passwords[number]})
        assert login.status_code == 200, login.text
        auth = {"Authorization": f"Bearer {login.json()['access_token']}"}
        card_number = made_up.card_numbers[number]
        # The first card goes in with spaces, as people type it.
        typed = " ".join(card_number[start:start + 4] for start in range(0, 16, 4)) if number == 0 else card_number
        payment = {"method": "card", "card_number": typed, "exp_month": 12, "exp_year": 2099, "cvc": made_up.cvcs[number]}
        body = {"items": [{"sku": product["sku"], "quantity": 1}], "payment": payment}
        response = client.post("/orders", json=body, headers=auth)
        assert response.status_code == 202, response.text
        placed.append((response.json(), auth))

    # One approved order too, so the charge and confirmation steps run: the public test card
    # with a CVC made up for this run.
    payment = {"method": "card", "card_number": "4242424242424242", "exp_month": 12, "exp_year": 2099, "cvc": made_up.cvcs[-1]}
    response = client.post("/orders", json={"items": [{"sku": product["sku"], "quantity": 1}], "payment": payment}, headers=placed[0][1])
    assert response.status_code == 202, response.text
    placed.append((response.json(), placed[0][1]))

    # A rejected order: the card number fails validation and must not be echoed or logged.
    rejected = {"items": [{"sku": product["sku"], "quantity": 1}], "payment": {**payment, "card_number": made_up.card_numbers[-1]}}
    response = client.post("/orders", json=rejected, headers=placed[0][1])
    assert response.status_code == 422, response.text
    assert made_up.card_numbers[-1] not in response.text
    return placed


def test_secrets_stay_out_of_logs_tables_and_redis(tmp_path):
    made_up = Secrets(
        passwords=[f"pw-{secrets.token_hex(16)}" for _number in range(USERS)],
        card_numbers=[made_up_visa() for _number in range(USERS)] + [made_up_visa()[:-1] + "0"],
        cvcs=[made_up_cvc() for _number in range(USERS + 1)],
    )
    # The last number must fail the Luhn check, for the rejected order.
    if luhn_check_digit(made_up.card_numbers[-1][:-1]) == "0":
        made_up.card_numbers[-1] = made_up.card_numbers[-1][:-1] + "1"
    database_url = f"sqlite:///{tmp_path / 'orderflow.db'}"
    api_port = free_port("127.0.0.1")

    with RedisServer() as redis_server, SmtpSink() as smtp:
        env = stack_environment(database_url, redis_server.url, smtp, LOG_LEVEL="DEBUG")
        subprocess.run([sys.executable, "-m", "alembic", "upgrade", "head"], cwd=ROOT, env=env, check=True, capture_output=True)
        recorder = RedisRecorder(redis_server.url).start()
        processes = [
            start_api(api_port, env, tmp_path / "api.log", "--log-level", "debug"),
            start_worker(env, tmp_path / "worker.log", loglevel="DEBUG", concurrency=4),
        ]
        try:
            api_url = f"http://127.0.0.1:{api_port}"
            wait_until_healthy(api_url, processes, tmp_path)
            with httpx.Client(base_url=api_url, timeout=30) as client:
                users = []
                for password in made_up.passwords:
                    response = client.post("/users", json=user_fields(password=password))
                    assert response.status_code == 201, response.text
                    users.append(response.json())
                placed = place_orders(client, made_up, users)
                jobs = wait_for_jobs(client, placed)
        finally:
            stop(processes)
            recorder.stop()
        mails = b"\n".join(mail.message.as_bytes() for mail in smtp.messages)

    haystacks = {
        "API log": (tmp_path / "api.log").read_bytes(),
        "worker log": (tmp_path / "worker.log").read_bytes(),
        "database": database_text(database_url),
        "Redis commands": recorder.text(),
        "mail": mails,
    }
    order_id = placed[-1][0]["order_id"].encode()

    assert [job["state"] for job in jobs] == ["failed"] * USERS + ["succeeded"]
    assert users[0]["email"].encode() in haystacks["database"]
    assert order_id in haystacks["Redis commands"]
    assert order_id in haystacks["worker log"]
    assert order_id in haystacks["mail"]
    assert b"POST /orders" in haystacks["API log"]
    assert made_up.patterns()[f"CVC {made_up.cvcs[0]}"].search(f'"cvc": "{made_up.cvcs[0]}"'.encode())
    leaks = [
        f"{label} in {where}"
        for label, pattern in made_up.patterns().items()
        for where, haystack in haystacks.items()
        if pattern.search(haystack)
    ]
    assert leaks == []
