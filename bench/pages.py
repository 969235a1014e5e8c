"""The recruiter pages and the careers page at scale (issue 7), over HTTP.

On the data set of ``bench/data.py`` (a copy of it: logging in writes), against
gunicorn started as `make run` starts it, logged in as a recruiter (session
cookie): a job's kanban with 2,000 applications (target: under 150 ms), the
dashboard, the careers page and a candidate search. Latency is client-side,
one keep-alive connection, requests in a row; requests/s is `wrk` with the same
cookie (1 thread, 4 connections).

    .venv/bin/python bench/pages.py [--db sqlite|postgres] [--runs 30]
"""

from __future__ import annotations

import argparse
import http.cookiejar
import os
import re
import shutil
import sys
import tempfile
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import data  # noqa: E402
from bench.api import PG_SERVER  # noqa: E402
from bench.server import Gunicorn, machine, sequential, wrk  # noqa: E402


def login(base: str, email: str, password: str) -> str:
    """A logged-in session's Cookie header."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(base + "/login").read().decode()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    form = urllib.parse.urlencode({"email": email, "password": password, "csrf_token": token})
    opener.open(base + "/login", data=form.encode()).read()
    cookie = "; ".join(f"{c.name}={c.value}" for c in jar)
    if "session=" not in cookie:
        raise RuntimeError("login failed")
    return cookie


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--postgres", default=PG_SERVER)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--duration", type=float, default=5)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ats-bench-pages-"))
    if args.db == "sqlite":
        meta = data.ensure_sqlite()
        url = data.copy_sqlite(meta, work / "a.db")
    else:
        meta = data.ensure_postgres(args.postgres)
        url = data.copy_postgres(meta, f"pages_{os.getpid()}")
    server = Gunicorn(url).start()
    results = []
    try:
        cookie = login(server.base, meta.user_email, meta.user_password)
        h = {"Cookie": cookie}
        pages = [
            (
                f"kanban of a job with {data.KANBAN_CARDS:,} applications",
                f"/jobs/{meta.kanban_job}",
                h,
            ),
            ("dashboard", "/", h),
            ("careers page (public, no cookie)", "/careers", {}),
            ("candidate search 'schmidt berlin'", "/candidates?q=schmidt+berlin", h),
        ]
        for title, path, headers in pages:
            sequential(server.base, [path], 3, headers)  # warm up
            seq = sequential(server.base, [path], args.runs, headers)
            load = wrk(server.base + path, args.duration, 4, headers=headers)
            results.append((title, path, seq, load))
    finally:
        server.stop()
        if args.db == "postgres":
            data.drop_postgres_copy(url)
        shutil.rmtree(work, ignore_errors=True)
    print(f"machine: {machine()}")
    print(
        f"{args.db}, gunicorn {server.env.get('ATS_WORKERS', 'conf')} workers; "
        f"{args.runs} requests in a row per page, then wrk for {args.duration:.0f} s\n"
    )
    print("| page | KiB | p50 ms | p99 ms | req/s (wrk, 4 connections) |")
    print("|---|---|---|---|---|")
    for title, _path, seq, load in results:
        print(
            f"| {title} | {seq.size / 1024:.0f} | {seq.client_p50:.1f} | {seq.client_p99:.1f} "
            f"| {load.rps:,.0f}{f' ({load.errors} errors)' if load.errors else ''} |"
        )


if __name__ == "__main__":
    main()
