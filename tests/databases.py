"""Where the tests keep their data: SQLite files copied from one migrated template
(the default), or PostgreSQL databases when pytest runs with ``--db=postgres`` and
``ATS_TEST_POSTGRES_URL`` names a server (any database on it; the tests make their
own, prefixed with its name, and drop them at the end).

Both are built by the real migrations, once per test process. On PostgreSQL a
new database per test would cost more than most tests, so the usual ``app`` fixture
shares one database per process and empties its tables after each test; fixtures
that need a database of their own (module-scoped worlds, live servers) get one
cloned from the migrated template."""

from __future__ import annotations

import itertools
import os
import shutil
from pathlib import Path

from sqlalchemy import create_engine, make_url, text

# Tables that are data, not schema: everything but Alembic's bookkeeping.
KEEP = {"alembic_version"}


def _migrate(url: str) -> None:
    from flask_migrate import upgrade

    from ats import create_app
    from ats.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "test"})
    with app.app_context():
        upgrade()
        db.engine.dispose()


class SqliteDatabases:
    name = "sqlite"

    def __init__(self, root: Path) -> None:
        self.template = root / "template.sqlite3"
        _migrate(f"sqlite:///{self.template}")

    def new(self, tmp: Path, filename: str = "ats.sqlite3") -> str:
        """A migrated database of its own."""
        path = tmp / filename
        shutil.copy(self.template, path)
        return f"sqlite:///{path}"

    def empty(self, tmp: Path) -> str:
        """A database with no schema yet (a server that runs ``db upgrade`` itself)."""
        return f"sqlite:///{tmp / 'ats.sqlite3'}"

    def shared(self, tmp: Path) -> str:
        return self.new(tmp)

    def reset(self) -> None:
        """Nothing to do: every test has its own file."""

    def close(self) -> None:
        pass


class PostgresDatabases:
    name = "postgresql"

    def __init__(self, base_url: str, worker: str) -> None:
        self.base = make_url(base_url)
        self.prefix = f"{self.base.database or 'ats_test'}_{worker}_".lower()
        self.admin = create_engine(
            self.base.set(database="postgres"), isolation_level="AUTOCOMMIT", pool_size=1
        )
        self.counter = itertools.count()
        with self.admin.connect() as conn:
            stale = conn.scalars(
                text("SELECT datname FROM pg_database WHERE datname LIKE :p"),
                {"p": self.prefix.replace("_", r"\_") + "%"},
            ).all()
            for name in stale:
                conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        self.template = self._create("template")
        _migrate(self._url(self.template))
        self._shared = self._create("shared", template=self.template)
        self.shared_engine = create_engine(self._url(self._shared), pool_size=1)
        with self.shared_engine.connect() as conn:
            tables = conn.scalars(
                text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
            ).all()
        self.tables = sorted(set(tables) - KEEP)
        self._probe = " UNION ALL ".join(
            f"SELECT '{t}' WHERE EXISTS (SELECT 1 FROM \"{t}\")" for t in self.tables
        )

    def _url(self, name: str) -> str:
        return self.base.set(database=name).render_as_string(hide_password=False)

    def _create(self, label: str, template: str | None = None) -> str:
        name = f"{self.prefix}{label}_{next(self.counter)}"
        clause = f' TEMPLATE "{template}"' if template else ""
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"{clause}'))
        return name

    def new(self, tmp: Path, filename: str = "") -> str:
        return self._url(self._create("db", template=self.template))

    def empty(self, tmp: Path) -> str:
        return self._url(self._create("empty"))

    def shared(self, tmp: Path) -> str:
        return self._url(self._shared)

    def reset(self) -> None:
        """Empty the shared database: one TRUNCATE of the tables that have rows
        (a TRUNCATE costs about 2 ms a table, and most tests touch a few)."""
        with self.shared_engine.begin() as conn:
            used = conn.scalars(text(self._probe)).all()
            if used:
                names = ", ".join(f'"{t}"' for t in used)
                conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))

    def close(self) -> None:
        self.shared_engine.dispose()
        with self.admin.connect() as conn:
            for name in conn.scalars(
                text("SELECT datname FROM pg_database WHERE datname LIKE :p"),
                {"p": self.prefix.replace("_", r"\_") + "%"},
            ).all():
                conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        self.admin.dispose()


Databases = SqliteDatabases | PostgresDatabases

# The kind of database this test run uses ("sqlite" or "postgres"), set by conftest,
# and the databases themselves, made on first use in each test process.
kind = "sqlite"
_active: Databases | None = None


def active(root: Path) -> Databases:
    global _active
    if _active is None:
        if kind == "postgres":
            url = os.environ.get("ATS_TEST_POSTGRES_URL")
            if not url:
                raise RuntimeError("--db=postgres needs ATS_TEST_POSTGRES_URL")
            _active = PostgresDatabases(url, os.environ.get("PYTEST_XDIST_WORKER", "main"))
        else:
            _active = SqliteDatabases(root)
    return _active


def close() -> None:
    global _active
    if _active is not None:
        _active.close()
        _active = None
