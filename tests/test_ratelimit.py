"""Rate limits: the API's per-token limit (ats/ratelimit.py) and the throttled
login and apply forms.

Pins: past ``API_RATE_LIMIT`` the API answers 429 with its error body
(``rate_limited``), ``Retry-After`` in whole seconds and ``X-RateLimit-Limit``/
``-Remaining``/``-Reset`` (every counted answer carries these); tokens are
counted apart; requests without a valid token count against the address, and
so do made-up tokens; the window ends and the count starts again; "" and "off"
switch it off; a bad value stops the start with a message naming the setting;
a damaged or unreachable counter file never takes the API down. Against a real
gunicorn with three workers, the total allowed is the limit, not the limit
times the workers, and the login and apply forms answer 429 with
``Retry-After`` once their per-address counts are used up.
"""

from __future__ import annotations

import http.cookiejar
import json
import re
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from ats import create_app
from ats.database import writing
from ats.extensions import db
from ats.models import LoginFailure
from ats.ratelimit import SQLiteStorage, parse_rate
from ats.services import applying, auth
from tests.live import BIN, ROOT, LiveServer

PASSWORD = "quiet-otter-harbour-7"
HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")


# --- in process ---------------------------------------------------------------------


@pytest.fixture
def make_app(tmp_path: Path, databases: Any):
    """``make_app("3 per minute")``: the conftest app's settings with that API limit,
    its counters in a file of the test's own."""
    apps: list[Flask] = []

    def make(limit: str, storage: str | None = None) -> Flask:
        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": databases.shared(tmp_path),
                "SECRET_KEY": "test",
                "DATA_DIR": str(tmp_path / "data"),
                "TESTING": True,
                "SMTP_URL": None,
                "LLM_URL": None,
                "API_RATE_LIMIT": limit,
                "RATELIMIT_STORAGE_URI": storage or f"sqlite:///{tmp_path / 'ratelimits.sqlite3'}",
            }
        )
        apps.append(app)
        return app

    yield make
    for app in apps:
        with app.app_context():
            db.engine.dispose()
    databases.reset()


def _token(app: Flask, email: str = "a@example.com") -> str:
    with app.app_context():
        user = auth.find_user(email) or auth.create_user(email, PASSWORD, "A", "admin")
        _row, secret = auth.create_token(user, ["*"])
    return secret


def _get(app: Flask, token: str | None = None, **kw: Any) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return app.test_client().get("/xapi2/data/job", headers=headers, **kw)


def test_past_the_limit_429_with_headers_and_the_error_body(make_app):
    app = make_app("3 per minute")
    token = _token(app)
    started = time.time()
    for left in (2, 1, 0):
        r = _get(app, token)
        assert r.status_code == 200
        assert r.headers["X-RateLimit-Limit"] == "3"
        assert r.headers["X-RateLimit-Remaining"] == str(left)
        assert started < int(r.headers["X-RateLimit-Reset"]) <= started + 61
        assert "Retry-After" not in r.headers
    r = _get(app, token)
    assert r.status_code == 429
    body = r.get_json()
    assert body["error"] == "rate_limited" and set(body) == {"error", "message"}
    assert "this token may make 3 per 1 minute" in body["message"]
    assert 1 <= int(r.headers["Retry-After"]) <= 60
    assert r.headers["X-RateLimit-Remaining"] == "0"
    assert r.headers["Content-Type"] == "application/json"


def test_tokens_are_counted_apart(make_app):
    app = make_app("2 per minute")
    a, b = _token(app, "a@example.com"), _token(app, "b@example.com")
    assert [_get(app, a).status_code for _ in range(3)] == [200, 200, 429]
    r = _get(app, b)
    assert r.status_code == 200 and r.headers["X-RateLimit-Remaining"] == "1"
    # a second token of the same user has a bucket of its own too
    assert _get(app, _token(app, "a@example.com")).status_code == 200


def test_the_window_ends_and_the_count_starts_again(make_app):
    app = make_app("2 per 1 second")
    token = _token(app)
    assert [_get(app, token).status_code for _ in range(3)] == [200, 200, 429]
    refused = time.monotonic()
    r = _get(app, token)
    assert r.status_code == 429 and r.headers["Retry-After"] == "1"
    while r.status_code == 429 and time.monotonic() - refused < 3:
        time.sleep(0.05)
        r = _get(app, token)
    assert r.status_code == 200 and r.headers["X-RateLimit-Remaining"] == "1"
    assert time.monotonic() - refused < 1.5  # the window was one second


def test_requests_without_a_valid_token_count_against_the_address(make_app):
    app = make_app("3 per minute")
    good = _token(app)
    assert _get(app, good).status_code == 200  # proven here before the address runs dry
    there = {"environ_base": {"REMOTE_ADDR": "198.51.100.7"}}
    for n in range(3):  # made-up tokens: each a fresh bucket, but charged to the address
        assert _get(app, f"pat_madeup{n}", **there).status_code == 401
    r = _get(app, None, **there)
    assert r.status_code == 429 and "this address may make" in r.get_json()["message"]
    r = _get(app, "pat_another", **there)
    assert r.status_code == 429 and "this address" in r.get_json()["message"]
    assert _get(app, good, **there).status_code == 200  # a token that works is its own
    assert _get(app, None, environ_base={"REMOTE_ADDR": "198.51.100.8"}).status_code == 401


@pytest.mark.parametrize("off", ["", "off", "OFF"])
def test_switched_off(make_app, tmp_path, off):
    app = make_app(off)
    token = _token(app)
    for _ in range(5):
        r = _get(app, token)
        assert r.status_code == 200 and not any(h in r.headers for h in HEADERS)
    assert "ats_ratelimit" not in app.extensions
    assert not (tmp_path / "ratelimits.sqlite3").exists()


@pytest.mark.parametrize("bad", ["lots", "0 per minute", "10 per fortnight", "ten/second"])
def test_a_bad_value_stops_the_start(bad, monkeypatch, tmp_path):
    with pytest.raises(ValueError, match="ATS_API_RATE_LIMIT=.* is not a rate limit"):
        parse_rate(bad)
    monkeypatch.setenv("ATS_API_RATE_LIMIT", bad)
    with pytest.raises(ValueError, match="is not a rate limit"):
        create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.db'}"})


def test_an_unknown_storage_stops_the_start(make_app):
    with pytest.raises(ValueError, match="ATS_RATELIMIT_STORAGE_URI='nosuch://x'"):
        make_app("5 per minute", "nosuch://x")


def test_a_bad_value_stops_the_server(tmp_path):
    env = {**LiveServer(tmp_path).env, "ATS_API_RATE_LIMIT": "lots"}
    done = subprocess.run(
        [BIN / "gunicorn", "-c", "python:ats.gunicorn_conf", "app:app"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "ATS_API_RATE_LIMIT='lots' is not a rate limit" in done.stderr


def test_a_damaged_counter_file_is_begun_again(tmp_path, caplog):
    path = tmp_path / "ratelimits.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    storage = SQLiteStorage(f"sqlite:///{path}")
    assert "were damaged" in caplog.text
    assert [storage.incr("k", 60) for _ in range(3)] == [1, 2, 3]
    assert storage.get("k") == 3 and storage.get_expiry("k") > time.time()
    # a sound file is kept as it is
    assert SQLiteStorage(f"sqlite:///{path}").get("k") == 3


def test_an_unreachable_storage_does_not_take_the_api_down(make_app, tmp_path, caplog):
    # a folder that does not exist: every storage call fails; the process counts alone
    app = make_app("2 per minute", f"sqlite:///{tmp_path / 'missing' / 'rl.sqlite3'}")
    token = _token(app)
    assert [_get(app, token).status_code for _ in range(3)] == [200, 200, 429]
    assert "rate-limit storage failed" in caplog.text


# --- a real server with three workers ---------------------------------------------

LIMIT = 20


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("ratelimit")
    server = LiveServer(
        tmp,
        workers=3,
        ATS_API_RATE_LIMIT=f"{LIMIT} per minute",
        ATS_RATELIMIT_STORAGE_URI=f"sqlite:///{tmp / 'ratelimits.sqlite3'}",
        # the access log names the worker process that answered
        GUNICORN_CMD_ARGS="--access-logformat 'pid=%(p)s %(s)s %(r)s'",
    ).start()
    # a user and two tokens, made here rather than by two `flask` commands each
    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": server.env["ATS_DATABASE_URL"], "SECRET_KEY": "live-test"}
    )
    server.tokens = [_token(app), _token(app)]  # type: ignore[attr-defined]
    server.app = app  # type: ignore[attr-defined]
    yield server
    server.stop()
    with app.app_context():
        db.engine.dispose()


def _pids(server: LiveServer, path: str) -> set[str]:
    """The worker processes that answered requests for ``path`` (from the access log)."""
    time.sleep(0.2)  # the log line is written after the answer
    log = server.log_path.read_text()
    return set(re.findall(rf"pid=(<?\d+>?) \d+ \w+ {re.escape(path)}\b", log))


def _fetch(url: str, token: str) -> tuple[int, dict[str, str], bytes]:
    """One request on a connection of its own."""
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310 - loopback
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def test_the_limit_holds_across_worker_processes(live):
    token = live.tokens[0]
    path = "/xapi2/data/candidate"
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda _: _fetch(live.url(path), token), range(3 * LIMIT)))
    statuses = Counter(status for status, _headers, _body in answers)
    assert statuses == {200: LIMIT, 429: 2 * LIMIT}, statuses
    assert len(_pids(live, path)) >= 2, "the requests did not reach several workers"
    refused = [(headers, body) for status, headers, body in answers if status == 429]
    assert all(1 <= int(headers["Retry-After"]) <= 60 for headers, _body in refused)
    assert json.loads(refused[0][1])["error"] == "rate_limited"


class Browser:
    """Cookies kept, but each request on a new connection (so on any worker)."""

    def __init__(self, server: LiveServer) -> None:
        self.server = server
        jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))

    def get(self, path: str) -> str:
        with self.opener.open(self.server.url(path), timeout=30) as resp:
            return resp.read().decode()

    def post(self, path: str, data: dict[str, str]) -> tuple[int, dict[str, str], str]:
        body = urllib.parse.urlencode(data).encode()
        try:
            with self.opener.open(self.server.url(path), data=body, timeout=30) as resp:
                return resp.status, dict(resp.headers), resp.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read().decode()


def _csrf(html: str) -> str:
    m = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    assert m, "no CSRF token on the page"
    return m.group(1)


def test_login_is_throttled_per_address_across_workers(live):
    # most of the address's failures are written by another process (this one):
    # each real one costs a full password hash on the server
    real = 5
    with live.app.app_context(), writing():
        for n in range(auth.MAX_FAILURES_PER_IP - real):
            db.session.add(LoginFailure(email=f"earlier{n}@example.com", ip="127.0.0.1"))
    browser = Browser(live)
    csrf = _csrf(browser.get("/login"))

    def fail(n: int) -> int:  # other e-mails each time: the address counts
        form = {"csrf_token": csrf, "email": f"nobody{n}@example.com", "password": "wrong"}
        return browser.post("/login", form)[0]

    with ThreadPoolExecutor(max_workers=real) as pool:
        assert list(pool.map(fail, range(real))) == [401] * real
    form = {"csrf_token": csrf, "email": "late@example.com", "password": "wrong"}
    status, headers, html = browser.post("/login", form)
    assert status == 429
    assert headers["Retry-After"] == str(int(auth.LOGIN_WINDOW.total_seconds()))
    assert "Too many failed attempts" in html
    assert 'value="late@example.com"' in html  # the e-mail stays typed in


def test_apply_is_throttled_per_address_across_workers(live):
    token = live.tokens[1]
    site = {
        "name": "Acme",
        "public_careers_enabled": True,
        "privacy_url": "https://acme.example/privacy",
        "imprint_url": "https://acme.example/imprint",
    }
    live.api(token, "POST", "/data/company_profile", site)
    job = live.api(
        token, "POST", "/data/job", {"title": "Welder", "status": "open", "public": True}
    )
    path = f"/careers/{job['data']['slug']}/apply"
    browser = Browser(live)
    page = browser.get(path)
    form = {
        "csrf_token": _csrf(page),
        "form_token": re.search(r'name="form_token" value="([^"]+)"', page).group(1),
        "name": "Grace Hopper",
        "cover_letter": "Ships and compilers.",
    }  # no e-mail and no consent: refused, but counted all the same
    allowed, seconds = applying.DEFAULT_RATE_LIMIT
    with ThreadPoolExecutor(max_workers=5) as pool:
        statuses = list(pool.map(lambda _: browser.post(path, form)[0], range(allowed)))
    assert statuses == [400] * allowed
    assert len(_pids(live, path)) >= 2, "the submissions did not reach several workers"
    status, headers, html = browser.post(path, form)
    assert status == 429 and headers["Retry-After"] == str(seconds)
    assert "Please wait a moment" in html
    assert 'value="Grace Hopper"' in html and "Ships and compilers." in html
