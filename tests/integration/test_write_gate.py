"""SQLite writers queue at the write gate: none fails, none is lost, none waits for ever."""

import multiprocessing
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from domain.database import create_db_engine
from domain.write_gate import WriteGate, WriteGateTimeout, gate_for

WRITERS = 16
INCREMENTS = 25


@pytest.fixture
def counter_url(tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'counter.db'}"
    engine = create_db_engine(url)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE counter (value INTEGER NOT NULL)"))
        connection.execute(text("INSERT INTO counter VALUES (0)"))
    engine.dispose()
    return url


def increment(engine: Engine, times: int, hold_s: float = 0.0) -> None:
    """Read the counter and write it back plus one, the race a lost update would show."""
    for _ in range(times):
        with engine.begin() as connection:
            value = connection.execute(text("SELECT value FROM counter")).scalar_one()
            time.sleep(hold_s)
            connection.execute(text("UPDATE counter SET value = :value"), {"value": value + 1})


def increment_in_child(url: str, times: int) -> None:
    engine = create_db_engine(url)
    increment(engine, times)
    engine.dispose()


def counter_value(url: str) -> int:
    engine = create_db_engine(url)
    with engine.connect() as connection:
        value = connection.execute(text("SELECT value FROM counter")).scalar_one()
    engine.dispose()
    return value


def test_gate_threads_and_processes_lose_no_update(counter_url):
    engine = create_db_engine(counter_url)
    fork = multiprocessing.get_context("fork")
    children = [fork.Process(target=increment_in_child, args=(counter_url, INCREMENTS)) for _ in range(2)]

    for child in children:
        child.start()
    with ThreadPoolExecutor(WRITERS) as pool:
        for future in [pool.submit(increment, engine, INCREMENTS) for _ in range(WRITERS)]:
            future.result()
    for child in children:
        child.join(timeout=60)

    assert [child.exitcode for child in children] == [0, 0]
    assert counter_value(counter_url) == (WRITERS + 2) * INCREMENTS
    engine.dispose()


def test_gate_freed_by_rollback(counter_url):
    engine = create_db_engine(counter_url)

    with pytest.raises(RuntimeError), engine.begin() as connection:
        connection.execute(text("UPDATE counter SET value = 99"))
        raise RuntimeError("step failed")
    done = threading.Event()
    writer = threading.Thread(target=lambda: (increment(engine, 1), done.set()))
    writer.start()

    assert done.wait(timeout=5)
    assert counter_value(counter_url) == 1
    engine.dispose()


def take_turn_in_child(database_path: str, turns) -> None:
    gate = gate_for(database_path)
    gate.acquire()
    turns.put(time.monotonic())
    gate.release()


def test_gate_forked_child_waits_for_parent(tmp_path: Path):
    # The child inherits the parent's gate, held; it must make its own and wait its turn.
    database_path = str(tmp_path / "orderflow.db")
    fork = multiprocessing.get_context("fork")
    turns = fork.Queue()
    gate = gate_for(database_path)
    gate.acquire()

    child = fork.Process(target=take_turn_in_child, args=(database_path, turns))
    child.start()
    time.sleep(0.5)
    released_at = time.monotonic()
    gate.release()
    child_turn_at = turns.get(timeout=10)
    child.join(timeout=10)

    assert child.exitcode == 0
    assert child_turn_at >= released_at


def hold_turn_in_child(database_path: str, hold_s: float, turns) -> None:
    gate = gate_for(database_path)
    gate.acquire()
    turns.put(time.monotonic())
    time.sleep(hold_s)
    gate.release()


def test_gate_wait_on_other_process_times_out(tmp_path: Path):
    database_path = str(tmp_path / "orderflow.db")
    fork = multiprocessing.get_context("fork")
    turns = fork.Queue()
    child = fork.Process(target=hold_turn_in_child, args=(database_path, 3.0, turns))
    child.start()
    turns.get(timeout=10)
    gate = WriteGate(database_path + ".write-lock", timeout_s=0.3)

    started = time.monotonic()
    with pytest.raises(WriteGateTimeout):
        gate.acquire()

    assert time.monotonic() - started < 2
    child.join(timeout=10)
    assert child.exitcode == 0
    gate.acquire()
    gate.release()
    gate.close()


def test_gate_wait_in_process_times_out(tmp_path: Path):
    gate = WriteGate(str(tmp_path / "db.write-lock"), timeout_s=0.2)
    gate.acquire()

    started = time.monotonic()
    with pytest.raises(WriteGateTimeout):
        gate.acquire()

    assert time.monotonic() - started < 5
    gate.release()
    gate.close()
