"""Writes under load, for a minute or more: the long version of
tests/test_concurrent_writes.py.

Starts gunicorn as `make run` does (ats/gunicorn_conf.py, ``--workers``
processes) on a fresh database, then ``--clients`` client processes that
create candidates, applications and notes and move applications through the
stages, each on one keep-alive connection, for ``--seconds``. With
``--backup``, ``flask --app app backup`` runs in the middle of the load, and the
table shows how long it took and the slowest write while it ran. Afterwards
every acknowledged (2xx) write is looked up in the database. Prints one row
per database:

    .venv/bin/python bench/stress.py [--db sqlite,postgres] [--seconds 60]
        [--clients 4] [--workers 3] [--backup] [--postgres URL]

``--postgres`` names a server (any database on it): a new database is made
for the run and dropped afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, make_url, text  # noqa: E402

from bench.server import Gunicorn, machine  # noqa: E402
from tests.live import flask  # noqa: E402
from tests.load import (  # noqa: E402
    Client,
    admin_token,
    check,
    entries,
    percentile,
    run_writers,
)

PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5440/postgres"


def _fresh_postgres(server: str) -> tuple[str, str]:
    name = f"ats_stress_{os.getpid()}_{int(time.time())}"
    admin = create_engine(make_url(server).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(server).set(database=name).render_as_string(hide_password=False), name


def _drop_postgres(server: str, name: str) -> None:
    admin = create_engine(make_url(server).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def run(kind: str, args: argparse.Namespace) -> dict[str, object]:
    work = Path(tempfile.mkdtemp(prefix=f"ats-stress-{kind}-"))
    pg_name = None
    if kind == "sqlite":
        url = f"sqlite:///{work / 'ats.sqlite3'}"
    else:
        url, pg_name = _fresh_postgres(args.postgres)
    server = Gunicorn(url, args.workers).start()
    row: dict[str, object] = {"database": kind}
    try:
        token = admin_token(server.env)
        client = Client(server.base, token)
        jobs = []
        for i in range(3):
            status, body, raw = client.request("POST", "/data/job", {"title": f"Stress {i}"})
            assert status == 201, raw
            jobs.append(body["id"])
        client.close()
        load = work / "load"
        load.mkdir()
        started = time.monotonic()
        writers = run_writers(server.base, token, jobs, args.seconds, load, args.clients)
        if args.backup:
            time.sleep(args.seconds / 2)
            b0 = time.time()
            flask(server.env, "backup", str(work / "backup.tar"), timeout=None)
            b1 = time.time()
            with tarfile.open(work / "backup.tar") as tar:
                manifest = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
            row["backup s"] = f"{manifest['seconds']:.2f} ({b1 - b0:.1f} with start-up)"
            during = [
                e["ms"]
                for e in entries(load)
                if "ms" in e and e["t"] < b1 and e["t"] + e["ms"] / 1000 > b0
            ]
            row["slowest write during backup ms"] = f"{max(during, default=0):.0f}"
        for proc in writers:
            proc.join(args.seconds + 120)
        elapsed = time.monotonic() - started
        log = server.log_path.read_text()
    finally:
        server.stop()  # also removes its folder (the log was read above)
    outcome = check(load, url)
    locked = sum(1 for e in outcome.errors if "database is locked" in str(e.get("error")))
    row.update(
        {
            "attempted": outcome.attempted,
            "acknowledged": outcome.acknowledged,
            "found after": outcome.found,
            "errors": len(outcome.errors) + outcome.unreachable,
            "locked": locked + log.count("database is locked"),
            "p50 ms": f"{percentile(outcome.latencies_ms, 50):.1f}",
            "p99 ms": f"{percentile(outcome.latencies_ms, 99):.1f}",
            "max ms": f"{max(outcome.latencies_ms, default=0):.0f}",
            "writes/s": f"{outcome.acknowledged / elapsed:.0f}",
        }
    )
    if kind == "sqlite":
        path = make_url(url).database
        with sqlite3.connect(path) as conn:
            row["integrity"] = conn.execute("PRAGMA integrity_check").fetchone()[0]
        row["db MiB"] = f"{Path(path).stat().st_size / 2**20:.1f}"
    else:
        _drop_postgres(args.postgres, pg_name)  # type: ignore[arg-type]
    if outcome.missing:
        row["missing"] = len(outcome.missing)
    shutil.rmtree(work, ignore_errors=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default="sqlite,postgres", help="sqlite, postgres or both")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--clients", type=int, default=4, help="client processes")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn worker processes")
    parser.add_argument("--backup", action="store_true", help="take a backup mid-way")
    parser.add_argument("--postgres", default=PG_SERVER, help="server URL (.../postgres)")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    print(
        f"{args.clients} client processes, gunicorn {args.workers} workers x "
        f"{os.environ.get('ATS_THREADS', '4')} threads, {args.seconds:g} s per database"
    )
    rows = [run(kind.strip(), args) for kind in args.db.split(",") if kind.strip()]
    columns = list(dict.fromkeys(k for row in rows for k in row))
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for row in rows:
        print("| " + " | ".join(str(row.get(c, "")) for c in columns) + " |")
    bad = any(row.get("missing") or row.get("errors") or row.get("locked") for row in rows)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
