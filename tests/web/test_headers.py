"""Security headers (ats/web/headers.py) on pages, fragments, files and the API.
The browser tests run every page under this policy and fail on any console
error, so a violation (an inline script, a third-party request) shows there."""

from __future__ import annotations

import pytest

from ats import create_app
from ats.extensions import db
from ats.web.headers import CSP


def _policy(value: str) -> dict[str, str]:
    return dict(part.strip().split(" ", 1) for part in value.split(";"))


@pytest.mark.parametrize("path", ["/login", "/careers", "/setup", "/no-such-page"])
def test_pages_carry_the_policy_and_the_other_headers(client, path):
    r = client.get(path)
    policy = _policy(r.headers["Content-Security-Policy"])
    assert policy["default-src"] == "'self'"  # no inline script, no third party
    assert "'unsafe-inline'" not in r.headers["Content-Security-Policy"]
    assert policy["frame-ancestors"] == "'self'" and policy["object-src"] == "'none'"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Referrer-Policy"] == "same-origin"
    assert r.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert "Strict-Transport-Security" not in r.headers  # plain HTTP here


def test_logged_in_pages_and_fragments(login):
    client = login("admin")
    for path, headers in (("/", {}), ("/jobs", {"HX-Request": "true"})):
        r = client.get(path, headers=headers)
        assert r.status_code == 200
        assert r.headers["Content-Security-Policy"] == CSP


def test_api_and_files_get_the_plain_headers(api, client):
    r = api.get("/data/job")
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert "Content-Security-Policy" not in r.headers  # JSON: nothing to run
    css = client.get("/static/app.css")
    assert css.headers["X-Content-Type-Options"] == "nosniff"
    css.close()


def test_hsts_only_over_https(monkeypatch, tmp_path, databases):
    monkeypatch.setenv("ATS_HTTPS", "1")
    app = create_app({"SQLALCHEMY_DATABASE_URI": databases.new(tmp_path), "SECRET_KEY": "t"})
    r = app.test_client().get("/login")
    with app.app_context():
        db.engine.dispose()
    assert r.headers["Strict-Transport-Security"].startswith("max-age=31536000")
