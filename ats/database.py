"""Database engine behaviour and the write-transaction helper.

SQLite: WAL (readers never block the writer), ``synchronous=FULL`` (a committed
row survives a power cut), foreign keys, and a busy timeout. pysqlite's own
transaction handling is switched off so that we emit ``BEGIN`` ourselves
(SQLAlchemy's documented recipe): write transactions start with
``BEGIN IMMEDIATE``, because a deferred transaction that later upgrades from
read to write fails at once with "database is locked" instead of waiting.
Reads keep a plain deferred ``BEGIN`` so they never take the write lock.

PostgreSQL: the same contract. A write transaction first takes one
transaction-scoped advisory lock, so writes are serialised as on SQLite and every
check made inside one (the next kanban position, a rate limit's count, a unique
e-mail) sees the data it writes against; READ COMMITTED alone would let two
writers both pass such a check. Reads take no lock and run in parallel; the
background workers' claims skip rows another worker holds (``SKIP LOCKED``).
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager

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
