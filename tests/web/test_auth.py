"""First run, login, logout and sessions that really end."""

from __future__ import annotations

import re

import pytest
from conftest import PASSWORD

from ats.extensions import db


@pytest.fixture
def _token(csrf_of):
    return csrf_of


def _log_in_rec(client, token: str, password: str = PASSWORD, **extra: str):
    """The login form for rec@example.com (made by each test with ``make_user``)."""
    data = {"csrf_token": token, "email": "rec@example.com", "password": password, **extra}
    return client.post("/login", data=data)


def test_setup_creates_the_admin_and_company_then_disappears(client, _token):
    assert client.get("/").headers["Location"].startswith("/login")
    assert client.get("/login").headers["Location"] == "/setup"
    token = _token(client, "/setup")
    r = client.post(
        "/setup",
        data={"csrf_token": token, "company": "", "email": "bad", "password": "short"},
    )
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert html.count('class="error"') >= 3 and 'value="bad"' in html  # input kept
    r = client.post(
        "/setup",
        data={
            "csrf_token": token,
            "company": "Acme <b>GmbH</b>",
            "name": "Ann",
            "email": "ann@acme.io",
            "password": PASSWORD,
        },
    )
    assert r.status_code == 302 and r.headers["Location"] == "/"
    page = client.get("/").get_data(as_text=True)
    assert "Acme &lt;b&gt;GmbH&lt;/b&gt;" in page and "<b>GmbH" not in page  # escaped
    assert client.get("/setup").status_code == 404
    assert client.post("/setup", data={"csrf_token": token}).status_code == 404


def test_setup_without_csrf_is_refused(client):
    r = client.post("/setup", data={"company": "A", "email": "a@b.io", "password": PASSWORD})
    assert r.status_code == 400
    assert client.get("/setup").status_code == 200  # nothing was created


def test_login_errors_and_success(client, make_user, _token):
    make_user("rec@example.com", "recruiter")
    token = _token(client)
    r = client.post(
        "/login", data={"csrf_token": token, "email": "rec@example.com", "password": "nope-nope"}
    )
    assert r.status_code == 401 and "Wrong e-mail or password" in r.get_data(as_text=True)
    r = client.post(
        "/login", data={"csrf_token": token, "email": "who@example.com", "password": "nope-nope"}
    )
    assert r.status_code == 401
    r = client.post(
        "/login?next=/jobs",
        data={"csrf_token": token, "email": "REC@example.com", "password": PASSWORD},
    )
    assert r.status_code == 302 and r.headers["Location"] == "/jobs"


def test_open_redirects_are_refused(client, make_user, _token):
    make_user("rec@example.com", "recruiter")
    token = _token(client)
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        fresh = client.application.test_client()
        t = _token(fresh)
        r = fresh.post(
            f"/login?next={target}",
            data={"csrf_token": t, "email": "rec@example.com", "password": PASSWORD},
        )
        assert r.headers["Location"] == "/", target
    assert token


def test_login_is_throttled_after_repeated_failures(client, make_user, _token):
    make_user("rec@example.com", "recruiter")
    token = _token(client)
    for _ in range(5):
        assert _log_in_rec(client, token, password="x").status_code == 401
    r = _log_in_rec(client, token)
    assert r.status_code == 429 and "Too many failed attempts" in r.get_data(as_text=True)


def test_logout_ends_the_session_even_with_a_copied_cookie(app, login):
    client = login("recruiter")
    stolen = app.test_client()
    cookie = client.get_cookie("session")
    stolen.set_cookie("session", cookie.value)
    assert stolen.get("/jobs").status_code == 200  # the copy works while logged in
    r = client.post("/logout", data={"csrf_token": client.csrf})
    assert r.status_code == 302
    assert client.get("/jobs").status_code == 302
    assert stolen.get("/jobs").status_code == 302  # the old cookie is dead too


def test_logout_needs_post_and_csrf(login):
    client = login("recruiter")
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 400
    assert client.get("/jobs").status_code == 200


def test_remember_me_sets_a_httponly_cookie(client, make_user, _token):
    make_user("rec@example.com", "recruiter")
    r = _log_in_rec(client, _token(client), remember="y")
    cookies = r.headers.getlist("Set-Cookie")
    remember = [c for c in cookies if c.startswith("remember_token=")]
    assert remember and "HttpOnly" in remember[0]
    session = [c for c in cookies if c.startswith("session=")]
    assert session and "HttpOnly" in session[0] and re.search("SameSite=Lax", session[0])


def test_cookies_are_secure_when_served_over_https(monkeypatch, tmp_path, databases):
    from ats import create_app

    monkeypatch.setenv("ATS_HTTPS", "1")
    app = create_app({"SQLALCHEMY_DATABASE_URI": databases.new(tmp_path), "SECRET_KEY": "t"})
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["REMEMBER_COOKIE_SECURE"] is True
    client = app.test_client()
    cookie = client.get("/setup").headers.get("Set-Cookie", "")
    with app.app_context():
        db.engine.dispose()
    assert "Secure" in cookie and "HttpOnly" in cookie


def test_login_starts_a_fresh_session(client, make_user, _token):
    """Nothing set before the login survives it: not a planted value, not the CSRF token."""
    make_user("rec@example.com", "recruiter")
    token = _token(client)
    with client.session_transaction() as s:
        s["planted"] = "by someone else"
    r = _log_in_rec(client, token)
    assert r.status_code == 302
    with client.session_transaction() as s:
        assert "planted" not in s and "_user_id" in s
    assert client.get("/jobs").status_code == 200
    # the login page's CSRF token belonged to the old session
    assert client.post("/logout", data={"csrf_token": token}).status_code == 400
    fresh = _token(client, "/")
    assert fresh != token
    assert client.post("/logout", data={"csrf_token": fresh}).status_code == 302


def test_logout_ends_a_copied_remember_me_cookie_too(app, client, make_user, _token):
    make_user("rec@example.com", "recruiter")
    _log_in_rec(client, _token(client), remember="y")
    remember = client.get_cookie("remember_token")
    assert remember is not None
    copy = app.test_client()
    copy.set_cookie("remember_token", remember.value)
    assert copy.get("/jobs").status_code == 200  # restores a session from the cookie alone
    assert client.post("/logout", data={"csrf_token": _token(client, "/")}).status_code == 302
    stale = app.test_client()
    stale.set_cookie("remember_token", remember.value)
    assert stale.get("/jobs").status_code == 302
    assert copy.get("/jobs").status_code == 302  # and the session it had made ends as well


def test_session_and_remember_cookies_are_lax_httponly_and_secure_over_https(
    monkeypatch, tmp_path, databases
):
    from ats import create_app

    monkeypatch.setenv("ATS_HTTPS", "1")
    app = create_app({"SQLALCHEMY_DATABASE_URI": databases.new(tmp_path), "SECRET_KEY": "t"})
    try:
        with app.app_context():
            from ats.services import auth

            auth.create_user("sec@example.com", PASSWORD, "Sec", "admin")
        client = app.test_client()
        page = client.get("/login", base_url="https://localhost")
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text).group(1)
        r = client.post(
            "/login",
            base_url="https://localhost",
            headers={"Referer": "https://localhost/login"},
            data={
                "csrf_token": token,
                "email": "sec@example.com",
                "password": PASSWORD,
                "remember": "y",
            },  # fmt: skip
        )
        assert r.status_code == 302, r.text
        cookies = {c.split("=", 1)[0]: c for c in r.headers.getlist("Set-Cookie")}
        for name in ("session", "remember_token"):
            assert name in cookies, cookies
            for attribute in ("Secure", "HttpOnly", "SameSite=Lax"):
                assert attribute in cookies[name], (name, cookies[name])
    finally:
        with app.app_context():
            db.engine.dispose()
