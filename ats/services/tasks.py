"""Background work: a queue in the database, run by ``flask --app app worker``.

Work that must not slow a request (a slow scoring provider, sending e-mail,
the daily retention run) is written down here in the transaction that causes
it, and a worker carries it out later. Claims are leases: a worker marks a
task as its own until ``locked_until``; a worker that dies leaves a lease that
runs out, and another worker takes the task over. Nothing is dropped, and two
workers never hold the same task at once (the claim is one short write
transaction: ``BEGIN IMMEDIATE`` on SQLite, ``FOR UPDATE SKIP LOCKED`` on
PostgreSQL).

Other services plug in with two decorators:

- ``@handler("kind")`` runs one task's payload (outside any transaction; it
  opens its own). Raise to fail: the task is retried with backoff, up to
  ``MAX_ATTEMPTS`` tries, then left ``failed`` with its error.
- ``@periodic`` runs on every worker tick (cheap, safe to run in two workers
  at once), e.g. to deliver due e-mail or to enqueue the daily retention run.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select

from ..database import writing
from ..extensions import db
from ..models import Task, utcnow

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)
MAX_ATTEMPTS = 5
HANDLERS: dict[str, Callable[[dict[str, Any]], None]] = {}
PERIODIC: list[Callable[[str], None]] = []


def handler(kind: str) -> Callable[[Callable[[dict[str, Any]], None]], Any]:
    def register(fn: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
        HANDLERS[kind] = fn
        return fn

    return register


def periodic(fn: Callable[[str], None]) -> Callable[[str], None]:
    """Register ``fn(worker_id)`` to run on every worker tick."""
    PERIODIC.append(fn)
    return fn


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def enqueue(
    kind: str,
    payload: dict[str, Any] | None = None,
    dedupe_key: str | None = None,
    run_after: datetime | None = None,
) -> None:
    """Queue a task in the current write transaction (or a new one).

    With a ``dedupe_key``, a task with the same key still waiting makes this a
    no-op: asking twice to rescore an application scores it once.
    """
    with writing():
        if dedupe_key is not None:
            waiting = db.session.scalar(
                select(Task.id).where(Task.dedupe_key == dedupe_key, Task.status == "queued")
            )
            if waiting is not None:
                return
        db.session.add(
            Task(
                kind=kind,
                payload=payload or {},
                dedupe_key=dedupe_key,
                run_after=run_after or utcnow(),
            )
        )


def claim(
    model: Any, worker_id: str, waiting: str, working: str, due: Any, lease: timedelta = LEASE
) -> Any:
    """The next due row of a leased queue (tasks, the e-mail outbox), now ``worker_id``'s.

    Call inside ``writing()``. Due: ``waiting`` with ``due <= now``, or ``working``
    with a lease that ran out (its worker died). The row gets the lease and one
    more attempt.
    """
    now = utcnow()
    query = (
        select(model)
        .where(
            or_(
                (model.status == waiting) & (due <= now),
                (model.status == working) & (model.locked_until < now),
            )
        )
        .order_by(due, model.id)
        .limit(1)
    )
    if db.session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    row = db.session.scalar(query)
    if row is not None:
        row.status = working
        row.locked_by = worker_id
        row.locked_until = now + lease
        row.attempts += 1
    return row


def _claim(worker_id: str) -> tuple[int, str, dict[str, Any]] | None:
    with writing():
        task = claim(Task, worker_id, "queued", "running", Task.run_after)
        if task is None:
            return None
        return task.id, task.kind, dict(task.payload or {})


def _finish(task_id: int, worker_id: str, error: str | None) -> None:
    with writing():
        task = db.session.get(Task, task_id)
        if task is None or task.locked_by != worker_id:
            return  # our lease ran out and another worker has it now
        task.locked_by = task.locked_until = None
        if error is None:
            task.status = "done"
            task.finished_at = utcnow()
            task.last_error = None
        elif task.attempts >= MAX_ATTEMPTS:
            task.status = "failed"
            task.finished_at = utcnow()
            task.last_error = error
        else:
            task.status = "queued"
            task.run_after = utcnow() + timedelta(seconds=30 * 2 ** (task.attempts - 1))
            task.last_error = error


def run_one(worker_id: str) -> bool:
    """Claim and run one due task; whether there was one."""
    claimed = _claim(worker_id)
    if claimed is None:
        return False
    task_id, kind, payload = claimed
    fn = HANDLERS.get(kind)
    error = None
    if fn is None:
        error = f"no handler for task kind {kind!r}"
    else:
        try:
            fn(payload)
        except Exception as exc:  # noqa: BLE001 - a failed task must not stop the worker
            db.session.rollback()
            log.exception("task %s (%s) failed", task_id, kind)
            error = f"{type(exc).__name__}: {exc}"[:2000]
    _finish(task_id, worker_id, error)
    return True


def run_pending(worker_id: str | None = None, limit: int | None = None) -> int:
    """Run due tasks until none is left (or ``limit``); how many ran."""
    worker_id = worker_id or worker_name()
    count = 0
    while (limit is None or count < limit) and run_one(worker_id):
        count += 1
    return count


def tick(worker_id: str | None = None) -> int:
    """One round of the worker: the periodic hooks, then every due task."""
    worker_id = worker_id or worker_name()
    for fn in PERIODIC:
        try:
            fn(worker_id)
        except Exception:  # noqa: BLE001 - one hook's failure must not stop the others
            db.session.rollback()
            log.exception("periodic %s failed", getattr(fn, "__name__", fn))
    return run_pending(worker_id)
