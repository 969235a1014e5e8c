"""How the kanban holds up with 2,000 cards on one job.

Builds a temporary database through the services (not raw SQL), then times the
board page and a card move through the WSGI app, and prints a table.

    .venv/bin/python bench/kanban.py [--cards 2000] [--runs 20]
"""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
import time
from pathlib import Path

from flask_migrate import upgrade

from ats import create_app
from ats import fields as F
from ats.database import writing
from ats.extensions import db
from ats.services import auth, records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cards", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="ats-bench-"))
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp / 'b.db'}", "SECRET_KEY": "b"})
    with app.app_context():
        upgrade()
        user = auth.create_user("bench@example.com", "quiet-otter-harbour-7", "Bench", "admin")
        me = auth.actor_for_user(user)
        job = records.create(F.JOB, {"title": "Bench", "status": "open"}, me)
        job_id = job.id
        started = time.perf_counter()
        with writing():  # one transaction: the load, not fsync, is what we time here
            for i in range(args.cards):
                cand = records.create(F.CANDIDATE, {"name": f"Person {i}", "tags": ["bench"]}, me)
                records.create(
                    F.APPLICATION,
                    {"job_id": job_id, "candidate_id": cand.id, "stage": F.STAGES[i % 8]},
                    me,
                )
        load = time.perf_counter() - started
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    client.post(
        "/login",
        data={
            "email": "bench@example.com",
            "password": "quiet-otter-harbour-7",
            "csrf_token": token,
        },
    )
    csrf = re.search(r'"X-CSRFToken": "([^"]+)"', client.get("/").get_data(as_text=True)).group(1)

    board_times, size = [], 0
    for _ in range(args.runs):
        t = time.perf_counter()
        r = client.get(f"/jobs/{job_id}")
        board_times.append((time.perf_counter() - t) * 1000)
        size = len(r.data)
        assert r.status_code == 200
    html = r.get_data(as_text=True)
    cards = re.findall(r'data-id="(app_[^"]+)"', html)
    move_times = []
    for i in range(args.runs):
        t = time.perf_counter()
        r = client.post(
            f"/applications/{cards[i]}/move",
            data={"stage": "review", "csrf_token": csrf},
            headers={"HX-Request": "true"},
        )
        move_times.append((time.perf_counter() - t) * 1000)
        assert r.status_code == 200, r.data[:200]
    with app.app_context():
        db.engine.dispose()

    def row(name: str, values: list[float]) -> str:
        q = statistics.quantiles(values, n=20)
        return f"| {name} | {statistics.median(values):.1f} | {q[18]:.1f} |"

    print(f"{args.cards} cards on one job; loaded through the services in {load:.1f} s")
    print(f"board page: {size / 1024:.0f} KiB of HTML, {len(cards)} cards\n")
    print("| request | p50 ms | p95 ms |")
    print("|---|---|---|")
    print(row("GET the job's kanban", board_times))
    print(row("POST a move (HTMX, counts back)", move_times))


if __name__ == "__main__":
    main()
