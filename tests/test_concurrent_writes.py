"""Writes under load: gunicorn with three worker processes on one database, four
client processes creating candidates, applications and notes and moving
applications through the stages for a few seconds, all at once.

Pins: no request fails (no 5xx, no "database is locked", in the answers or in
the server's log), and afterwards every acknowledged (2xx) write is in the
database with the value written; on SQLite the file passes
``PRAGMA integrity_check``. Both databases (``--db``). The long version of
this run is ``bench/stress.py``."""

from __future__ import annotations

import signal
import sqlite3
from pathlib import Path

from sqlalchemy import make_url

from tests.live import LiveServer
from tests.load import admin_token, check, run_writers

SECONDS = 2.5
CLIENTS = 4


def test_every_acknowledged_write_lands(tmp_path: Path, databases) -> None:
    live = LiveServer(tmp_path, workers=3).start()
    try:
        token = admin_token(live.env)
        jobs = [live.api(token, "POST", "/data/job", {"title": f"Load {i}"})["id"] for i in (1, 2)]
        writers = run_writers(live.base, token, jobs, SECONDS, tmp_path, CLIENTS)
        for proc in writers:
            proc.join(SECONDS + 60)
        assert [proc.exitcode for proc in writers] == [0] * CLIENTS
    finally:
        if live.proc is not None and live.proc.poll() is None:
            live.proc.send_signal(signal.SIGINT)  # gunicorn's quick shutdown: the load is over
        log = live.stop()
    url = live.env["ATS_DATABASE_URL"]
    outcome = check(tmp_path, url)
    assert outcome.errors == [], outcome.errors[:5]
    assert outcome.unreachable == 0
    assert outcome.missing == [], outcome.missing[:5]
    assert outcome.found == outcome.acknowledged == outcome.attempted
    assert outcome.acknowledged > 50 * CLIENTS  # the load was real
    assert "database is locked" not in log
    assert "Traceback" not in log
    assert '" 500 ' not in log  # gunicorn's access log: no server error
    if url.startswith("sqlite"):
        with sqlite3.connect(make_url(url).database) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
