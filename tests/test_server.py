"""The real thing: operator commands in subprocesses, then gunicorn with several
worker processes on one SQLite file, spoken to over HTTP from several threads.

Pins: `db upgrade`, `users create`, `tokens create` (token on the last line),
`/healthz`, and that concurrent writes through separate processes never fail
with "database is locked" (BEGIN IMMEDIATE + busy timeout)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.live import LiveServer


def _request(url: str, token: str, method: str = "GET", body: dict | None = None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310 - loopback
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


@pytest.fixture
def server(tmp_path: Path):
    live = LiveServer(tmp_path, workers=3)
    live.flask("db", "upgrade")
    email = "ops@example.com"
    live.flask("users", "create", "--email", email, "--password", "s3cret-pw-lantern", "--admin")
    token = live.flask("tokens", "create", "--email", "ops@example.com", "--scopes", "*")
    token = token.strip().splitlines()[-1]
    live.start()
    yield live.base, token, live.log_path
    live.stop()


def test_token_is_the_last_line_and_works(server):
    base, token, _log = server
    assert token.startswith("pat_")
    status, body = _request(base + "/healthz", token)
    assert (status, body) == (200, {"status": "ok"})
    status, body = _request(base + "/xapi2/data/job", token, "POST", {"title": "Site Engineer"})
    assert status == 201, body
    status, body = _request(base + f"/xapi2/data/job/{body['id']}", token)
    assert status == 200 and body["data"]["slug"] == "site-engineer"


def test_concurrent_writes_across_worker_processes(server):
    base, token, log = server
    status, job = _request(base + "/xapi2/data/job", token, "POST", {"title": "Load"})
    assert status == 201

    def apply(i: int) -> tuple[int, int]:
        s1, cand = _request(
            base + "/xapi2/data/candidate", token, "POST", {"name": f"C{i}", "email": f"c{i}@x.io"}
        )
        s2, app = _request(
            base + "/xapi2/data/application",
            token,
            "POST",
            {"job_id": job["id"], "candidate_id": cand["id"]},
        )
        s3, _ = _request(
            base + f"/xapi2/data/application/{app['id']}", token, "PATCH", {"stage": "review"}
        )
        return s1, s2, s3

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(apply, range(120)))
    assert all(r == (201, 201, 200) for r in results), results
    status, page = _request(base + f"/xapi2/data/application?job_id={job['id']}&limit=1", token)
    assert status == 200 and page["total"] == 120
    status, page = _request(base + "/xapi2/data/application?stage=review&limit=1", token)
    assert page["total"] == 120
    # positions stay distinct even though three processes appended at once
    status, page = _request(base + f"/xapi2/data/application?job_id={job['id']}&limit=500", token)
    positions = [a["data"]["position"] for a in page["items"]]
    assert len(set(positions)) == 120
    assert "database is locked" not in log.read_text()
