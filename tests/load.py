"""Write load for the reliability tests and ``bench/stress.py``: client processes
that create candidates, applications and notes and move applications through
the stages over real HTTP, and a log of every answer.

Each client writes one JSON line per request to its own file, flushed at once,
so what the server acknowledged is on disk even when the server (or the test)
is killed mid-way. ``check`` then reads the database directly and says which
acknowledged writes are missing or differ."""

from __future__ import annotations

import http.client
import json
import multiprocessing
import os
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

STAGES = ("review", "screening", "interview", "offer")


class Client:
    """One keep-alive HTTP connection speaking xapi2 with a bearer token."""

    def __init__(self, base: str, token: str, timeout: float = 30) -> None:
        parts = urlsplit(base)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.token = token
        self.timeout = timeout
        self.conn: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, Any, str]:
        """``(status, decoded JSON or None, raw text)``; raises OSError when the server is gone."""
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        headers = {"Authorization": f"Bearer {self.token}"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        try:
            self.conn.request(method, "/xapi2" + path, body=data, headers=headers)
            response = self.conn.getresponse()
            raw = response.read().decode("utf-8", "replace")
        except (OSError, http.client.HTTPException):
            self.close()
            raise
        if response.getheader("Connection", "").lower() == "close":
            self.close()
        try:
            decoded = json.loads(raw) if raw else None
        except ValueError:
            decoded = None
        return response.status, decoded, raw

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def admin_token(env: dict[str, str], email: str = "load@example.com") -> str:
    """A new admin with a ``*`` token for the server run with ``env``, made in this
    process (a ``flask`` subprocess would cost a second and a half of start-up)."""
    from ats import create_app
    from ats.extensions import db
    from ats.services import auth

    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": env["ATS_DATABASE_URL"], "SECRET_KEY": env["ATS_SECRET_KEY"]}
    )
    with app.app_context():
        user = auth.create_user(email, secrets.token_urlsafe(18), "Load", "admin")
        _token, secret = auth.create_token(user, auth.parse_scopes("*"))
        db.engine.dispose()
    return secret


def writer(
    base: str,
    token: str,
    job_ids: list[str],
    seconds: float,
    log_path: str,
    name: str,
    max_ops: int | None = None,
    stop_path: str | None = None,
) -> None:
    """Write for ``seconds`` (or ``max_ops`` requests, or until ``stop_path``
    exists): candidate, application,
    a note on it, then stage moves and more notes on this writer's own
    applications. Logs ``{op, model, id, value, status, ms, t, error}`` per request."""
    client = Client(base, token)
    deadline = time.monotonic() + seconds
    mine: list[str] = []
    gone = [False]  # the server did not answer: it is down, stop
    n = 0
    with open(log_path, "a", buffering=1) as log:  # line-buffered: every answer on disk

        def call(op: str, model: str, method: str, path: str, body: dict, value: Any = None):
            started = time.perf_counter()
            entry: dict[str, Any] = {"op": op, "model": model, "value": value, "t": time.time()}
            try:
                status, decoded, raw = client.request(method, path, body)
            except OSError as exc:
                entry.update(status=0, error=f"{type(exc).__name__}: {exc}")
                log.write(json.dumps(entry) + "\n")
                gone[0] = True
                return None
            entry["status"] = status
            entry["ms"] = round((time.perf_counter() - started) * 1000, 3)
            if 200 <= status < 300 and isinstance(decoded, dict):
                entry["id"] = decoded.get("id")
            else:
                entry["error"] = raw[:500]
            log.write(json.dumps(entry) + "\n")
            return decoded if 200 <= status < 300 else None

        while time.monotonic() < deadline and (max_ops is None or n < max_ops) and not gone[0]:
            if stop_path is not None and os.path.exists(stop_path):
                break
            n += 1
            step = n % 4
            if step == 1 or len(mine) < 3:
                label = f"{name}-{n}"
                cand = call(
                    "create",
                    "candidate",
                    "POST",
                    "/data/candidate",
                    {"name": f"Load {label}", "email": f"{label}@load.example"},
                    value=f"Load {label}",
                )
                if cand is None:
                    continue
                app = call(
                    "create",
                    "application",
                    "POST",
                    "/data/application",
                    {"job_id": job_ids[n % len(job_ids)], "candidate_id": cand["id"]},
                    value=cand["id"],
                )
                if app is not None:
                    mine.append(app["id"])
            elif step == 2:
                app_id = mine[n % len(mine)]
                body = f"note {name}-{n}"
                call(
                    "create",
                    "application_note",
                    "POST",
                    "/data/application_note",
                    {"parent_kind": "application", "parent_id": app_id, "body": body},
                    value=body,
                )
            else:
                app_id = mine[n % len(mine)]
                stage = STAGES[n % len(STAGES)]
                call(
                    "patch",
                    "application",
                    "PATCH",
                    f"/data/application/{app_id}",
                    {"stage": stage},
                    value=[app_id, stage],
                )
    client.close()


def run_writers(
    base: str,
    token: str,
    job_ids: list[str],
    seconds: float,
    folder: Path,
    processes: int,
    max_ops: int | None = None,
    stop_path: Path | None = None,
) -> list[multiprocessing.Process]:
    """Start ``processes`` writer processes (logs ``folder/writer-N.jsonl``); not joined."""
    context = multiprocessing.get_context("fork")
    procs = []
    for i in range(processes):
        proc = context.Process(
            target=writer,
            args=(base, token, job_ids, seconds, str(folder / f"writer-{i}.jsonl"), f"w{i}"),
            kwargs={"max_ops": max_ops, "stop_path": str(stop_path) if stop_path else None},
            daemon=True,
        )
        proc.start()
        procs.append(proc)
    return procs


def entries(folder: Path) -> Iterator[dict[str, Any]]:
    for path in sorted(folder.glob("writer-*.jsonl")):
        for line in path.read_text().splitlines():
            if line.strip():
                try:
                    yield json.loads(line)
                except ValueError:  # a line cut by a kill
                    continue


@dataclass
class Outcome:
    attempted: int = 0
    acknowledged: int = 0
    found: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)  # non-2xx answers
    unreachable: int = 0  # no answer at all (server gone)
    missing: list[dict[str, Any]] = field(default_factory=list)  # acknowledged, not in the DB
    latencies_ms: list[float] = field(default_factory=list)
    first_t: float = 0.0
    last_t: float = 0.0


def check(folder: Path, db_url: str, unsure_last: bool = False) -> Outcome:
    """Every acknowledged write, looked up in the database.

    Creates: the row exists with the value written. Stage moves: the
    application's stage is the last acknowledged one, or, with ``unsure_last``
    (the server was killed), the one of a later request that got no answer.
    """
    out = Outcome()
    created: dict[str, list[tuple[str, Any]]] = {}
    last_stage: dict[str, str] = {}
    patches: dict[str, int] = {}
    in_flight: dict[str, set[str]] = {}
    times = []
    for e in entries(folder):
        out.attempted += 1
        times.append(e["t"])
        status = e.get("status", 0)
        if status == 0:
            out.unreachable += 1
            if e["op"] == "patch":
                in_flight.setdefault(e["value"][0], set()).add(e["value"][1])
            continue
        if not 200 <= status < 300:
            out.errors.append(e)
            continue
        out.acknowledged += 1
        out.latencies_ms.append(e["ms"])
        if e["op"] == "create":
            created.setdefault(e["model"], []).append((e["id"], e["value"]))
        else:
            app_id, stage = e["value"]
            last_stage[app_id] = stage
            patches[app_id] = patches.get(app_id, 0) + 1
            in_flight.pop(app_id, None)
    if times:
        out.first_t, out.last_t = min(times), max(times)
    columns = {"candidate": "name", "application": "candidate_id", "application_note": "body"}
    engine = create_engine(db_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            for model, rows in created.items():
                column = columns[model]
                stored: dict[str, Any] = {}
                ids = [r[0] for r in rows]
                for start in range(0, len(ids), 500):
                    chunk = ids[start : start + 500]
                    params = {f"p{i}": v for i, v in enumerate(chunk)}
                    marks = ", ".join(f":p{i}" for i in range(len(chunk)))
                    result = conn.execute(
                        text(f"SELECT id, {column} FROM {model} WHERE id IN ({marks})"),  # noqa: S608
                        params,
                    )
                    stored.update(dict(result.all()))
                for row_id, value in rows:
                    if stored.get(row_id) == value:
                        out.found += 1
                    else:
                        out.missing.append({"model": model, "id": row_id, "value": value})
            stages = dict(conn.execute(text("SELECT id, stage FROM application")).all())
            for app_id, stage in last_stage.items():
                allowed = {stage} | (in_flight.get(app_id, set()) if unsure_last else set())
                if stages.get(app_id) in allowed:
                    out.found += patches[app_id]  # the last one holds, so did the others
                else:
                    out.missing.append(
                        {
                            "model": "application",
                            "id": app_id,
                            "stage": stage,
                            "db": stages.get(app_id),
                        }
                    )
    finally:
        engine.dispose()
    return out


def percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]
