"""The background task queue (ats/services/tasks.py) and the worker command.

Pins: a task runs once; a dedupe key keeps one waiting task; a failure is
retried later with backoff and gives up after MAX_ATTEMPTS; a claim whose
lease ran out (a dead worker) is taken over; a worker that lost its lease
cannot finish another's claim; two worker processes on one database run every
task exactly once; a worker killed (SIGKILL) in the middle of a task loses
nothing: the task is finished by the next worker once the lease runs out.
Each runs on SQLite and, with ``--db=postgres``, on PostgreSQL."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from ats.extensions import db
from ats.models import Task, utcnow
from ats.services import tasks

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def ran(monkeypatch):
    seen: list[dict] = []
    monkeypatch.setitem(tasks.HANDLERS, "test_record", lambda payload: seen.append(payload))

    def boom(payload: dict) -> None:
        raise RuntimeError(f"no luck {payload['n']}")

    monkeypatch.setitem(tasks.HANDLERS, "test_boom", boom)
    return seen


def test_a_task_runs_once(app, ran):
    with app.app_context():
        tasks.enqueue("test_record", {"n": 1})
        tasks.enqueue("test_record", {"n": 2}, dedupe_key="k")
        tasks.enqueue("test_record", {"n": 3}, dedupe_key="k")  # still waiting: no-op
        assert tasks.run_pending("w1") == 2
        assert tasks.run_pending("w1") == 0
        assert ran == [{"n": 1}, {"n": 2}]
        statuses = db.session.scalars(select(Task.status)).all()
        assert statuses == ["done", "done"]
        tasks.enqueue("test_record", {"n": 4}, dedupe_key="k")  # the first is done: queued
        assert tasks.run_pending("w1") == 1 and ran[-1] == {"n": 4}


def test_later_tasks_wait(app, ran):
    with app.app_context():
        tasks.enqueue("test_record", {"n": 1}, run_after=utcnow() + timedelta(hours=1))
        assert tasks.run_pending("w1") == 0 and ran == []


def test_failures_are_retried_with_backoff_then_given_up(app, ran):
    with app.app_context():
        tasks.enqueue("test_boom", {"n": 7})
        assert tasks.run_pending("w1") == 1
        task = db.session.scalar(select(Task))
        assert task.status == "queued" and task.attempts == 1
        assert task.last_error == "RuntimeError: no luck 7"
        assert task.run_after > utcnow() + timedelta(seconds=25)  # not at once
        for attempt in range(2, tasks.MAX_ATTEMPTS + 1):
            task.run_after = utcnow()
            db.session.commit()
            assert tasks.run_pending("w1") == 1
            db.session.refresh(task)
            assert task.attempts == attempt
        assert task.status == "failed" and task.finished_at is not None
        task.run_after = utcnow()
        db.session.commit()
        assert tasks.run_pending("w1") == 0  # failed for good: left for a person


def test_unknown_kind_fails_without_stopping_the_worker(app, ran):
    with app.app_context():
        tasks.enqueue("no_such_kind")
        tasks.enqueue("test_record", {"n": 1})
        assert tasks.run_pending("w1") == 2
        errors = db.session.scalars(select(Task.last_error).order_by(Task.id)).all()
        assert errors[0] == "no handler for task kind 'no_such_kind'" and errors[1] is None
        assert ran == [{"n": 1}]


def test_an_expired_lease_is_taken_over_and_the_loser_cannot_finish(app, ran):
    with app.app_context():
        tasks.enqueue("test_record", {"n": 1})
        claimed = tasks._claim("dead-worker")
        assert claimed is not None
        assert tasks.run_pending("w2") == 0  # leased to the dead worker
        task = db.session.scalar(select(Task))
        task.locked_until = utcnow() - timedelta(seconds=1)
        db.session.commit()
        assert tasks.run_pending("w2") == 1 and ran == [{"n": 1}]
        tasks._finish(claimed[0], "dead-worker", "too late")  # wakes up: ignored
        db.session.refresh(task)
        assert (task.status, task.attempts, task.last_error) == ("done", 2, None)


def test_periodic_hooks_run_each_tick(app, ran, monkeypatch):
    calls: list[str] = []
    monkeypatch.setattr(tasks, "PERIODIC", [calls.append, lambda _w: 1 / 0, calls.append])
    with app.app_context():
        tasks.enqueue("test_record", {"n": 1})
        assert tasks.tick("w9") == 1
    assert calls == ["w9", "w9"]  # the failing hook did not stop the next one


def test_two_worker_processes_run_each_task_once(app, tmp_path):
    """Two real processes drain one queue; every task ran exactly once."""
    with app.app_context():
        for n in range(60):
            tasks.enqueue("count_me", {"n": n})
        db_url = str(db.engine.url)
    script = f"""
import sys, time
from ats import create_app
from ats.services import tasks
app = create_app({{"SQLALCHEMY_DATABASE_URI": {db_url!r}, "SECRET_KEY": "t"}})
def count(payload):
    with open({str(tmp_path / "log")!r}, "a") as fh:
        fh.write(f"{{payload['n']}} {{sys.argv[1]}}\\n")
    time.sleep(0.01)
tasks.HANDLERS["count_me"] = count
with app.app_context():
    tasks.run_pending(sys.argv[1])
"""
    procs = [subprocess.Popen([sys.executable, "-c", script, f"p{i}"], cwd=ROOT) for i in range(2)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    lines = (tmp_path / "log").read_text().splitlines()
    numbers = sorted(int(line.split()[0]) for line in lines)
    assert numbers == list(range(60))  # each once
    assert {line.split()[1] for line in lines} == {"p0", "p1"}  # both worked
    with app.app_context():
        done = db.session.scalar(select(func.count()).where(Task.status == "done"))
        assert done == 60


KILLABLE = """
import sys, time
from ats import create_app
from ats.services import tasks
app = create_app({{"SQLALCHEMY_DATABASE_URI": {db_url!r}, "SECRET_KEY": "t"}})
def count(payload):
    with open({log!r}, "a") as fh:
        fh.write(f"start {{payload['n']}} {{sys.argv[1]}}\\n")
    if payload["n"] == 3 and sys.argv[1] == "doomed":
        time.sleep(600)  # killed here
    with open({log!r}, "a") as fh:
        fh.write(f"done {{payload['n']}} {{sys.argv[1]}}\\n")
tasks.HANDLERS["count_me"] = count
with app.app_context():
    tasks.run_pending(sys.argv[1])
"""


def test_a_worker_killed_mid_task_loses_nothing(app, tmp_path):
    with app.app_context():
        for n in range(6):
            tasks.enqueue("count_me", {"n": n})
        db_url = db.engine.url.render_as_string(hide_password=False)
    log = tmp_path / "log"
    script = KILLABLE.format(db_url=db_url, log=str(log))
    doomed = subprocess.Popen([sys.executable, "-c", script, "doomed"], cwd=ROOT)
    deadline = time.monotonic() + 60
    while "start 3 doomed" not in (log.read_text() if log.exists() else ""):
        assert doomed.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    doomed.send_signal(signal.SIGKILL)
    doomed.wait(10)
    with app.app_context():
        stuck = db.session.scalars(select(Task).where(Task.status != "done")).all()
        assert {t.payload["n"] for t in stuck} == {3, 4, 5}  # 3 still leased to the dead one
        # five minutes later: the dead worker's lease has run out
        for task in stuck:
            task.locked_until = utcnow() - timedelta(seconds=1) if task.locked_until else None
        db.session.commit()
    rescuer = subprocess.run([sys.executable, "-c", script, "rescuer"], cwd=ROOT, timeout=120)
    assert rescuer.returncode == 0
    lines = log.read_text().splitlines()
    done = sorted(int(line.split()[1]) for line in lines if line.startswith("done"))
    assert done == list(range(6))  # every task finished exactly once
    assert "start 3 rescuer" in lines and "done 3 rescuer" in lines
    with app.app_context():
        db.session.rollback()
        statuses = db.session.scalars(select(Task.status)).all()
        assert statuses == ["done"] * 6


def test_worker_command_once(runner, app, monkeypatch, ran):
    with app.app_context():
        tasks.enqueue("test_record", {"n": 5})
    result = runner.invoke(args=["worker", "--once"])
    assert result.exit_code == 0, result.output
    assert ran == [{"n": 5}]
    assert "started" in result.output and "stopped" in result.output
