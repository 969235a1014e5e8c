"""Shared fixtures: a real database per test (SQLite, or PostgreSQL with
``--db=postgres``: see tests/databases.py), the Flask test client, the CLI
runner, users with tokens, and factories for the common objects."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from ats import create_app
from ats.extensions import db
from ats.services import auth
from tests import databases as databases_module

# No API rate limit unless a test asks for one (tests/test_ratelimit.py): apps
# built by other modules' fixtures and live servers (they inherit the
# environment) would otherwise share <instance>/ratelimits.sqlite3.
os.environ.setdefault("ATS_API_RATE_LIMIT", "off")


def _reuse_url_builders() -> None:
    """Most tests build an app of their own, and 90 % of ``create_app`` is Werkzeug
    compiling the same URL builders again (Python source per rule, ~0.6 ms each).
    A builder depends only on the rule's parts, its defaults and ``append_unknown``
    (it reads the converters through ``self`` when called), so the tests compile
    each once. Test speed only: the app itself builds its rules once per process."""
    from werkzeug.routing.rules import Rule

    compile_builder = Rule._compile_builder
    builders: dict[tuple, Any] = {}

    def cached(self: Rule, append_unknown: bool = True) -> Any:
        key = (tuple(self._trace), repr(sorted((self.defaults or {}).items())), append_unknown)
        if key not in builders:
            builders[key] = compile_builder(self, append_unknown)
        return builders[key]

    Rule._compile_builder = cached  # type: ignore[method-assign]


_reuse_url_builders()

# The password of every user the fixtures make: one the password policy accepts.
PASSWORD = "quiet-otter-harbour-7"  # noqa: S105


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--db",
        choices=("sqlite", "postgres"),
        default="sqlite",
        help="database to run on; postgres needs ATS_TEST_POSTGRES_URL (make test does both)",
    )


def pytest_configure(config: pytest.Config) -> None:
    databases_module.kind = config.getoption("--db")


def pytest_report_header(config: pytest.Config) -> str:
    return f"database: {config.getoption('--db')}"


@pytest.fixture(autouse=True)
def _cheap_password_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """scrypt at 1/32 of production's work: a test makes and checks passwords
    often, and each hash at full cost takes ~0.1 s. Production's cost is pinned
    by tests/test_cli.py (which undoes this); hashes check the same either way."""
    from functools import partial

    from werkzeug.security import generate_password_hash

    import ats.models

    cheap = partial(generate_password_hash, method="scrypt:1024:8:1")
    monkeypatch.setattr(ats.models, "generate_password_hash", cheap)


@pytest.fixture(scope="session")
def databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[databases_module.Databases]:
    """Migrated databases for this run: ``databases.new(tmp_path)`` is a URL of one's own."""
    yield databases_module.active(tmp_path_factory.mktemp("template"))
    databases_module.close()


@pytest.fixture
def app(tmp_path: Path, databases: databases_module.Databases) -> Iterator[Flask]:
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": databases.shared(tmp_path),
            "SECRET_KEY": "test",
            "DATA_DIR": str(tmp_path / "data"),
            "TESTING": True,
            "SMTP_URL": None,  # never real mail or LLM calls from a developer's shell
            "LLM_URL": None,
        }
    )
    yield app
    with app.app_context():
        db.engine.dispose()
    databases.reset()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> Any:
    return app.test_cli_runner()


class Api:
    """A test client speaking xapi2 with one bearer token."""

    def __init__(self, client: FlaskClient, token: str, user_id: str) -> None:
        self.client = client
        self.token = token
        self.user_id = user_id

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", **(extra or {})}

    def get(self, path: str, **kw: Any) -> Any:
        return self.client.get(_url(path), headers=self.headers(), **kw)

    def post(self, path: str, json: Any = None, **kw: Any) -> Any:
        return self.client.post(_url(path), json=json, headers=self.headers(), **kw)

    def patch(self, path: str, json: Any = None, **kw: Any) -> Any:
        return self.client.patch(_url(path), json=json, headers=self.headers(), **kw)

    def delete(self, path: str, **kw: Any) -> Any:
        return self.client.delete(_url(path), headers=self.headers(), **kw)

    # factories: create through the API and return the envelope
    def create(self, model: str, **data: Any) -> dict[str, Any]:
        response = self.post(f"/data/{model}", json=data)
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    def job(self, **data: Any) -> dict[str, Any]:
        return self.create("job", **{"title": "Backend Engineer", **data})

    def candidate(self, **data: Any) -> dict[str, Any]:
        return self.create("candidate", **{"name": "Ada Lovelace", **data})

    def application(self, job: dict | None = None, candidate: dict | None = None, **data: Any):
        job = job or self.job()
        candidate = candidate or self.candidate()
        return self.create("application", job_id=job["id"], candidate_id=candidate["id"], **data)


def _url(path: str) -> str:
    return path if path.startswith("/xapi2") or path.startswith("/healthz") else "/xapi2" + path


@pytest.fixture
def make_user(app: Flask):
    """Create a user: ``make_user("x@example.com", role="interviewer")``."""

    def make(email: str = "admin@example.com", role: str = "admin", password: str = PASSWORD):
        with app.app_context():
            user = auth.create_user(email, password, email.split("@")[0], role)
            return user.id

    return make


@pytest.fixture
def make_api(app: Flask, client: FlaskClient, make_user):
    """An ``Api`` for a new user with the given scopes (default ``*``)."""
    counter = iter(range(1000))

    def make(scopes: str = "*", role: str = "admin", email: str | None = None, **kw: Any) -> Api:
        email = email or f"user{next(counter)}@example.com"
        user_id = make_user(email, role)
        with app.app_context():
            user = auth.find_user(email)
            _token, secret = auth.create_token(user, auth.parse_scopes(scopes), **kw)
        return Api(app.test_client(), secret, user_id)

    return make


@pytest.fixture
def api(make_api) -> Api:
    """An admin with a ``*`` token: the usual test caller."""
    return make_api()


@pytest.fixture
def login(app: Flask, make_user):
    """A test client logged in through the real login form: ``login("recruiter")``.

    Returns the client; ``client.user_id`` is the user's id.
    """

    def make(role: str = "admin", email: str | None = None) -> FlaskClient:
        email = email or f"{role}-{len(_logins)}@example.com"
        _logins.append(email)
        user_id = make_user(email, role)
        client = app.test_client()
        page = client.get("/login")
        token = csrf_from(page.get_data(as_text=True))
        r = client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": token})
        assert r.status_code == 302, r.get_data(as_text=True)
        client.user_id = user_id  # type: ignore[attr-defined]
        # login starts a fresh session, so the login page's token is gone: take the new one
        client.csrf = csrf_from(client.get("/").get_data(as_text=True))  # type: ignore[attr-defined]
        return client

    _logins: list[str] = []
    return make


def csrf_from(html: str) -> str:
    import re

    m = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        r'"X-CSRFToken": "([^"]+)"', html
    )
    assert m, "no CSRF token on the page"
    return m.group(1)


@pytest.fixture
def csrf_of():
    """``csrf_of(client, "/login")``: the CSRF token a page hands out."""

    def get(client: FlaskClient, path: str = "/login") -> str:
        return csrf_from(client.get(path).get_data(as_text=True))

    return get
