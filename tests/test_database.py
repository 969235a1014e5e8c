"""The storage contract: SQLite pragmas, BEGIN IMMEDIATE for writes only (the
advisory write lock on PostgreSQL), migrations that build exactly the models'
schema on either database, and indexes for every filter and sort key (the id
tie-breaker inside the sort index)."""

from __future__ import annotations

import pytest
from sqlalchemy import event, inspect, text

from ats import fields as F
from ats.extensions import db
from ats.models import RECORDS


def _dialect(app) -> str:
    with app.app_context():
        return db.engine.dialect.name


@pytest.fixture
def sqlite_only(app):
    if _dialect(app) != "sqlite":
        pytest.skip("SQLite's own settings")


@pytest.fixture
def postgres_only(app):
    if _dialect(app) != "postgresql":
        pytest.skip("PostgreSQL only (pytest --db=postgres)")


def test_sqlite_pragmas(app, sqlite_only):
    with app.app_context():
        conn = db.session.connection()
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() >= 1000


def _statements(app, action):
    seen: list[str] = []
    with app.app_context():
        engine = db.engine

        def record(conn, cursor, statement, *args):
            seen.append(statement.split()[0:2])

        event.listen(engine, "before_cursor_execute", record)
        try:
            action()
        finally:
            event.remove(engine, "before_cursor_execute", record)
    return [" ".join(s) for s in seen]


def test_writes_begin_immediate_and_reads_do_not(app, api, sqlite_only):
    job = api.job()
    writes = _statements(app, lambda: api.patch(f"/data/job/{job['id']}", json={"title": "X"}))
    assert "BEGIN IMMEDIATE" in writes
    reads = _statements(app, lambda: api.get("/data/job"))
    assert "BEGIN IMMEDIATE" not in reads and any(s.startswith("BEGIN") for s in reads)


def test_postgres_writes_take_the_write_lock_and_reads_do_not(app, api, postgres_only):
    job = api.job()
    writes = _statements(app, lambda: api.patch(f"/data/job/{job['id']}", json={"title": "X"}))
    assert "SELECT pg_advisory_xact_lock(4281427)" in writes
    reads = _statements(app, lambda: api.get("/data/job"))
    assert not any("advisory" in s for s in reads)


def test_postgres_write_lock_serialises_writers(app, postgres_only):
    """A second writer waits for the first: checks inside a write see a settled world."""
    import threading

    from ats.database import writing

    order: list[str] = []
    first_in = threading.Event()

    def writer(name: str, hold: float) -> None:
        with app.app_context():
            with writing():
                order.append(f"{name} in")
                first_in.set()
                threading.Event().wait(hold)
                order.append(f"{name} out")

    a = threading.Thread(target=writer, args=("a", 0.5))
    a.start()
    first_in.wait(5)
    b = threading.Thread(target=writer, args=("b", 0))
    b.start()
    a.join(10)
    b.join(10)
    assert order == ["a in", "a out", "b in", "b out"]


def test_migrations_match_the_models(app):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with app.app_context():
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
    assert diff == []


def test_every_filter_and_sort_key_has_an_index(app):
    with app.app_context():
        insp = inspect(db.engine)
        for name, mdef in F.MODELS.items():
            indexes = [tuple(ix["column_names"]) for ix in insp.get_indexes(name)]
            indexes += [tuple(u["column_names"]) for u in insp.get_unique_constraints(name)]
            for key in (*mdef.sorts, *F.ENVELOPE_SORTS):
                assert any(ix[:2] == (key, "id") for ix in indexes), f"{name}: sort {key}"
            for key in mdef.filters:
                f = mdef[key]
                if f.type in (F.TAGS, F.LIST) or key in mdef.member_fields:
                    continue  # matched through field_member
                column = "email_key" if f.unique_ci else key
                assert any(ix[0] == column for ix in indexes), f"{name}: filter {key}"
            assert RECORDS[name].__tablename__ == name


def test_query_plan_uses_the_sort_index(app, api, sqlite_only):
    """Mixed directions would force a sort; ours walks the composite index."""
    api.job()
    with app.app_context():
        plan = db.session.execute(
            text(
                "EXPLAIN QUERY PLAN SELECT id FROM application WHERE is_archived = 0 "
                "AND job_id = 'j' AND stage = 'new' ORDER BY fit_score DESC, id DESC LIMIT 50"
            )
        ).all()
    detail = " ".join(str(row[-1]) for row in plan)
    assert "ix_application_job_id_stage_fit_score_id" in detail
    assert "TEMP B-TREE" not in detail


def test_postgres_query_plan_uses_the_sort_index(app, api, postgres_only):
    """The same on PostgreSQL: the composite index gives the order, no Sort node."""
    api.job()
    with app.app_context():
        db.session.execute(text("SET LOCAL enable_seqscan = off"))  # tiny tables here
        plan = db.session.execute(
            text(
                "EXPLAIN SELECT id FROM application WHERE is_archived = false "
                "AND job_id = 'j' AND stage = 'new' ORDER BY fit_score DESC, id DESC LIMIT 50"
            )
        ).scalars()
        detail = "\n".join(plan)
        db.session.rollback()
    assert "ix_application_job_id_stage_fit_score_id" in detail
    assert "Sort" not in detail.replace("Sort Key", "")
