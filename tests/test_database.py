"""The storage contract: SQLite pragmas, BEGIN IMMEDIATE for writes only,
migrations that build exactly the models' schema, and indexes for every
filter and sort key (the id tie-breaker inside the sort index)."""

from __future__ import annotations

from sqlalchemy import event, inspect, text

from ats import fields as F
from ats.extensions import db
from ats.models import RECORDS


def test_sqlite_pragmas(app):
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


def test_writes_begin_immediate_and_reads_do_not(app, api):
    job = api.job()
    writes = _statements(app, lambda: api.patch(f"/data/job/{job['id']}", json={"title": "X"}))
    assert "BEGIN IMMEDIATE" in writes
    reads = _statements(app, lambda: api.get("/data/job"))
    assert "BEGIN IMMEDIATE" not in reads and any(s.startswith("BEGIN") for s in reads)


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


def test_query_plan_uses_the_sort_index(app, api):
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
