"""Lists: filters, sorting and paging (spec section 5), from the field tables.

Filter and sort keys are whitelisted by ``ats.fields``; every value is parsed
by its field's type, so a malformed one is a 400 and never reaches SQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, or_, select, tuple_
from werkzeug.datastructures import MultiDict

from .. import fields as F
from ..errors import BadRequest
from ..extensions import db
from ..models import FieldMember
from .auth import Actor
from .records import model_class, visible

RESERVED = ("limit", "offset", "after", "sort")
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


def parse_sort(mdef: F.ModelDef, raw: str | None) -> list[tuple[str, bool]]:
    """``"-fit_score,created_at"`` to ``[("fit_score", True), ("created_at", False)]``."""
    if raw is None or raw == "":
        return [(mdef.default_sort, False)]
    keys: list[tuple[str, bool]] = []
    for part in raw.split(","):
        part = part.strip()
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


# Text fields the recruiter search box looks in (a LIKE scan until full-text search).
SEARCH_FIELDS = {
    "job": ("title", "department", "location"),
    "candidate": ("name", "email", "phone", "location"),
    "source": ("name",),
    "interview": ("title", "location"),
    "application_note": ("body",),
}


def list_records(
    mdef: F.ModelDef, args: MultiDict, actor: Actor, search: str | None = None
) -> Page:
    """One page of ``mdef`` objects for ``args`` (the API's query string).

    ``search`` is the recruiter search box: every word must appear in one of the
    model's ``SEARCH_FIELDS`` (case-insensitive).
    """
    cls = model_class(mdef)
    keys = filter_keys(mdef)
    conditions: list[Any] = [visible(mdef, actor)]
    for word in (search or "").split()[:10]:
        pattern = "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        conditions.append(
            or_(
                *(
                    getattr(cls, name).ilike(pattern, escape="\\")
                    for name in SEARCH_FIELDS[mdef.name]
                )
            )
        )
    seen_columns: dict[str, list[Any]] = {}
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
        seen_columns.setdefault(fk.column, []).extend(values)
    for column, values in seen_columns.items():
        fk = next(k for k in keys.values() if k.column == column)
        conditions.append(_condition(mdef, cls, fk, list(dict.fromkeys(values))))
    if "is_archived" not in seen_columns:
        conditions.append(cls.is_archived.is_(False))

    limit = min(_int_arg(args, "limit", F.DEFAULT_PAGE_SIZE, 1), mdef.max_page)
    offset = _int_arg(args, "offset", 0, 0)
    if offset > MAX_OFFSET:
        raise _bad("offset", f"must be at most {MAX_OFFSET}")
    after = args.get("after")
    sort_raw = args.get("sort")
    if after is not None and not sort_raw:
        sort_raw = "created_at"  # keyset paging implies creation order
    sort = parse_sort(mdef, sort_raw)
    keyset = len(sort) == 1 and sort[0][0] == "created_at"

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
    if offset:
        stmt = stmt.offset(offset)
    items = list(db.session.scalars(stmt))
    has_more = len(items) > limit
    items = items[:limit]
    next_after = items[-1].id if has_more and keyset and items else None
    return Page(items, limit, offset, has_more, next_after, total)


def _order(cls: Any, name: str, desc: bool) -> Any:
    column = getattr(cls, name)
    clause = column.desc() if desc else column.asc()
    if db.engine.dialect.name != "sqlite":
        # SQLite's order for NULLs (lowest value) on every database
        clause = clause.nulls_last() if desc else clause.nulls_first()
    return clause
