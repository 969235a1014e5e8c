"""Full-text search over jobs, candidates, applications and notes: one function
(``matches``) for the recruiter search boxes and the API's ``?q=``, on SQLite and
PostgreSQL alike.

**The index** (built by migration 0006, kept in step by database triggers, so
every write path, ORM or Core INSERT, API, pages, imports and the retention
eraser, updates it in the same transaction):

- SQLite: an FTS5 table ``<model>_fts`` per model with the columns of
  ``DOCUMENTS`` (tokenizer ``unicode61 remove_diacritics 2``: lower case,
  accents folded, split at anything that is not a letter or digit), its rowid
  taken from ``search_key``, a small table that gives every object id a
  stable integer (a table's own rowid may change on VACUUM).
- PostgreSQL: a table ``<model>_fts`` (``id``, ``document tsvector``) with a
  GIN index, built with the text search configuration ``ats_search``: the
  ``simple`` configuration (no stemming, no stop words: the content is English
  and German) with ``unaccent`` in front. Punctuation is turned into spaces
  before parsing, so e-mail addresses, ``node.js`` or ``full-stack`` split into
  words as they do in FTS5.

An application's document holds its candidate's name and e-mail too (a
trigger on ``candidate`` refreshes them), so "ada python" finds Ada's
application whose CV says Python, and one ranking covers it all. Candidates
are found by their own document or by one of their applications'
(``candidate_matches``), as far as the user may see those applications.

**The query language** (``parse``): words, all of which must match, each as
a prefix (``eng`` finds "engineer"); ``"quoted words"`` must appear in that
order, exactly; ``-word`` or ``-"some words"`` excludes. Everything else is
taken as text, never as FTS5 or tsquery syntax: a word is cut into its letters
and digits (``node.js`` is the phrase "node js"), quotes, ``*``, ``:``,
parentheses, ``NEAR``, ``AND``/``OR`` are plain words or separators.

**Visibility** is the caller's: ``matches`` narrows, ``records.visible`` still
decides what a user may see (``query.list_records`` applies both).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from sqlalchemy import column, func, literal_column, select, table, text, union_all
from sqlalchemy.dialects.postgresql import REGCONFIG, TSVECTOR
from sqlalchemy.sql import Select

from ..errors import BadRequest

# The one table of what is searched: per model, the indexed columns with their
# weight (A most important ... D least). Migration 0006 holds a frozen copy; a
# change here needs a new migration (tests/test_search.py compares them).
# Application documents take candidate_name/candidate_email from the candidate.
DOCUMENTS: dict[str, tuple[tuple[str, str], ...]] = {
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
MODELS = tuple(DOCUMENTS)

# bm25 column weights for FTS5 (PostgreSQL's ts_rank has its own, 1.0/0.4/0.2/0.1)
BM25_WEIGHTS = {"A": 10.0, "B": 4.0, "C": 2.0, "D": 1.0}
TS_CONFIG = "ats_search"
KEY_TABLE = "search_key"

MAX_LENGTH = 256  # characters of q
MAX_TERMS = 16  # words or quoted phrases, excluded ones included

_TERM = re.compile(r'(-?)(?:"([^"]*)"?|([^\s"]+))')
_WORD = re.compile(r"[^\W_]+")


def index_table(model: str) -> str:
    return f"{model}_fts"


@dataclass(frozen=True)
class Term:
    words: tuple[str, ...]
    prefix: bool  # the last word may be the start of a longer one
    exclude: bool = False


@dataclass(frozen=True)
class Query:
    terms: tuple[Term, ...]

    @property
    def include(self) -> list[Term]:
        return [t for t in self.terms if not t.exclude]

    @property
    def exclude(self) -> list[Term]:
        return [t for t in self.terms if t.exclude]


def _bad(message: str) -> BadRequest:
    return BadRequest(f"q: {message}", fields={"q": message})


def parse(text: str) -> Query | None:
    """The user's search text as terms; None when it is blank.

    Raises ``BadRequest`` (field ``q``) for text that cannot be a search: too
    long, NUL characters, too many words, nothing but punctuation, or only
    excluded words.
    """
    if "\x00" in text:
        raise _bad("must not contain NUL characters")
    if len(text) > MAX_LENGTH:
        raise _bad(f"at most {MAX_LENGTH} characters")
    text = unicodedata.normalize("NFKC", text)
    if not text.strip():
        return None
    terms: list[Term] = []
    for m in _TERM.finditer(text):
        minus, quoted, bare = m.groups()
        words = tuple(w.lower() for w in _WORD.findall(quoted if quoted is not None else bare))
        if not words:
            continue
        terms.append(Term(words, prefix=quoted is None, exclude=bool(minus)))
    if not terms:
        raise _bad("nothing to search for: give a word of letters or digits")
    if len(terms) > MAX_TERMS:
        raise _bad(f"at most {MAX_TERMS} words or quoted phrases")
    query = Query(tuple(terms))
    if not query.include:
        raise _bad("give at least one word that is not excluded with -")
    return query


def fts5_expression(query: Query) -> str:
    """The FTS5 MATCH text: every word in double quotes (it is letters and digits
    only, so it cannot end the string), ``*`` for a prefix, AND / NOT."""

    def phrase(t: Term) -> str:
        return '"' + " ".join(t.words) + '"' + ("*" if t.prefix else "")

    expression = " AND ".join(phrase(t) for t in query.include)
    if query.exclude:
        expression = f"({expression}) NOT ({' OR '.join(phrase(t) for t in query.exclude)})"
    return expression


def tsquery_text(query: Query) -> str:
    """The ``to_tsquery`` text: quoted words joined by ``<->`` (phrase), ``:*``
    for a prefix, ``&`` and ``!``."""

    def phrase(t: Term) -> str:
        text = " <-> ".join(f"'{w}'" for w in t.words)
        if t.prefix:
            text += ":*"
        return f"({text})"

    parts = [phrase(t) for t in query.include] + ["!" + phrase(t) for t in query.exclude]
    return " & ".join(parts)


def matches(model: str, query: Query, dialect: str) -> Select:
    """``SELECT id, rank`` of the objects of ``model`` that match: ``rank``
    ascending is best first. Use it as ``cls.id.in_(select(sub.c.id))`` to
    filter, or join it to order by relevance."""
    name = index_table(model)
    if dialect == "postgresql":
        fts = table(name, column("id"), column("document", TSVECTOR))
        tsq = func.to_tsquery(literal_column(f"'{TS_CONFIG}'", REGCONFIG), tsquery_text(query))
        return select(
            fts.c.id.label("id"), (-func.ts_rank(fts.c.document, tsq)).label("rank")
        ).where(fts.c.document.op("@@")(tsq))
    if dialect != "sqlite":
        raise NotImplementedError(f"full-text search on {dialect}")
    fts = table(name, column("rowid"))
    key = table(KEY_TABLE, column("key"), column("object_id"))
    weights = [BM25_WEIGHTS[w] for _, w in DOCUMENTS[model]]
    return (
        select(
            key.c.object_id.label("id"),
            func.bm25(literal_column(name), *weights).label("rank"),
        )
        .select_from(fts)
        .join(key, key.c.key == fts.c.rowid)
        .where(literal_column(name).op("MATCH")(fts5_expression(query)))
    )


def candidate_matches(query: Query, dialect: str, applications: Any) -> Select:
    """``SELECT id, rank`` of candidates found by their own document or by the
    document of one of their applications (CV text, cover letter ...) that
    ``applications`` (a condition on ``Application``: what the user may see)
    admits; a candidate found both ways gets the better rank."""
    from ..models import Application

    own = matches("candidate", query, dialect)
    found = matches("application", query, dialect).subquery()
    via = (
        select(Application.candidate_id.label("id"), found.c.rank)
        .join(found, found.c.id == Application.id)
        .where(applications)
    )
    both = union_all(own, via).subquery()
    return select(both.c.id, func.min(both.c.rank).label("rank")).group_by(both.c.id)


# The indexes that hold people's words (an application's holds its candidate's name).
PERSONAL = ("candidate", "application", "application_note")


def forget_deleted() -> None:
    """Rewrite the indexes that hold people's words, inside the caller's write.

    FTS5 keeps a deleted row's words in its segments (marked deleted) until
    they are merged; erasing a person must take them along. The rewrite
    ('optimize') costs about 3 s for 90 MB of index, so a batch of erasures
    (the retention run) calls it once at the end, not per person. SQLite only:
    PostgreSQL drops a deleted row's ``tsvector`` with the row.
    """
    from ..extensions import db

    if db.session.get_bind().dialect.name != "sqlite":
        return
    for model in PERSONAL:
        name = index_table(model)
        # names from our own table, not from input
        db.session.execute(text(f"INSERT INTO {name} ({name}) VALUES ('optimize')"))  # noqa: S608


def is_index_table(name: str | None) -> bool:
    """Whether a table belongs to the search index (not to the models)."""
    if name == KEY_TABLE:
        return True
    return any(
        name == index_table(m) or (name or "").startswith(index_table(m) + "_") for m in MODELS
    )


def _ignore_index_in_autogenerate() -> None:
    """Alembic's autogenerate (``flask db migrate``, and the test that the
    migrations match the models) compares the database with the models, which do
    not declare the index tables: without this it would plan to drop them. The
    hook runs after Alembic's own comparison and takes those drops out."""
    from alembic.autogenerate import comparators
    from alembic.operations import ops

    def drop_index_tables_from_plan(autogen_context: Any, upgrade_ops: Any, *_: Any) -> Any:
        # the tables' drops, and on PostgreSQL their GIN indexes' (a ModifyTableOps)
        upgrade_ops.ops[:] = [
            op
            for op in upgrade_ops.ops
            if not (
                isinstance(op, ops.DropTableOp | ops.ModifyTableOps)
                and is_index_table(op.table_name)
            )
        ]
        return done

    try:
        from alembic.util import DispatchPriority, PriorityDispatchResult
    except ImportError:  # Alembic < 1.18: comparators run in the order registered
        done = None
        comparators.dispatch_for("schema")(drop_index_tables_from_plan)
    else:
        done = PriorityDispatchResult.CONTINUE
        comparators.dispatch_for("autogenerate", priority=DispatchPriority.LAST)(
            drop_index_tables_from_plan
        )


_ignore_index_in_autogenerate()
