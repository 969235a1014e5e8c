"""Lists: filters, sorting and paging (spec section 5), from the field tables.

Filter and sort keys are whitelisted by ``ats.fields``; every value is parsed
by its field's type, so a malformed one is a 400 and never reaches SQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Integer, Text, and_, bindparam, cast, func, or_, select, tuple_
from werkzeug.datastructures import MultiDict

from .. import fields as F
from ..errors import BadRequest
from ..extensions import db
from ..models import FieldMember
from . import search as fts
from .auth import Actor
from .records import model_class, row_columns, sees_all, serialize, serialize_row, visible

RESERVED = ("limit", "offset", "after", "sort", "q")
MAX_OFFSET = 2**31 - 1


@dataclass
class Page:
    items: list[Any]
    limit: int
    offset: int
    has_more: bool
    next_after: str | None
    total: int


@dataclass(frozen=True)
class FilterKey:
    """What a filter key compares: a field of the model or an envelope column."""

    key: str
    column: str
    field: F.Field


def filter_keys(mdef: F.ModelDef) -> dict[str, FilterKey]:
    """Every accepted filter key of a model, ``data__`` forms included."""
    keys: dict[str, FilterKey] = {}
    for name in mdef.filters:
        fk = FilterKey(name, name, mdef[name])
        keys[name] = fk
        keys[f"data__{name}"] = fk
    if mdef.has_status_field and "status" not in keys:
        keys["status"] = keys["data__status"] = FilterKey("status", "status", mdef["status"])
    for name, f in F.ENVELOPE_FILTERS.items():
        if name not in keys:
            keys[name] = FilterKey(name, "row_status" if name == "status" else name, f)
    return keys


def _bad(key: str, message: str) -> BadRequest:
    return BadRequest(f"{key}: {message}", fields={key: message})


def _parse_value(fk: FilterKey, raw: str) -> Any:
    f = fk.field
    if f.type == F.BOOL:
        if raw not in ("true", "false"):
            raise _bad(fk.key, "must be true or false")
        return raw == "true"
    if f.type == F.ENUM:
        if raw not in f.choices:
            raise _bad(fk.key, "must be one of: " + ", ".join(f.choices))
        return raw
    max_length = F.TAG_MAX_LENGTH if f.type in (F.TAGS, F.LIST) else f.max_length
    if max_length is not None and len(raw) > max_length:
        raise _bad(fk.key, f"at most {max_length} characters")
    if "\x00" in raw:
        raise _bad(fk.key, "must not contain NUL characters")
    return raw


def _condition(mdef: F.ModelDef, cls: Any, fk: FilterKey, values: list[Any]) -> Any:
    members = select(FieldMember.object_id).where(
        FieldMember.model == mdef.name, FieldMember.value.in_(values)
    )
    if fk.field.type in (F.TAGS, F.LIST):
        return cls.id.in_(members.where(FieldMember.field == fk.column))
    if mdef.name == "interview" and fk.column == "interviewer_id":
        # the lead interviewer or one of the panel
        return or_(
            cls.interviewer_id.in_(values),
            cls.id.in_(members.where(FieldMember.field == "interviewer_ids")),
        )
    if mdef.name == "candidate" and fk.column == "email":
        return cls.email_key.in_([v.lower() for v in values])
    column = getattr(cls, fk.column)
    return column == values[0] if len(values) == 1 else column.in_(values)


def _int_arg(args: MultiDict, name: str, default: int, minimum: int) -> int:
    raw = args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _bad(name, "must be an integer") from None
    if value < minimum:
        raise _bad(name, f"must be at least {minimum}")
    return value


def _after_arg(args: MultiDict) -> str | None:
    """The keyset cursor; one no database can hold (NUL) is as unknown as any other."""
    after = args.get("after")
    if after is not None and "\x00" in after:
        raise _bad("after", "must not contain NUL characters")
    return after


def parse_sort(mdef: F.ModelDef, raw: str | None) -> list[tuple[str, bool]]:
    """``"-fit_score,created_at"`` to ``[("fit_score", True), ("created_at", False)]``."""
    if raw is None or raw == "":
        return [(mdef.default_sort, False)]
    keys: list[tuple[str, bool]] = []
    for part in raw.split(","):  # exactly as written: " name" is no key
        desc = part.startswith("-")
        name = part[1:] if desc else part
        if name not in mdef.sorts:
            raise BadRequest(
                f"unknown sort key {name!r}; valid: " + ", ".join(mdef.sorts),
                fields={"sort": "valid keys: " + ", ".join(mdef.sorts)},
            )
        if name in (k for k, _ in keys):
            raise _bad("sort", f"{name} is given twice")
        keys.append((name, desc))
    return keys


# Models without full-text search (short texts, small tables): the sources and
# interviews search boxes look for every word in these fields with LIKE.
SEARCH_FIELDS = {
    "source": ("name",),
    "interview": ("title", "location"),
}


def _q_arg(mdef: F.ModelDef, args: MultiDict) -> str | None:
    """The API's ``q``: once, and only on the models with full-text search."""
    values = args.getlist("q")
    if not values:
        return None
    if len(values) > 1:
        raise _bad("q", "give q once")
    if mdef.name not in fts.MODELS:
        raise _bad("q", "full-text search is available on " + ", ".join(fts.MODELS))
    return values[0]


def _search(mdef: F.ModelDef, cls: Any, text: str | None, actor: Actor) -> tuple[Any, Any]:
    """(condition, ranked subquery or None) for a search text; (None, None) when blank.

    Candidates are found by their own fields and by their applications' (the
    CV's text ...), of the applications this actor may see."""
    if text is None:
        return None, None
    if mdef.name in fts.MODELS:
        parsed = fts.parse(text)
        if parsed is None:
            return None, None
        dialect = db.engine.dialect.name
        if mdef.name == "candidate":
            found = fts.candidate_matches(parsed, dialect, visible(F.APPLICATION, actor))
        else:
            found = fts.matches(mdef.name, parsed, dialect)
        ranked = found.subquery("search")
        return cls.id.in_(select(ranked.c.id)), ranked
    words = text.split()[:10]
    if not words:
        return None, None
    likes = []
    for word in words:
        pattern = "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        likes.append(
            or_(
                *(
                    getattr(cls, name).ilike(pattern, escape="\\")
                    for name in SEARCH_FIELDS[mdef.name]
                )
            )
        )
    return and_(*likes), None


def list_records(
    mdef: F.ModelDef, args: MultiDict, actor: Actor, search: str | None = None
) -> Page:
    """One page of ``mdef`` objects for ``args`` (the API's query string).

    ``search`` is a search box's text, else the API's ``q``: full-text search
    (``ats.services.search``) on jobs, candidates, applications and notes, a
    LIKE per word on the others (pages only). Without a ``sort`` (and without
    ``after``), matches come best first, then by id.
    """
    cls = model_class(mdef)
    conditions: list[Any] = [visible(mdef, actor)]
    text = search if search is not None else _q_arg(mdef, args)
    matched, ranked = _search(mdef, cls, text, actor)
    if matched is not None:
        conditions.append(matched)
    filters = parse_filters(mdef, args)
    for fk, values in filters.values():
        conditions.append(_condition(mdef, cls, fk, values))
    if "is_archived" not in filters:
        conditions.append(cls.is_archived.is_(False))

    limit = min(_int_arg(args, "limit", F.DEFAULT_PAGE_SIZE, 1), mdef.max_page)
    offset = _int_arg(args, "offset", 0, 0)
    if offset > MAX_OFFSET:
        raise _bad("offset", f"must be at most {MAX_OFFSET}")
    after = _after_arg(args)
    sort_raw = args.get("sort")
    by_rank = ranked is not None and not sort_raw and after is None
    if after is not None and not sort_raw:
        sort_raw = "created_at"  # keyset paging implies creation order
    sort = parse_sort(mdef, sort_raw)
    keyset = len(sort) == 1 and sort[0][0] == "created_at" and not by_rank

    total = db.session.scalar(select(func.count()).select_from(cls).where(*conditions)) or 0

    page_conditions = list(conditions)
    if after is not None:
        if not keyset:
            raise _bad("after", "keyset paging needs sort=created_at or sort=-created_at")
        if "offset" in args:
            raise _bad("after", "use either after or offset, not both")
        anchor = db.session.execute(
            select(cls.created_at, cls.id).where(cls.id == after, visible(mdef, actor))
        ).first()
        if anchor is None:
            raise _bad("after", f"unknown {mdef.name} id {after}")
        row = tuple_(cls.created_at, cls.id)
        page_conditions.append(row < tuple(anchor) if sort[0][1] else row > tuple(anchor))

    tie_desc = sort[-1][1]
    order = [_order(cls, name, desc) for name, desc in sort]
    order.append(cls.id.desc() if tie_desc else cls.id.asc())
    stmt = select(cls).where(and_(*page_conditions)).order_by(*order).limit(limit + 1)
    if by_rank:  # relevance, then id; the join does the matching
        stmt = (
            select(cls)
            .join(ranked, ranked.c.id == cls.id)
            .where(*(c for c in page_conditions if c is not matched))
            .order_by(ranked.c.rank, cls.id)
            .limit(limit + 1)
        )
    if offset:
        stmt = stmt.offset(offset)
    items = list(db.session.scalars(stmt))
    has_more = len(items) > limit
    items = items[:limit]
    next_after = items[-1].id if has_more and keyset and items else None
    return Page(items, limit, offset, has_more, next_after, total)


def _order(cls: Any, name: str, desc: bool) -> Any:
    nullable = cls.__table__.c[name].nullable
    return _ordered(getattr(cls, name), nullable, desc, db.engine.dialect.name)


def _ordered(column: Any, nullable: bool, desc: bool, dialect: str) -> Any:
    clause = column.desc() if desc else column.asc()
    if nullable and dialect != "sqlite":
        # SQLite's order for NULLs (lowest value) on every database. Only where
        # there can be NULLs: PostgreSQL walks an index backwards for DESC only
        # in its own NULL order, and would otherwise sort every match (every
        # row after the cursor, on a keyset walk by created_at).
        clause = clause.nulls_last() if desc else clause.nulls_first()
    return clause


# --- the API's lists, without the ORM ---------------------------------------------
#
# For a caller who sees every row of the model (``records.sees_all``), without
# search, and with filters that each compare one column, a page is two
# statements whose SQL depends only on the shape of the request (which filter
# keys, one value or several, the sort, keyset or offset paging). They are
# built once per shape with bound parameters, run as Core statements (rows, not
# ORM objects; ``records.serialize_row`` makes the envelope), and the ``total``
# is reused while the database is unchanged: SQLite's ``PRAGMA data_version``
# (commits of other connections) with the connection's own ``total_changes``,
# or PostgreSQL's ``pg_current_snapshot()``, identify what a count saw. Counting
# every match is most of a page's cost on a large table; a list read again and
# again (a board, an integration polling) then pays it once per change.
# Everything else takes ``list_records``.


@dataclass(frozen=True)
class _Plan:
    count: Any
    items: Any
    anchor: Any


_PLANS: dict[tuple[Any, ...], _Plan] = {}
_COUNTS = "ats_list_counts"  # connection.info: (database version, {(count, params): total})
_COUNTS_KEPT = 256


def parse_filters(mdef: F.ModelDef, args: MultiDict) -> dict[str, tuple[FilterKey, list[Any]]]:
    """The query string's filters by column, each value parsed (400 for a bad one)."""
    keys = filter_keys(mdef)
    by_column: dict[str, tuple[FilterKey, list[Any]]] = {}
    for key in args:
        if key in RESERVED:
            continue
        fk = keys.get(key)
        if fk is None:
            valid = sorted(k for k in keys if not k.startswith("data__"))
            raise BadRequest(
                f"unknown filter key {key!r}; valid: " + ", ".join(valid),
                fields={key: "unknown filter key"},
            )
        values = [_parse_value(fk, raw) for raw in args.getlist(key)]
        by_column.setdefault(fk.column, (fk, []))[1].extend(values)
    return {c: (fk, list(dict.fromkeys(v))) for c, (fk, v) in by_column.items()}


def _one_column(mdef: F.ModelDef, fk: FilterKey) -> bool:
    if fk.field.type in (F.TAGS, F.LIST):
        return False
    return not (
        (mdef.name == "interview" and fk.column == "interviewer_id")
        or (mdef.name == "candidate" and fk.column == "email")
    )


def list_serialized(mdef: F.ModelDef, args: MultiDict, actor: Actor) -> Page:
    """``list_records`` for the API, its items already in the API's shape."""
    filters = None
    if sees_all(mdef, actor) and "q" not in args:
        filters = parse_filters(mdef, args)
        if not all(_one_column(mdef, fk) for fk, _ in filters.values()):
            filters = None
    if filters is None:
        page = list_records(mdef, args, actor)
        page.items = [serialize(o) for o in page.items]
        return page

    limit = min(_int_arg(args, "limit", F.DEFAULT_PAGE_SIZE, 1), mdef.max_page)
    offset = _int_arg(args, "offset", 0, 0)
    if offset > MAX_OFFSET:
        raise _bad("offset", f"must be at most {MAX_OFFSET}")
    after = _after_arg(args)
    sort_raw = args.get("sort")
    if after is not None and not sort_raw:
        sort_raw = "created_at"  # keyset paging implies creation order
    sort = tuple(parse_sort(mdef, sort_raw))
    keyset = len(sort) == 1 and sort[0][0] == "created_at"
    if after is not None:
        if not keyset:
            raise _bad("after", "keyset paging needs sort=created_at or sort=-created_at")
        if "offset" in args:
            raise _bad("after", "use either after or offset, not both")

    conn = db.session.connection()
    shape = tuple(sorted((column, len(values) > 1) for column, (_, values) in filters.items()))
    key = (mdef.name, shape, sort, after is not None, offset > 0, conn.dialect.name)
    plan = _PLANS.get(key)
    if plan is None:
        plan = _PLANS[key] = _plan(mdef, shape, sort, after is not None, offset > 0, conn)
    filter_params: dict[str, Any] = {
        f"f_{column}": values if len(values) > 1 else values[0]
        for column, (_, values) in filters.items()
    }
    dialect = conn.dialect.name
    version = _sqlite_version(conn) if dialect == "sqlite" else None
    params = dict(filter_params)
    if after is not None:
        anchor = conn.execute(plan.anchor, {"after": after}).first()
        if anchor is None:
            raise _bad("after", f"unknown {mdef.name} id {after}")
        params["a_at"], params["a_id"] = anchor
    params["limit"] = limit + 1
    if offset:
        params["offset"] = offset
    rows = conn.execute(plan.items, params).all()
    if dialect == "postgresql":
        # the page's statement read its snapshot as a last column: no round trip
        version = rows[0][-1] if rows else conn.execute(_PG_SNAPSHOT).scalar()
        rows = [r[:-1] for r in rows]
    total = _count(conn, plan.count, filter_params, version)
    has_more = len(rows) > limit
    rows = rows[:limit]
    next_after = rows[-1][0] if has_more and keyset and rows else None
    items = [serialize_row(mdef, r, dialect) for r in rows]
    return Page(items, limit, offset, has_more, next_after, total)


def _plan(
    mdef: F.ModelDef,
    shape: tuple[tuple[str, bool], ...],
    sort: tuple[tuple[str, bool], ...],
    after: bool,
    offset: bool,
    conn: Any,
) -> _Plan:
    table = model_class(mdef).__table__
    conditions: list[Any] = []
    for column, many in shape:
        col = table.c[column]
        name = f"f_{column}"
        conditions.append(
            col.in_(bindparam(name, expanding=True)) if many else col == bindparam(name)
        )
    if "is_archived" not in dict(shape):
        conditions.append(table.c.is_archived.is_(False))
    count = select(func.count()).select_from(table).where(*conditions)
    page_conditions = list(conditions)
    if after:
        row = tuple_(table.c.created_at, table.c.id)
        anchor_row = tuple_(
            bindparam("a_at", type_=table.c.created_at.type),
            bindparam("a_id", type_=table.c.id.type),
        )
        page_conditions.append(row < anchor_row if sort[0][1] else row > anchor_row)
    order = [
        _ordered(table.c[name], table.c[name].nullable, desc, conn.dialect.name)
        for name, desc in sort
    ]
    order.append(table.c.id.desc() if sort[-1][1] else table.c.id.asc())
    columns = row_columns(mdef, conn.dialect.name)
    if conn.dialect.name == "postgresql":
        columns.append(_PG_SNAPSHOT.selected_columns[0])
    items = (
        select(*columns)
        .where(*page_conditions)
        .order_by(*order)
        .limit(bindparam("limit", type_=Integer))
    )
    if offset:
        items = items.offset(bindparam("offset", type_=Integer))
    anchor = select(table.c.created_at, table.c.id).where(table.c.id == bindparam("after"))
    return _Plan(count, items, anchor)


# What a count saw, so that it is reused only while nothing changed. PostgreSQL:
# the statement's snapshot (read with the page itself; a count run just after
# it may see a newer one, and is then kept under the older name, so the next
# snapshot, different, counts again).
_PG_SNAPSHOT = select(cast(func.pg_current_snapshot(), Text).label("ats_snapshot"))


def _sqlite_version(conn: Any) -> Any:
    """The read transaction's snapshot (data_version counts other connections'
    commits) and this connection's own writes."""
    version = conn.exec_driver_sql("PRAGMA data_version").scalar()
    return version, conn.connection.dbapi_connection.total_changes


def _count(conn: Any, stmt: Any, params: dict[str, Any], version: Any) -> int:
    """The count, reused while ``version`` (None: unknown, count) is the same."""
    if version is None:
        return conn.execute(stmt, params).scalar() or 0
    held = conn.info.get(_COUNTS)
    if held is None or held[0] != version:
        held = conn.info[_COUNTS] = (version, {})
    key = (stmt, tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in params.items()))
    total = held[1].get(key)
    if total is None:
        if len(held[1]) >= _COUNTS_KEPT:
            held[1].clear()
        total = held[1][key] = conn.execute(stmt, params).scalar() or 0
    return total
