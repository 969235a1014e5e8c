"""What the API's rate limit costs a request: in-process GETs of one application
through the WSGI app (Flask's test client), with the limit off, on with the
default storage (the shared SQLite file) and, for comparison, on with the
per-process memory storage of ``limits``. One app throughout, its hooks taken
out for "off"; the setups take turns in chunks of 100 requests, in a random
order, so drift on a shared machine hits them alike; CPU time of the process
is measured (the storage's SQLite work happens in it too), and the overhead
is the median difference between chunks measured side by side.

    .venv/bin/python bench/ratelimit.py [--requests 2000] [--rounds 3] [--postgres URL]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

from flask_migrate import upgrade
from limits.storage import MemoryStorage
from sqlalchemy import text

from ats import create_app
from ats import fields as F
from ats.extensions import db
from ats.services import auth, records

LIMIT = "1000000 per hour"  # never reached: the cost of counting, not of refusing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--postgres", help="an empty PostgreSQL database URL (default SQLite)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="ats-bench-ratelimit-"))
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": args.postgres or f"sqlite:///{tmp / 'b.sqlite3'}",
            "SECRET_KEY": "bench",
            "DATA_DIR": str(tmp / "data"),
            "API_RATE_LIMIT": LIMIT,
            "RATELIMIT_STORAGE_URI": f"sqlite:///{tmp / 'ratelimits.sqlite3'}",
        }
    )
    with app.app_context():
        if args.postgres:
            db.session.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
            db.session.commit()
        upgrade()
        user = auth.create_user("bench@example.com", "quiet-otter-harbour-7", "Bench", "admin")
        me = auth.actor_for_user(user)
        job = records.create(F.JOB, {"title": "Bench", "status": "open"}, me)
        cand = records.create(F.CANDIDATE, {"name": "Ada"}, me)
        appl = records.create(F.APPLICATION, {"job_id": job.id, "candidate_id": cand.id}, me)
        _token, secret = auth.create_token(user, ["*"])
        path = f"/xapi2/data/application/{appl.id}"
    headers = {"Authorization": f"Bearer {secret}"}
    client = app.test_client()
    limit = app.extensions["ats_ratelimit"]
    shared, memory = limit.storage, MemoryStorage()
    hooks = (
        (app.before_request_funcs[None], limit.before),
        (app.after_request_funcs[None], limit.after),
    )

    def setup(name: str) -> None:
        """One app throughout (two apps differ by more than the limit costs)."""
        for funcs, hook in hooks:
            if hook in funcs:
                funcs.remove(hook)
            if name != "off":
                funcs.append(hook)
        limit.storage = memory if name.startswith("on, memory") else shared

    names = ["off", "on, SQLite file (default)", "on, memory (per process)"]
    for name in names:  # warm up: connections, statement caches
        setup(name)
        for _ in range(200):
            assert client.get(path, headers=headers).status_code == 200
    # CPU time of this process (the storage's SQLite runs in it too), in chunks
    # of 100 requests, the setups in a new random order each time
    chunk = 100
    times: dict[str, list[float]] = {name: [] for name in names}
    order = random.Random(7)
    for _ in range(args.rounds * args.requests // chunk):
        order.shuffle(names)
        for name in names:
            setup(name)
            started = time.process_time()
            for _ in range(chunk):
                response = client.get(path, headers=headers)
            times[name].append((time.process_time() - started) / chunk * 1e6)
            assert response.status_code == 200, response.get_json()
            assert ("X-RateLimit-Limit" in response.headers) == (name != "off")
    base = times["off"]
    total = args.requests * args.rounds
    print(f"{total} GETs of one application per setup; CPU µs per request, chunks of {chunk}")
    print("| limit | median | 10th percentile | overhead: median of paired chunks |")
    print("|---|---|---|---|")
    for name, values in times.items():
        paired = statistics.median(v - b for v, b in zip(values, base, strict=True))
        over = "" if name == "off" else f"{paired:+.0f}"
        low = statistics.quantiles(values, n=10)[0]
        print(f"| {name} | {statistics.median(values):.0f} | {low:.0f} | {over} |")
    with app.app_context():
        db.engine.dispose()


if __name__ == "__main__":
    main()
