"""A queue for SQLite's single writer, shared by every thread and process using one file.

SQLite lets one transaction write at a time. A second writer's BEGIN IMMEDIATE fails with
SQLITE_BUSY, and SQLite's default busy handler (sqliteDefaultBusyCallback in src/main.c)
retries it after sleeps that grow to 100 ms, whether or not the lock was freed meanwhile.
Under load, py-spy found API threads spending more time in those sleeps than in anything
else (docs/benchmarks.md).

The gate makes writers wait in the kernel instead. A write transaction takes an exclusive
`flock` on a file beside the database before BEGIN IMMEDIATE, and releases it once it has
committed or rolled back, so the next writer wakes as soon as the lock is free. Threads of
one process first queue on a lock of their own, so only one of them at a time waits on
the file. A process that dies releases its `flock` with its file descriptors.

Each process has one gate per database file (`gate_for`), and a forked child makes its own:
an inherited descriptor would share the parent's lock instead of competing for it.
"""

import fcntl
import os
import sqlite3
import threading

# Seconds; far longer than any write transaction. A writer that waits this long fails with
# WriteGateTimeout instead of hanging, as when a thread opens a write transaction inside its own.
GATE_TIMEOUT_S = 30.0


class WriteGateTimeout(sqlite3.OperationalError):
    """The database stayed locked by other writers for longer than GATE_TIMEOUT_S."""


_gates: dict[str, "WriteGate"] = {}
_gates_lock = threading.Lock()


def gate_for(database_path: str) -> "WriteGate":
    """Return this process's gate for the SQLite file at `database_path`."""
    lock_path = os.path.realpath(database_path) + ".write-lock"
    with _gates_lock:
        if lock_path not in _gates:
            _gates[lock_path] = WriteGate(lock_path)
        return _gates[lock_path]


def _forget_parent_gates() -> None:
    global _gates_lock
    # The parent's threads are gone in the child, so its locks may be held by no one. Closing
    # the inherited descriptors leaves the parent's flock as it was (it is not unlocked).
    _gates_lock = threading.Lock()
    for gate in _gates.values():
        gate.close()
    _gates.clear()


os.register_at_fork(after_in_child=_forget_parent_gates)


class WriteGate:
    """One process's handle on the lock file beside a database."""

    def __init__(self, lock_path: str, timeout_s: float = GATE_TIMEOUT_S) -> None:
        self._fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        # A plain lock, not an RLock: the turn belongs to a connection, which may end its
        # transaction on another thread than the one that began it.
        self._threads = threading.Lock()
        self._timeout_s = timeout_s

    def acquire(self) -> None:
        if not self._threads.acquire(timeout=self._timeout_s):
            raise WriteGateTimeout(f"database is locked: no write turn within {self._timeout_s} s")

        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        except BaseException:
            self._threads.release()
            raise

    def release(self) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._threads.release()

    def close(self) -> None:
        os.close(self._fd)


class GatedConnection(sqlite3.Connection):
    """A sqlite3 connection that gives up its write turn once its transaction has ended.

    `write_gate` is set by the engine when the connection is made; `begin_write` takes the
    turn and opens the transaction.
    """

    write_gate: WriteGate | None = None
    _has_turn = False

    def begin_write(self) -> None:
        if self.write_gate is not None:
            self.write_gate.acquire()
            self._has_turn = True
        try:
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
        if self._has_turn:
            self._has_turn = False
            self.write_gate.release()
