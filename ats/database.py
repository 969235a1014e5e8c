"""Database engine behaviour and the write-transaction helper.

SQLite: WAL (readers never block the writer), ``synchronous=FULL`` (a committed
row survives a power cut), foreign keys, and a busy timeout. pysqlite's own
transaction handling is switched off so that we emit ``BEGIN`` ourselves
(SQLAlchemy's documented recipe): write transactions start with
``BEGIN IMMEDIATE``, because a deferred transaction that later upgrades from
read to write fails at once with "database is locked" instead of waiting.
Reads keep a plain deferred ``BEGIN`` so they never take the write lock.
Writers queue for that lock on locks of ours first (``_WriterQueue``), which
wake a waiter at once where SQLite's busy wait sleeps up to 100 ms between
tries: a few writers no longer wait seconds while others go ahead.

PostgreSQL: the same contract. A write transaction first takes one
transaction-scoped advisory lock, so writes are serialised as on SQLite and every
check made inside one (the next kanban position, a rate limit's count, a unique
e-mail) sees the data it writes against; READ COMMITTED alone would let two
writers both pass such a check. Reads take no lock and run in parallel; the
background workers' claims skip rows another worker holds (``SKIP LOCKED``).
"""

from __future__ import annotations

import contextvars
import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

from .extensions import db

_write_intent: contextvars.ContextVar[bool] = contextvars.ContextVar("write", default=False)


# pg_advisory_xact_lock key of the one write lock ("ATS" in ASCII)
WRITE_LOCK = 0x415453


def configure_engine(engine: Engine, busy_timeout_ms: int) -> None:
    if engine.dialect.name == "postgresql":

        @event.listens_for(engine, "begin")
        def _on_pg_begin(conn) -> None:  # type: ignore[no-untyped-def]
            if _write_intent.get():
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({WRITE_LOCK})")

        return
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_connection.isolation_level = None
        cur = dbapi_connection.cursor()
        cur.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA synchronous = FULL")
        cur.execute("PRAGMA foreign_keys = ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:  # type: ignore[no-untyped-def]
        conn.exec_driver_sql("BEGIN IMMEDIATE" if _write_intent.get() else "BEGIN")


@contextmanager
def writing() -> Iterator[None]:
    """Run the block in one write transaction, committed at the end or rolled back.

    Any read transaction still open in the session is ended first, so the write
    transaction begins fresh (``BEGIN IMMEDIATE`` on SQLite) and every check
    made inside it sees the same data the write is based on.
    """
    if _write_intent.get():  # already inside a write transaction: join it
        yield
        return
    session = db.session()  # the request's Session, not the scoped proxy
    conn = None
    if session.in_transaction():
        conn = session.connection()
        if conn.dialect.name == "sqlite" and not session.in_nested_transaction():
            # What session.commit() would do, on the connection the session
            # holds: an API write first reads its token in a read transaction,
            # and handing the connection back to the pool only to take it out
            # again costs more than the rest of that read.
            session.flush()
            conn.exec_driver_sql("COMMIT")
        else:
            session.commit()
            conn = None
    queue = _writer_queue(session.get_bind())
    queued = queue is not None and queue.acquire(timeout=_QUEUE_TIMEOUT)
    token = _write_intent.set(True)
    try:
        if conn is not None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            session.connection()  # begin now, while the intent is set
        yield
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        _write_intent.reset(token)
        if queued:
            queue.release()  # type: ignore[union-attr]


# SQLite writers queue for the write lock here before they ask SQLite for it:
# the threads of a process on a lock of their own, then the processes on an
# flock() of "<database>.writers". SQLite's own busy wait retries with sleeps
# growing to 100 ms, so under load some writers lose again and again; here a
# waiting thread wakes at once and a waiting process within 2 ms. Measured on
# this repository's 2-core machine (bench/stress.py, 3 gunicorn workers, 4
# client processes, 20 s): write p99 75-90 ms and max 140-190 ms with the
# queue, 290-400 ms and 1.1-1.4 s without, at the same or more writes per
# second. The wait is bounded (_QUEUE_TIMEOUT); after it, and for anything
# that writes without the queue (the sqlite3 shell, a restore), SQLite's busy
# timeout applies as before. The lock file holds no data; without permission
# to open it the queue is the threads' alone.
_QUEUE_TIMEOUT = 30.0
_QUEUE_MAX_PAUSE = 0.002


class _WriterQueue:
    def __init__(self, database: str) -> None:
        self.threads = threading.Lock()
        self.path = f"{database}.writers"
        self.fd: int | None = None
        self.pid = 0

    def _file(self) -> int | None:
        if self.fd is None or self.pid != os.getpid():
            try:
                self.fd = os.open(self.path, os.O_RDONLY | os.O_CREAT, 0o644)
            except OSError:
                return None
            self.pid = os.getpid()
        return self.fd

    def acquire(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        if not self.threads.acquire(timeout=timeout):
            return False
        fd = self._file()
        pause = 0.0001
        while fd is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    self.threads.release()
                    return False
                time.sleep(pause)
                pause = min(pause * 2, _QUEUE_MAX_PAUSE)
        return True

    def release(self) -> None:
        if self.fd is not None and self.pid == os.getpid():
            fcntl.flock(self.fd, fcntl.LOCK_UN)
        self.threads.release()


_QUEUES: dict[str, _WriterQueue] = {}
_QUEUES_LOCK = threading.Lock()


def _forget_queues() -> None:  # a forked child starts with none held
    global _QUEUES_LOCK
    _QUEUES.clear()
    _QUEUES_LOCK = threading.Lock()


os.register_at_fork(after_in_child=_forget_queues)


def _writer_queue(bind: Any) -> _WriterQueue | None:
    if bind.dialect.name != "sqlite" or not bind.url.database or bind.url.database == ":memory:":
        return None
    key = bind.url.database
    queue = _QUEUES.get(key)
    if queue is None:
        with _QUEUES_LOCK:
            queue = _QUEUES.setdefault(key, _WriterQueue(key))
    return queue
