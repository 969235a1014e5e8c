"""full-text search: FTS5 on SQLite, tsvector + GIN on PostgreSQL

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 18:00:00

The index of ``ats.services.search``, kept in step by triggers on the tables
themselves (the app writes with Core INSERT/UPDATE/DELETE as well as the ORM;
triggers see every path), and filled from the rows already there.

SQLite: ``search_key`` gives every indexed object a stable integer (a table's
own rowid may change on VACUUM), the rowid of its row in the FTS5 table
``<model>_fts``. PostgreSQL: ``<model>_fts(id, document tsvector)`` with a GIN
index, deleted with its object by the foreign key, built with the text search
configuration ``ats_search`` (``simple`` behind ``unaccent`` where the
extension is available).

Note for later migrations: on SQLite, recreating one of the indexed tables
(Alembic's batch mode does: copy, drop, rename) drops its triggers; create
them again there (copy ``_sqlite_triggers`` from here) and refill the index.
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# A frozen copy of ats.services.search.DOCUMENTS as of this revision (a
# migration must not change when the code does): the indexed columns per model
# with their weight. candidate_name/candidate_email come from the candidate.
DOCUMENTS = {
    "job": (
        ("title", "A"),
        ("department", "B"),
        ("location", "B"),
        ("tags", "B"),
        ("summary", "C"),
        ("description", "D"),
        ("responsibilities", "D"),
        ("requirements", "D"),
        ("nice_to_have", "D"),
        ("benefits", "D"),
    ),
    "candidate": (
        ("name", "A"),
        ("email", "A"),
        ("phone", "B"),
        ("location", "B"),
        ("tags", "B"),
    ),
    "application": (
        ("candidate_name", "A"),
        ("candidate_email", "A"),
        ("tags", "B"),
        ("source_label", "C"),
        ("cover_letter", "D"),
        ("cv_text", "D"),
        ("rejected_note", "D"),
    ),
    "application_note": (("body", "D"),),
}
FROM_CANDIDATE = {"candidate_name": "name", "candidate_email": "email"}


def _own_columns(model):
    """The document's columns that are the model's own (not the candidate's)."""
    return [c for c, _ in DOCUMENTS[model] if c not in FROM_CANDIDATE]


def _changed(model, old="old", new="new", distinct="IS NOT", cast=""):
    """Whether one of the document's own columns changed (``cast``: PostgreSQL's
    json has no equality, its text does)."""
    return " OR ".join(
        f"{old}.{c}{cast if c == 'tags' else ''} {distinct} {new}.{c}{cast if c == 'tags' else ''}"
        for c in _own_columns(model)
    )


# --- SQLite ---------------------------------------------------------------------


def _sqlite_values(model, row):
    """The document's values for ``row`` (``new`` or a table alias); ``c`` is the candidate."""
    return ", ".join(
        f"c.{FROM_CANDIDATE[col]}" if col in FROM_CANDIDATE else f"{row}.{col}"
        for col, _ in DOCUMENTS[model]
    )


def _sqlite_from(model, row):
    if model == "application":
        return f"LEFT JOIN candidate c ON c.id = {row}.candidate_id"
    return ""


def _sqlite_triggers(model):
    fts = f"{model}_fts"
    columns = ", ".join(c for c, _ in DOCUMENTS[model])
    key = "(SELECT key FROM search_key WHERE object_id = {}.id)"
    own = _own_columns(model)
    sets = ", ".join(f"{c} = new.{c}" for c in own)
    statements = [
        f"""CREATE TRIGGER {fts}_insert AFTER INSERT ON {model} BEGIN
            INSERT INTO search_key (object_id) VALUES (new.id);
            INSERT INTO {fts} (rowid, {columns})
                SELECT k.key, {_sqlite_values(model, "new")}
                FROM search_key k {_sqlite_from(model, "new")}
                WHERE k.object_id = new.id;
        END""",
        f"""CREATE TRIGGER {fts}_update AFTER UPDATE OF {", ".join(own)} ON {model}
            WHEN {_changed(model)} BEGIN
            UPDATE {fts} SET {sets} WHERE rowid = {key.format("new")};
        END""",
        f"""CREATE TRIGGER {fts}_delete AFTER DELETE ON {model} BEGIN
            DELETE FROM {fts} WHERE rowid = {key.format("old")};
            DELETE FROM search_key WHERE object_id = old.id;
        END""",
    ]
    if model == "candidate":
        # the candidate's name and e-mail are part of their applications' documents
        statements.append(
            """CREATE TRIGGER application_fts_candidate AFTER UPDATE OF name, email ON candidate
                WHEN old.name IS NOT new.name OR old.email IS NOT new.email BEGIN
                UPDATE application_fts SET candidate_name = new.name, candidate_email = new.email
                WHERE rowid IN (SELECT k.key FROM application a
                                JOIN search_key k ON k.object_id = a.id
                                WHERE a.candidate_id = new.id);
            END"""
        )
    return statements


def _sqlite_upgrade():
    op.execute(
        "CREATE TABLE search_key (key INTEGER PRIMARY KEY, object_id VARCHAR(40) NOT NULL UNIQUE)"
    )
    for model in DOCUMENTS:
        fts = f"{model}_fts"
        columns = ", ".join(c for c, _ in DOCUMENTS[model])
        op.execute(
            f"CREATE VIRTUAL TABLE {fts} USING fts5({columns}, "
            "tokenize = 'unicode61 remove_diacritics 2')"
        )
        op.execute(f"INSERT INTO search_key (object_id) SELECT id FROM {model} ORDER BY id")
        op.execute(
            f"INSERT INTO {fts} (rowid, {columns}) "
            f"SELECT k.key, {_sqlite_values(model, 'r')} FROM {model} r "
            f"JOIN search_key k ON k.object_id = r.id {_sqlite_from(model, 'r')}"
        )
        for statement in _sqlite_triggers(model):
            op.execute(statement)


def _sqlite_downgrade():
    for model in DOCUMENTS:
        for suffix in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {model}_fts_{suffix}")
    op.execute("DROP TRIGGER IF EXISTS application_fts_candidate")
    for model in DOCUMENTS:
        op.execute(f"DROP TABLE IF EXISTS {model}_fts")
    op.execute("DROP TABLE IF EXISTS search_key")


# --- PostgreSQL -----------------------------------------------------------------


def _pg_document(model, row, candidate=None):
    """The tsvector of ``row``; ``candidate`` is the record the candidate's columns come from."""
    parts = []
    for col, weight in DOCUMENTS[model]:
        if col in FROM_CANDIDATE:
            value = f"{candidate}.{FROM_CANDIDATE[col]}"
        elif col == "tags":
            value = f"{row}.tags::text"
        else:
            value = f"{row}.{col}"
        parts.append(f"setweight(to_tsvector('ats_search', ats_search_text({value})), '{weight}')")
    return " || ".join(parts)


def _pg_upgrade():
    bind = op.get_bind()
    unaccent = bind.exec_driver_sql(
        "SELECT 1 FROM pg_available_extensions WHERE name = 'unaccent'"
    ).scalar()
    op.execute("CREATE TEXT SEARCH CONFIGURATION ats_search (COPY = simple)")
    if unaccent:
        op.execute("CREATE EXTENSION IF NOT EXISTS unaccent")
        op.execute(
            "ALTER TEXT SEARCH CONFIGURATION ats_search ALTER MAPPING FOR "
            "asciiword, word, numword, asciihword, hword, numhword, "
            "hword_asciipart, hword_part, hword_numpart WITH unaccent, simple"
        )
    # punctuation to spaces: e-mail addresses, node.js, full-stack split into
    # words as FTS5's unicode61 does, so both databases find the same things
    op.execute(
        "CREATE FUNCTION ats_search_text(value text) RETURNS text LANGUAGE sql IMMUTABLE "
        "AS $$ SELECT regexp_replace(coalesce(value, ''), '[[:punct:]]+', ' ', 'g') $$"
    )
    for model in DOCUMENTS:
        fts = f"{model}_fts"
        op.execute(
            f"CREATE TABLE {fts} (id VARCHAR(40) PRIMARY KEY "
            f"REFERENCES {model} (id) ON DELETE CASCADE, document tsvector NOT NULL)"
        )
        op.execute(f"CREATE INDEX ix_{fts}_document ON {fts} USING gin (document)")
        if model == "application":
            body = f"""DECLARE c candidate%ROWTYPE;
            BEGIN
                SELECT * INTO c FROM candidate WHERE id = NEW.candidate_id;
                INSERT INTO {fts} (id, document) VALUES (NEW.id, {_pg_document(model, "NEW", "c")})
                ON CONFLICT (id) DO UPDATE SET document = EXCLUDED.document;
                RETURN NULL;
            END"""
        else:
            body = f"""BEGIN
                INSERT INTO {fts} (id, document) VALUES (NEW.id, {_pg_document(model, "NEW")})
                ON CONFLICT (id) DO UPDATE SET document = EXCLUDED.document;
                RETURN NULL;
            END"""
        op.execute(f"CREATE FUNCTION {fts}_sync() RETURNS trigger LANGUAGE plpgsql AS $${body}$$")
        op.execute(
            f"CREATE TRIGGER {fts}_insert AFTER INSERT ON {model} "
            f"FOR EACH ROW EXECUTE FUNCTION {fts}_sync()"
        )
        op.execute(
            f"CREATE TRIGGER {fts}_update AFTER UPDATE OF {', '.join(_own_columns(model))} "
            f"ON {model} FOR EACH ROW "
            f"WHEN ({_changed(model, 'OLD', 'NEW', 'IS DISTINCT FROM', '::text')}) "
            f"EXECUTE FUNCTION {fts}_sync()"
        )
        if model == "application":
            op.execute(
                f"INSERT INTO {fts} (id, document) SELECT r.id, "
                f"{_pg_document(model, 'r', 'c')} FROM application r "
                "LEFT JOIN candidate c ON c.id = r.candidate_id"
            )
        else:
            op.execute(
                f"INSERT INTO {fts} (id, document) SELECT r.id, {_pg_document(model, 'r')} "
                f"FROM {model} r"
            )
        # statistics now: without them the planner scans instead of using the
        # GIN index until autovacuum gets round to the new table (300 ms, not 5)
        op.execute(f"ANALYZE {fts}")
    # the candidate's name and e-mail are part of their applications' documents
    op.execute(
        "CREATE FUNCTION application_fts_candidate() RETURNS trigger LANGUAGE plpgsql AS $$"
        "BEGIN UPDATE application_fts f SET document = "
        f"{_pg_document('application', 'r', 'NEW')} "
        "FROM application r WHERE r.candidate_id = NEW.id AND f.id = r.id; RETURN NULL; END$$"
    )
    op.execute(
        "CREATE TRIGGER application_fts_candidate AFTER UPDATE OF name, email ON candidate "
        "FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name "
        "OR OLD.email IS DISTINCT FROM NEW.email) EXECUTE FUNCTION application_fts_candidate()"
    )


def _pg_downgrade():
    op.execute("DROP TRIGGER IF EXISTS application_fts_candidate ON candidate")
    op.execute("DROP FUNCTION IF EXISTS application_fts_candidate()")
    for model in DOCUMENTS:
        fts = f"{model}_fts"
        op.execute(f"DROP TRIGGER IF EXISTS {fts}_insert ON {model}")
        op.execute(f"DROP TRIGGER IF EXISTS {fts}_update ON {model}")
        op.execute(f"DROP FUNCTION IF EXISTS {fts}_sync()")
        op.execute(f"DROP TABLE IF EXISTS {fts}")
    op.execute("DROP FUNCTION IF EXISTS ats_search_text(text)")
    op.execute("DROP TEXT SEARCH CONFIGURATION IF EXISTS ats_search")
    # the unaccent extension stays: other things may use it, and it holds no data


def upgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        _sqlite_upgrade()
    elif dialect == "postgresql":
        _pg_upgrade()
    else:
        raise NotImplementedError(f"full-text search on {dialect}")


def downgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        _sqlite_downgrade()
    elif dialect == "postgresql":
        _pg_downgrade()
