"""A queue for SQLite's single writer, shared by every thread and process using one file.

SQLite lets one transaction write at a time. A second writer's BEGIN IMMEDIATE fails with
SQLITE_BUSY, and SQLite's default busy handler (sqliteDefaultBusyCallback in src/main.c)
retries it after sleeps that grow to 100 ms, whether or not the lock was freed meanwhile.
Under load, py-spy found API threads spending more time in those sleeps than in anything
else (docs/benchmarks.md).

The gate makes writers wait in a queue instead. A write transaction takes an exclusive
`flock` on a file beside the database before BEGIN IMMEDIATE, and releases it once it has
committed or rolled back. Threads of one process first queue on a lock of their own, so
the next writer of a process wakes as soon as the previous one is done, and only one of
them at a time polls the file. Polling is needed because `flock` cannot wait with a
timeout; its sleeps stay under FLOCK_POLL_MAX_S. A process that dies releases its `flock`
with its file descriptors.

Each process has one gate per database file (`gate_for`), and a forked child makes its own:
an inherited descriptor would share the parent's lock instead of competing for it.
"""

import fcntl
import functools
import logging
import os
import sqlite3
import threading
import time

log = logging.getLogger(__name__)

# Seconds; far longer than any write transaction. A writer that waits this long fails with
# WriteGateTimeout instead of hanging, as when a thread opens a write transaction inside its own
# or a process holding the gate is stopped.
GATE_TIMEOUT_S = 30.0
# Seconds between attempts on a lock file held by another process, doubling up to the maximum.
FLOCK_POLL_MIN_S = 0.0001
FLOCK_POLL_MAX_S = 0.001


class WriteGateTimeout(sqlite3.OperationalError):
    """The database stayed locked by other writers for longer than GATE_TIMEOUT_S."""


_gates: dict[str, "WriteGate | None"] = {}
_gates_lock = threading.Lock()


def gate_for(database_path: str) -> "WriteGate | None":
    """Return this process's gate for the SQLite file at `database_path`.

    Returns None when the lock file can be neither created nor opened (a read-only
    directory, say): writers then wait in SQLite's busy handler, as without a gate.
    """
    lock_path = _lock_path_for(database_path)
    if lock_path in _gates:
        # Runs on every write transaction, so a known gate is returned without the lock.
        return _gates[lock_path]

    with _gates_lock:
        if lock_path not in _gates:
            _gates[lock_path] = _open_gate(lock_path)
        return _gates[lock_path]


@functools.lru_cache(maxsize=64)
def _lock_path_for(database_path: str) -> str:
    # Cached because it runs for every write transaction and resolves each path component.
    return os.path.realpath(database_path) + ".write-lock"


def _open_gate(lock_path: str) -> "WriteGate | None":
    try:
        return WriteGate(lock_path)
    except OSError as error:
        log.warning("No write gate for %s, writers fall back to SQLite's busy handler: %s", lock_path, error)
        return None


def _forget_parent_gates() -> None:
    global _gates_lock
    # The parent's threads are gone in the child, so its locks may be held by no one. Closing
    # the inherited descriptors leaves the parent's flock as it was (it is not unlocked).
    _gates_lock = threading.Lock()
    for gate in _gates.values():
        if gate is not None:
            gate.close()
    _gates.clear()


os.register_at_fork(after_in_child=_forget_parent_gates)


class WriteGate:
    """One process's handle on the lock file beside a database."""

    def __init__(self, lock_path: str, timeout_s: float = GATE_TIMEOUT_S) -> None:
        self._fd = _open_lock_file(lock_path)
        # A plain lock, not an RLock: the turn belongs to a connection, which may end its
        # transaction on another thread than the one that began it.
        self._threads = threading.Lock()
        self._timeout_s = timeout_s

    def acquire(self) -> None:
        deadline = time.monotonic() + self._timeout_s
        if not self._threads.acquire(timeout=self._timeout_s):
            raise WriteGateTimeout(f"database is locked: no write turn within {self._timeout_s} s")

        try:
            self._lock_file(deadline)
        except BaseException:
            self._threads.release()
            raise

    def release(self) -> None:
        try:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._threads.release()

    def close(self) -> None:
        os.close(self._fd)
        self._fd = -1

    def _lock_file(self, deadline: float) -> None:
        pause = FLOCK_POLL_MIN_S
        while not self._try_lock_file():
            if time.monotonic() >= deadline:
                raise WriteGateTimeout(f"database is locked: another process kept the write turn for {self._timeout_s} s")
            time.sleep(pause)
            pause = min(pause * 2, FLOCK_POLL_MAX_S)

    def _try_lock_file(self) -> bool:
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True


def _open_lock_file(lock_path: str) -> int:
    # 0o666 so that the umask decides, as for the database file SQLite creates. A lock file
    # made by another user may not be writable, but flock works on a read-only descriptor.
    try:
        return os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o666)
    except PermissionError:
        return os.open(lock_path, os.O_RDONLY)


class GatedConnection(sqlite3.Connection):
    """A sqlite3 connection that gives up its write turn once its transaction has ended.

    `database_path` is set by the engine when the connection is made, and `begin_write`
    takes the turn and opens the transaction. The gate is looked up per transaction, so a
    connection that crossed a fork uses the child's gate, and read-only ones never need it.
    """

    database_path: str | None = None
    _turn: WriteGate | None = None

    def begin_write(self) -> None:
        gate = gate_for(self.database_path) if self.database_path is not None else None
        if gate is not None:
            gate.acquire()
            self._turn = gate
        try:
            # NOTE: a writer that bypasses the gate (the sqlite3 shell, say) makes this wait in
            # the busy handler while holding the gate, so every gated writer waits behind it.
            self.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._end_turn()
            raise

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self._end_turn()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self._end_turn()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._end_turn()

    def _end_turn(self) -> None:
        gate, self._turn = self._turn, None
        if gate is not None:
            gate.release()
