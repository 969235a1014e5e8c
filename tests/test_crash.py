"""Crash safety: processes killed with SIGKILL in the middle of their work.

Pins, on SQLite and (``--db=postgres``) PostgreSQL:

- A bulk import over several connections into a live gunicorn, whose master
  and workers are all killed at once mid-way: afterwards the SQLite file
  passes ``PRAGMA integrity_check``, every write acknowledged before the kill
  is in the database, and the server starts again on the same database
  without manual repair, serving that data and taking new writes.
- E-mail delivery (the outbox) by ``flask --app app worker`` to a real SMTP
  server, the worker killed mid-delivery: no message is lost (the next worker
  sends the rest once the dead worker's lease runs out). Killed before the
  server has the message, every message arrives exactly once. Killed after the
  server stored a message but before its "250 OK" reached the worker (the
  window SMTP cannot close), that one message arrives twice, both copies with
  the same ``Message-ID``: delivery is at-least-once across crashes, and the
  duplicate is recognisable; no other message is sent twice.
"""

from __future__ import annotations

import asyncio
import collections
import os
import signal
import sqlite3
import subprocess
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, make_url, select, update

from ats.extensions import db
from ats.models import OutboxMessage, utcnow
from ats.services import mail
from tests import smtp
from tests.live import BIN, ROOT, LiveServer
from tests.load import Client, admin_token, check, entries, run_writers

# --- a server killed in the middle of a bulk import -----------------------------


def _kill_all(proc: subprocess.Popen) -> None:
    """SIGKILL gunicorn's master and its workers at the same moment (stopped first,
    so none of them notices the others dying and exits cleanly)."""
    children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
    pids = [proc.pid, *map(int, children)]
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    proc.wait(10)


def test_server_killed_mid_import_loses_no_acknowledged_write(tmp_path: Path, databases) -> None:
    live = LiveServer(tmp_path, workers=3).start()
    url = live.env["ATS_DATABASE_URL"]
    try:
        token = admin_token(live.env)
        jobs = [
            live.api(token, "POST", "/data/job", {"title": f"Import {i}"})["id"] for i in (1, 2)
        ]
        writers = run_writers(live.base, token, jobs, 30, tmp_path, 3)
        deadline = time.monotonic() + 30
        while sum(1 for e in entries(tmp_path) if e.get("status") in (200, 201)) < 150:
            assert time.monotonic() < deadline, "the import did not get going"
            time.sleep(0.05)
        _kill_all(live.proc)  # mid-import: the writers are still sending
        for proc in writers:
            proc.join(30)
        assert [proc.exitcode for proc in writers] == [0, 0, 0]
    finally:
        if live.proc.poll() is None:
            _kill_all(live.proc)
    if url.startswith("sqlite"):
        path = make_url(url).database
        assert Path(f"{path}-wal").exists()  # killed with a WAL for the restart to recover

    live.start()  # as systemd would: db upgrade, gunicorn; no repair step
    try:
        client = Client(live.base, token)
        status, page, _ = client.request("GET", "/data/candidate?limit=1")
        created = sum(1 for e in entries(tmp_path) if e.get("model") == "candidate" and "id" in e)
        assert status == 200 and page["total"] >= created
        status, body, _ = client.request("POST", "/data/candidate", {"name": "After the crash"})
        assert status == 201, body
        status, body, _ = client.request("GET", f"/data/candidate/{body['id']}")
        assert status == 200 and body["data"]["name"] == "After the crash"
        client.close()
    finally:
        _kill_all(live.proc)  # a graceful stop takes seconds; the data is checked below
    log = live.log_path.read_text()
    assert "database is locked" not in log and "Traceback" not in log
    if url.startswith("sqlite"):
        with sqlite3.connect(path) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    outcome = check(tmp_path, url, unsure_last=True)
    assert outcome.unreachable >= 1  # the kill did cut requests off
    assert outcome.errors == [], outcome.errors[:5]  # answers before the kill were all 2xx
    assert outcome.missing == [], outcome.missing[:5]
    assert outcome.found == outcome.acknowledged >= 150


# --- a worker killed in the middle of e-mail delivery ------------------------------


class _Holding(smtp._Handler):
    """Stops answering at the n-th message: at RCPT (before the server has the
    message) or after DATA is stored (before the "250 OK" goes back)."""

    async def _hold(self) -> None:
        inbox = self.inbox
        inbox.holding.set()
        deadline = time.monotonic() + 30
        while not inbox.release.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: ANN001
        inbox = self.inbox
        if inbox.moment == "rcpt" and inbox.rcpts == inbox.hold_at:
            inbox.rcpts += 1
            await self._hold()
            return "451 too late"  # nobody is listening any more
        inbox.rcpts += 1
        return await super().handle_RCPT(server, session, envelope, address, rcpt_options)

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001
        result = await super().handle_DATA(server, session, envelope)
        inbox = self.inbox
        if inbox.moment == "data" and len(inbox.received) == inbox.hold_at + 1:
            await self._hold()
        return result


class HoldingInbox(smtp.Inbox):
    def __init__(self, moment: str, hold_at: int) -> None:
        super().__init__()
        self.moment, self.hold_at, self.rcpts = moment, hold_at, 0
        self.holding, self.release = threading.Event(), threading.Event()


@pytest.fixture
def holding_inbox(monkeypatch, request):
    monkeypatch.setattr(smtp, "_Handler", _Holding)
    inbox = HoldingInbox(request.param, hold_at=4).start()
    yield inbox
    inbox.release.set()
    inbox.stop()


@pytest.mark.parametrize("holding_inbox", ["rcpt", "data"], indirect=True)
def test_worker_killed_mid_delivery_loses_nothing(app, holding_inbox, tmp_path: Path) -> None:
    inbox = holding_inbox
    count = 10
    with app.app_context():
        ids = [
            mail.queue("test", f"to{i}@example.com", f"Hello {i}", f"Body {i}\n").id
            for i in range(count)
        ]
        db_url = db.engine.url.render_as_string(hide_password=False)
    env = {
        **os.environ,
        "ATS_DATABASE_URL": db_url,
        "ATS_SECRET_KEY": "test",
        "ATS_DATA_DIR": str(tmp_path / "data"),
        "ATS_SMTP_URL": inbox.url(),
        "ATS_MAIL_FROM": "jobs@acme.example",
    }
    worker = subprocess.Popen(
        [BIN / "flask", "--app", "app", "worker", "--interval", "0.2"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert inbox.holding.wait(60), "the worker never reached the held message"
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
    inbox.release.set()
    held_copy = 1 if inbox.moment == "data" else 0
    assert len(inbox.messages()) == inbox.hold_at + held_copy

    with app.app_context():
        statuses = collections.Counter(db.session.scalars(select(OutboxMessage.status)))
        assert statuses == {"sent": 4, "sending": 1, "queued": count - 5}
        held = db.session.scalar(select(OutboxMessage).where(OutboxMessage.status == "sending"))
        held_id = held.id
        # five minutes later the dead worker's lease has run out
        db.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.status == "sending")
            .values(locked_until=utcnow() - timedelta(seconds=1))
        )
        db.session.commit()
        app.config.update(SMTP_URL=inbox.url(), MAIL_FROM="jobs@acme.example")
        assert mail.deliver_due("rescuer") == count - 4  # the held one and the rest
        sent = db.session.scalar(select(func.count()).where(OutboxMessage.status == "sent"))
        assert sent == count
        db.session.expire_all()
        assert db.session.get(OutboxMessage, held_id).attempts == 2

    received = inbox.wait_for(count + held_copy)
    per_id = collections.Counter(m["Message-ID"] for m in received)
    expected = {f"<{i}@acme.example>": 1 for i in ids}
    if inbox.moment == "data":  # the crash hit the window: the held one twice, same id
        expected[f"<{held_id}@acme.example>"] = 2
        copies = [m for m in received if m["Message-ID"] == f"<{held_id}@acme.example>"]
        assert copies[0].get_content() == copies[1].get_content()
        assert copies[0]["Subject"] == copies[1]["Subject"]
    assert per_id == expected  # nothing lost; nothing else twice
