"""Serving behind a reverse proxy, and static files under versioned URLs.

``ATS_PROXY_HOPS=N`` trusts N proxies' ``X-Forwarded-*`` headers (ProxyFix):
https and the public host in generated URLs, the client's address for the
per-address limits; without it the headers are ignored, so a client cannot
pick its own address or host. Every static URL the pages use carries the
file's content hash and is cached for a year; anything else revalidates. The
files in ``deploy/`` name commands that exist.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask, url_for

from ats import ROOT, create_app
from ats.extensions import db
from ats.web import static

FORWARDED = {
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "ats.example.com",
    "X-Forwarded-For": "203.0.113.7",
}
YEAR = "max-age=31536000"


@pytest.fixture(autouse=True)
def _no_proxy_settings_from_the_shell(monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs before ``app``: the default app is the one without a proxy."""
    monkeypatch.delenv("ATS_PROXY_HOPS", raising=False)
    monkeypatch.delenv("ATS_HTTPS", raising=False)


@pytest.fixture
def proxied(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    """A second app on the same database, configured from the environment as
    production is: one proxy in front, served over HTTPS."""
    monkeypatch.setenv("ATS_PROXY_HOPS", "1")
    monkeypatch.setenv("ATS_HTTPS", "1")
    keep = ("SQLALCHEMY_DATABASE_URI", "SECRET_KEY", "DATA_DIR", "TESTING", "SMTP_URL", "LLM_URL")
    other = create_app({key: app.config[key] for key in keep})
    yield other
    with other.app_context():
        db.engine.dispose()


@pytest.fixture
def careers(api):
    api.create("company_profile", name="Acme", public_careers_enabled=True)
    return api


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:10]


def _apply(client, slug: str, email: str, forwarded_for: str) -> int:
    url = f"/careers/{slug}/apply"
    html = client.get(url).get_data(as_text=True)
    data = {
        name: re.search(rf'name="{name}" value="([^"]+)"', html).group(1)
        for name in ("csrf_token", "form_token")
    }
    data |= {"name": "Ada Lovelace", "email": email, "privacy_consent": "yes"}
    r = client.post(
        url,
        data=data,
        content_type="multipart/form-data",
        headers={"X-Forwarded-For": forwarded_for},
    )
    return r.status_code


# --- ATS_PROXY_HOPS -------------------------------------------------------------


def test_setting_defaults_to_off_and_refuses_nonsense(app, monkeypatch):
    from ats import config

    assert app.config["PROXY_HOPS"] == 0
    assert app.wsgi_app.__class__.__name__ != "ProxyFix"
    monkeypatch.setenv("ATS_PROXY_HOPS", "-1")
    with pytest.raises(ValueError, match="ATS_PROXY_HOPS"):
        config.load(app.instance_path, {"SECRET_KEY": "t"})


def test_behind_the_proxy_urls_are_https_on_the_public_host(careers, proxied):
    careers.job(title="Backend Engineer", status="open", public=True)
    body = proxied.test_client().get("/careers/sitemap.xml", headers=FORWARDED).get_data(True)
    assert "<loc>https://ats.example.com/careers</loc>" in body
    assert "http://localhost" not in body


def test_without_the_setting_forwarded_headers_are_ignored(careers, client):
    careers.job(title="Backend Engineer", status="open", public=True)
    body = client.get("/careers/sitemap.xml", headers=FORWARDED).get_data(as_text=True)
    assert "<loc>http://localhost/careers</loc>" in body
    assert "ats.example.com" not in body and "<loc>https" not in body


def test_cookies_are_secure_behind_a_tls_proxy(make_user, proxied):
    make_user("admin@example.com")
    client = proxied.test_client()
    page = client.get("/login", headers=FORWARDED)
    cookie = page.headers.get("Set-Cookie", "")
    assert "Secure" in cookie and "HttpOnly" in cookie
    # over HTTPS, Flask-WTF wants a same-origin Referer on every POST: the
    # public host must reach the app (X-Forwarded-Host), or nobody could log in
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.get_data(as_text=True))
    r = client.post(
        "/login",
        data={
            "csrf_token": token.group(1),
            "email": "admin@example.com",
            "password": "quiet-otter-harbour-7",
            "remember": "y",
        },
        headers={**FORWARDED, "Referer": "https://ats.example.com/login"},
    )
    assert r.status_code == 302, r.get_data(as_text=True)
    cookies = r.headers.getlist("Set-Cookie")
    assert cookies and all("Secure" in c for c in cookies), cookies


def test_the_address_limit_counts_the_forwarded_client(careers, proxied):
    proxied.config["APPLY_RATE_LIMIT"] = (1, 600)
    slug = careers.job(title="Backend Engineer", status="open", public=True)["data"]["slug"]
    client = proxied.test_client()
    assert _apply(client, slug, "a@example.com", "198.51.100.1") == 303
    # the proxy appends the address it saw; an entry the client wrote itself is ignored
    assert _apply(client, slug, "b@example.com", "10.9.9.9, 198.51.100.1") == 429
    assert _apply(client, slug, "c@example.com", "198.51.100.2") == 303


def test_without_the_setting_a_forged_address_does_not_escape_the_limit(app, careers, client):
    app.config["APPLY_RATE_LIMIT"] = (1, 600)
    slug = careers.job(title="Backend Engineer", status="open", public=True)["data"]["slug"]
    assert _apply(client, slug, "a@example.com", "198.51.100.1") == 303
    assert _apply(client, slug, "b@example.com", "198.51.100.2") == 429


# --- versioned static files -----------------------------------------------------


def _assets(html: str) -> list[str]:
    """Every script and stylesheet/icon link a page loads."""
    found = re.findall(r"<script[^>]*\ssrc=\"([^\"]+)\"", html)
    for tag in re.findall(r"<link[^>]*>", html):
        if re.search(r'rel="(stylesheet|icon|preload|modulepreload)"', tag):
            found += re.findall(r'\shref="([^"]+)"', tag)
    return [url.replace("&amp;", "&") for url in found]


def _static_filenames() -> set[str]:
    names = set()
    for path in (ROOT / "templates").rglob("*.html"):
        names |= set(re.findall(r"url_for\('static', filename='([^']+)'\)", path.read_text()))
    return names


def test_every_static_url_in_the_templates_is_versioned(app):
    names = _static_filenames()
    assert {"app.css", "app.js", "careers.css", "apply.css"} <= names
    with app.test_request_context():
        for name in names:
            assert url_for("static", filename=name) == (
                f"/static/{name}?v={_sha(ROOT / 'static' / name)}"
            )


def test_pages_load_only_versioned_local_assets(app, careers, login):
    job = careers.job(title="Backend Engineer", status="open", public=True)
    admin = login("admin")
    pages = [
        admin.get("/"),
        admin.get(f"/jobs/{job['id']}"),
        admin.get("/settings/company"),
        admin.get("/careers"),
        admin.get(f"/careers/{job['data']['slug']}/apply"),
    ]
    seen = set()
    for page in pages:
        assert page.status_code == 200
        for url in _assets(page.get_data(as_text=True)):
            assert url.startswith("/") and not url.startswith("//"), url  # no third party
            if url.startswith("/static/"):
                path, _, query = url.partition("?")
                name = path.removeprefix("/static/")
                assert query == f"v={_sha(ROOT / 'static' / name)}", url
                seen.add(name)
    assert seen <= _static_filenames()
    assert {"app.css", "app.js", "careers.css", "apply.css", "js/settings.js"} <= seen
    assert {"vendor/htmx/htmx.min.js", "vendor/sortablejs/Sortable.min.js"} <= seen


def test_a_versioned_file_is_cached_for_a_year(app, client):
    with app.test_request_context():
        url = url_for("static", filename="app.css")
    with client.get(url) as r:
        assert r.status_code == 200
        assert set(r.headers["Cache-Control"].split(", ")) == {"public", YEAR, "immutable"}
    with client.get(url, headers={"If-None-Match": r.headers["ETag"]}) as again:
        assert again.status_code == 304 and "immutable" in again.headers["Cache-Control"]


@pytest.mark.parametrize("query", ["", "?v=0000000000", "?v="])
def test_other_static_requests_revalidate(client, query):
    with client.get(f"/static/app.css{query}") as r:
        assert r.status_code == 200
        assert r.headers["Cache-Control"] == "no-cache"
        assert r.headers.get("ETag") and r.headers.get("Last-Modified")


def test_a_missing_file_is_404_and_unversioned(app, client):
    with app.test_request_context():
        assert url_for("static", filename="nope.css") == "/static/nope.css"
        assert url_for("static", filename="../app.py") == "/static/../app.py"
    assert client.get("/static/nope.css?v=0000000000").status_code == 404


def test_a_changed_file_gets_a_new_version(tmp_path):
    path = tmp_path / "site.css"
    path.write_text("a{color:red}")
    first = static.version(str(tmp_path), "site.css")
    assert first == _sha(path)
    path.write_text("a{color:blue}")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    second = static.version(str(tmp_path), "site.css")
    assert second == _sha(path) != first
    assert static.version(str(tmp_path), "../site.css") is None
    assert static.version(str(tmp_path), ".") is None


def test_the_app_serves_what_the_hash_cache_says(app, client, monkeypatch):
    """A new hash (as after a deploy) makes a new URL, and only that one is immutable."""
    path = os.path.join(app.static_folder, "app.css")
    real = static.version(app.static_folder, "app.css")
    key = static._hashes[path][0]
    monkeypatch.setitem(static._hashes, path, (key, "0123456789"))
    with app.test_request_context():
        assert url_for("static", filename="app.css") == "/static/app.css?v=0123456789"
    with client.get("/static/app.css?v=0123456789") as r:
        assert "immutable" in r.headers["Cache-Control"]
    with client.get(f"/static/app.css?v={real}") as r:
        assert r.headers["Cache-Control"] == "no-cache"


# --- deploy/ --------------------------------------------------------------------

DEPLOY = ROOT / "deploy"


def _exec_lines(unit: str) -> list[str]:
    text = (DEPLOY / unit).read_text()
    return re.findall(r"^Exec\w+=(.+)$", text, flags=re.M)


def test_systemd_units_run_commands_that_exist(runner):
    web, worker = _exec_lines("ats-web.service"), _exec_lines("ats-worker.service")
    assert any("flask --app app db upgrade" in line for line in web)
    assert any("gunicorn -c python:ats.gunicorn_conf app:app" in line for line in web)
    assert any("flask --app app worker" in line for line in worker)
    for line in web + worker:
        words = line.split()
        if words[0].endswith("/flask"):
            args = words[3:]  # after "flask --app app"
            result = runner.invoke(args=[*args, "--help"])
            assert result.exit_code == 0, (line, result.output)
    for unit in ("ats-web.service", "ats-worker.service"):
        text = (DEPLOY / unit).read_text()
        for setting in (
            "User=ats",
            "EnvironmentFile=/etc/ats/ats.env",
            "Restart=on-failure",
            "NoNewPrivileges=yes",
            "ProtectSystem=strict",
            "ReadWritePaths=",
        ):
            assert setting in text, (unit, setting)


def test_nginx_example_matches_the_app(app):
    text = (DEPLOY / "nginx.conf").read_text()
    size = re.search(r"client_max_body_size (\d+)m;", text)
    assert size and int(size.group(1)) * 2**20 >= app.config["MAX_CONTENT_LENGTH"]
    for header in ("X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host"):
        assert f"proxy_set_header {header}" in text
    assert "proxy_pass http://127.0.0.1:5000" in text
    assert "immutable" in text
    assert "ATS_PROXY_HOPS=1" in (DEPLOY / "ats.env").read_text()


def test_settings_file_names_only_settings_the_app_reads():
    read = set()
    for path in (ROOT / "ats").rglob("*.py"):
        read |= set(re.findall(r"\b(ATS_[A-Z_]+)\b", path.read_text()))
    written = set(re.findall(r"^#?(ATS_[A-Z_]+)=", (DEPLOY / "ats.env").read_text(), re.M))
    assert {"ATS_SECRET_KEY", "ATS_PROXY_HOPS", "ATS_HTTPS", "ATS_DATABASE_URL"} <= written
    assert written - read == set()


def test_ats_flask_is_an_executable_shell_script():
    import subprocess

    path = DEPLOY / "ats-flask"
    assert os.access(path, os.X_OK)
    subprocess.run(["sh", "-n", str(path)], check=True)
    assert "flask --app app" in path.read_text()
