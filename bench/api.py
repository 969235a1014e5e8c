"""xapi2 at scale (issue 7): the API workloads over HTTP, beside Datasette.

On the data set of ``bench/data.py`` (200,000 applications), against gunicorn
started as `make run` starts it (``-c python:ats.gunicorn_conf app:app``), on
SQLite and on PostgreSQL, with `wrk` (Debian's, C, 1 thread) as the load
generator on the same machine:

(a) applications of one job in one stage, ``sort=-fit_score``, limit 50
(b) applications in review or screening, ``sort=-created_at``, limit 20
(c) one application by id
(d) open jobs, limit 20
(e) create an application (each request a new candidate/job pair)
(f) PATCH a stage change
(g) every application, 500 at a time with ``after`` keyset paging

For (a)-(d), Datasette (``pip install -e '.[bench]'``, or its own virtualenv:
see --datasette) serves the same SQLite file with the same queries through its
JSON table API (``_shape=objects``, the same filters with ``is_archived=0``,
sort and page size; ``_nosuggest=1``, as facet suggestions are a feature of its
HTML pages that cost it seconds per request here; its row count stays on, like
our ``total``), measured in the same run; the last column is our requests/s
over Datasette's. Server time is the app's ``Server-Timing`` header over 300
requests in a row on one connection (gunicorn's own work not included).

    .venv/bin/python bench/api.py                      # SQLite and PostgreSQL
    .venv/bin/python bench/api.py --db sqlite --runs 3 --duration 10
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import data  # noqa: E402
from bench.server import (  # noqa: E402
    Datasette,
    Gunicorn,
    WrkResult,
    lua_bodies,
    lua_paths,
    machine,
    rss_kib,
    sequential,
    wrk,
)

PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5434/postgres"
# `pip install -e '.[bench]'` puts it beside our Python; else a virtualenv of its own
DATASETTE = next(
    (
        str(p)
        for p in (
            Path(sys.executable).parent / "datasette",
            Path("/tmp/ats-bench-venv/bin/datasette"),
        )
        if p.exists()
    ),
    "datasette",
)


def best(results: list[WrkResult]) -> WrkResult:
    return max(results, key=lambda r: r.rps)


def taken_pairs(url: str, meta: data.Meta) -> set[tuple[str, str]]:
    """(candidate, job) pairs of the sampled candidates that exist already."""
    from sqlalchemy import bindparam, create_engine, text

    engine = create_engine(url)
    stmt = text("SELECT candidate_id, job_id FROM application WHERE candidate_id IN :c")
    with engine.connect() as conn:
        rows = conn.execute(
            stmt.bindparams(bindparam("c", expanding=True)), {"c": meta.candidate_ids}
        ).all()
    engine.dispose()
    return {(r[0], r[1]) for r in rows}


def walk(base: str, token: str, pids: list[int]) -> tuple[float, list[tuple[int, float, int]]]:
    """Every application by keyset paging: total seconds and, per 10,000 rows,
    (rows so far, seconds for those 10,000, RSS of all workers in KiB)."""
    conn = http.client.HTTPConnection(base.split("//", 1)[1], timeout=120)
    headers = {"Authorization": f"Bearer {token}"}
    after, rows, segments = None, 0, []
    started = seg_start = time.perf_counter()
    next_mark = 10_000
    while True:
        path = "/xapi2/data/application?sort=created_at&limit=500"
        if after:
            path += f"&after={after}"
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        page = json.loads(resp.read())
        if resp.status != 200:
            raise RuntimeError(f"walk: {resp.status} {page}")
        rows += len(page["items"])
        if rows >= next_mark or not page["has_more"]:
            now = time.perf_counter()
            segments.append((rows, now - seg_start, sum(rss_kib(p) for p in pids)))
            seg_start = now
            next_mark += 10_000
        after = page["next_after"]
        if not page["has_more"]:
            break
    conn.close()
    return time.perf_counter() - started, segments


def run_backend(kind: str, args: argparse.Namespace) -> None:
    if kind == "sqlite":
        meta = data.ensure_sqlite()
        work = Path(tempfile.mkdtemp(prefix="ats-bench-api-"))
        db_path = work / "ats.sqlite3"
        url = data.copy_sqlite(meta, db_path)
    else:
        meta = data.ensure_postgres(args.postgres)
        url = data.copy_postgres(meta, str(os.getpid()))
    server = Gunicorn(url, args.workers, args.threads).start()
    token = meta.token
    auth = {"Authorization": f"Bearer {token}"}
    job = meta.kanban_job
    app_paths = [f"/xapi2/data/application/{a}" for a in meta.application_ids]
    reads = {
        "a": (
            "applications of one job in one stage, -fit_score, limit 50",
            [f"/xapi2/data/application?job_id={job}&stage=review&sort=-fit_score&limit=50"],
            [
                f"/ats/application.json?job_id={job}&stage=review&is_archived=0"
                "&_sort_desc=fit_score&_size=50&_shape=objects&_nosuggest=1"
            ],
        ),
        "b": (
            "applications in review or screening, -created_at, limit 20",
            ["/xapi2/data/application?stage=review&stage=screening&sort=-created_at&limit=20"],
            [
                "/ats/application.json?stage__in=review,screening&is_archived=0"
                "&_sort_desc=created_at&_size=20&_shape=objects&_nosuggest=1"
            ],
        ),
        "c": (
            "one application by id",
            app_paths,
            [f"/ats/application/{a}.json?_shape=objects" for a in meta.application_ids],
        ),
        "d": (
            "open jobs, limit 20",
            ["/xapi2/data/job?status=open&limit=20"],
            [
                "/ats/job.json?status=open&is_archived=0&_sort=created_at&_size=20&_shape=objects&_nosuggest=1"
            ],
        ),
    }
    ds = None
    ds_version = None
    if kind == "sqlite" and not args.no_datasette:
        ds = Datasette(db_path, args.datasette).start()
        ds_version = ds.version()
    workers = server.env.get("ATS_WORKERS", "conf")
    threads = server.env.get("ATS_THREADS", "conf")
    where = meta.url.split("@")[-1]
    print(f"\n## {kind}: {where} (a copy), gunicorn {workers} workers x {threads} threads")
    if ds_version:
        print(f"Datasette {ds_version} on the same file")
    wrk_args = dict(duration=args.duration, connections=args.connections, threads=args.wrk_threads)
    rows = []
    try:
        for key, (title, ours, theirs) in reads.items():
            seq = sequential(server.base, ours, 300, auth)
            script = lua_paths("GET", ours) if len(ours) > 1 else None
            mine = best(
                [
                    wrk(server.base + ours[0], headers=auth, script=script, **wrk_args)
                    for _ in range(args.runs)
                ]
            )
            other = None
            if ds is not None:
                sequential(ds.base, theirs, 100)  # warm up, and check the URLs answer
                s2 = lua_paths("GET", theirs) if len(theirs) > 1 else None
                other = best(
                    [wrk(ds.base + theirs[0], script=s2, **wrk_args) for _ in range(args.runs)]
                )
            rows.append((key, title, mine, seq, other))
            print(
                f"  ({key}) done: {mine.rps:.0f} rps"
                + (f", Datasette {other.rps:.0f}" if other else ""),
                file=sys.stderr,
            )

        # (g) the keyset walk, before the writes: exactly the generated rows
        pids = server.worker_pids()
        total_s, segments = walk(server.base, token, pids)

        # (e) creates: new (candidate, job) pairs only
        taken = taken_pairs(url, meta)
        pairs = [(c, j) for j in meta.job_ids for c in meta.candidate_ids if (c, j) not in taken]
        items = [
            ("/xapi2/data/application", json.dumps({"job_id": j, "candidate_id": c}))
            for c, j in pairs
        ]
        hdrs = {**auth, "Content-Type": "application/json"}
        seq_e = sequential(
            server.base, [items[0][0]], 200, auth, "POST", [b for _, b in items[-200:]]
        )
        items = items[:-200]
        mine_e = wrk(
            server.base + "/xapi2/data/application",
            headers=hdrs,
            script=lua_bodies("POST", items, args.wrk_threads),
            **wrk_args,
        )
        rows.append(("e", "create one application", mine_e, seq_e, None))

        # (f) stage changes: each request moves an application to another stage
        cycle = ["interview", "offer", "screening", "review"]
        patches = [
            (f"/xapi2/data/application/{a}", json.dumps({"stage": cycle[r % 4]}))
            for r in range(50)
            for a in meta.application_ids
        ]
        seq_f = sequential(
            server.base,
            [p for p, _ in patches[:200]],
            200,
            auth,
            "PATCH",
            [b for _, b in patches[:200]],
        )
        mine_f = wrk(
            server.base,
            headers=hdrs,
            script=lua_bodies("PATCH", patches[200:], args.wrk_threads),
            **wrk_args,
        )
        rows.append(("f", "PATCH a stage change", mine_f, seq_f, None))
    finally:
        server.stop()
        if ds is not None:
            ds.stop()
        if kind == "postgres":
            data.drop_postgres_copy(url)
        else:
            shutil.rmtree(work, ignore_errors=True)

    print()
    head = "| workload | req/s | p50 ms | p99 ms | server p50 ms | server p99 ms |"
    sep = "|---|---|---|---|---|---|"
    if ds is not None:
        head += " Datasette req/s | Datasette p50 ms | ours / Datasette |"
        sep += "---|---|---|"
    print(head)
    print(sep)
    for key, title, r, seq, other in rows:
        line = (
            f"| ({key}) {title} | {r.rps:,.0f} | {r.p50_ms:.1f} | {r.p99_ms:.1f} "
            f"| {seq.server_p50:.2f} | {seq.server_p99:.2f} |"
        )
        if r.errors:
            line += f" ({r.errors} errors)"
        if ds is not None:
            line += (
                f" {other.rps:,.0f} | {other.p50_ms:.1f} | {r.rps / other.rps:.2f} |"
                if other and other.rps
                else " | | |"
            )
        print(line)
    print()
    print(f"(g) keyset walk, 500 per page: {segments[-1][0]:,} rows in {total_s:.1f} s")
    print("| rows | s per 10k rows | workers' RSS MiB |")
    print("|---|---|---|")
    for n, s, rss in segments:
        print(f"| {n:,} | {s:.2f} | {rss / 1024:.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--postgres", default=PG_SERVER, help="server URL (.../postgres)")
    parser.add_argument("--datasette", default=DATASETTE, help="the datasette executable")
    parser.add_argument("--no-datasette", action="store_true")
    parser.add_argument("--duration", type=float, default=10, help="seconds per wrk run")
    parser.add_argument("--runs", type=int, default=3, help="wrk runs per read; the best counts")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--wrk-threads", type=int, default=1)
    parser.add_argument("--workers", type=int, default=None, help="ATS_WORKERS (default: conf)")
    parser.add_argument("--threads", type=int, default=None, help="ATS_THREADS (default: conf)")
    args = parser.parse_args()
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split()
    print(f"machine: {machine()}")
    print(
        f"load generator: wrk {wrk_version[1] if len(wrk_version) > 1 else ''}, "
        f"{args.wrk_threads} thread(s), {args.connections} connections, "
        f"{args.duration:.0f} s per run, best of {args.runs} for (a)-(d)"
    )
    for kind in ("sqlite", "postgres") if args.db == "both" else (args.db,):
        run_backend(kind, args)


if __name__ == "__main__":
    main()
