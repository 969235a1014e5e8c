"""Create, read, update, archive and delete the xapi2 models.

Every write runs in one transaction (``ats.db.writing``): validation, reference
and uniqueness checks, derived fields and the write itself see the same data,
and an error leaves nothing behind. Per-model rules live in ``rules``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

from orjson import Fragment
from sqlalchemy import (
    JSON,
    DateTime,
    String,
    Text,
    and_,
    bindparam,
    cast,
    delete,
    func,
    or_,
    select,
    true,
    type_coerce,
)
from sqlalchemy import update as sql_update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import make_transient_to_detached

from .. import fields as F
from ..database import writing
from ..errors import BadRequest, Conflict, NotFound, ValidationFailed
from ..extensions import db
from ..ids import has_prefix, new_id
from ..models import (
    RECORDS,
    Application,
    ApplicationNote,
    FieldMember,
    Interview,
    StageChange,
    utcnow,
)
from ..validation import clean, format_datetime, to_json
from . import rules
from .auth import Actor


def model_class(mdef: F.ModelDef) -> Any:
    return RECORDS[mdef.name]


def sees_all(mdef: F.ModelDef, actor: Actor) -> bool:
    """Whether the actor may see every row of the model (``visible`` adds nothing)."""
    return actor.role != "interviewer" and mdef.name != "application_note"


def visible(mdef: F.ModelDef, actor: Actor) -> Any:
    """The SQL condition for rows this actor may see at all, on every path.

    Private notes are their author's only. Interviewers see the jobs they are
    on (``hiring_manager_id`` or ``team_ids``), those jobs' applications and
    candidates, interviews of those jobs or where they interview, and notes on
    what they can see.
    """
    cls = model_class(mdef)
    if sees_all(mdef, actor):
        return true()
    condition: Any = true()
    if mdef.name == "application_note":
        condition = or_(cls.private.is_(False), cls.created_by == actor.user_id)
    if actor.role != "interviewer":
        return condition
    from ..models import Job

    me = actor.user_id
    panel = select(FieldMember.object_id).where(
        FieldMember.model == "interview",
        FieldMember.field == "interviewer_ids",
        FieldMember.value == me,
    )
    # an interviewer is on a job as its hiring manager, in its team, or by
    # interviewing one of its candidates
    my_interviews = select(Interview.job_id).where(
        or_(Interview.interviewer_id == me, Interview.id.in_(panel))
    )
    jobs = select(Job.id).where(
        or_(
            Job.hiring_manager_id == me,
            Job.id.in_(
                select(FieldMember.object_id).where(
                    FieldMember.model == "job",
                    FieldMember.field == "team_ids",
                    FieldMember.value == me,
                )
            ),
            Job.id.in_(my_interviews),
        )
    )
    apps = select(Application.id).where(Application.job_id.in_(jobs))
    candidates = select(Application.candidate_id).where(Application.job_id.in_(jobs))
    if mdef.name == "job":
        return cls.id.in_(jobs)
    if mdef.name == "application":
        return cls.job_id.in_(jobs)
    if mdef.name == "candidate":
        return cls.id.in_(candidates)
    if mdef.name == "interview":
        return or_(cls.job_id.in_(jobs), cls.interviewer_id == me, cls.id.in_(panel))
    if mdef.name == "application_note":
        parent = or_(
            and_(cls.parent_kind == "job", cls.parent_id.in_(jobs)),
            and_(cls.parent_kind == "application", cls.parent_id.in_(apps)),
            and_(cls.parent_kind == "candidate", cls.parent_id.in_(candidates)),
        )
        return and_(condition, parent)
    return condition


def serialize(obj: Any) -> dict[str, Any]:
    mdef: F.ModelDef = obj.__model_def__
    return {
        "id": obj.id,
        "object": mdef.name,
        "data": {f.name: to_json(f, getattr(obj, f.name)) for f in mdef.fields},
        "status": obj.row_status,
        "is_archived": obj.is_archived,
        "owned_by": obj.owned_by,
        "created_by": obj.created_by,
        "created_at": format_datetime(obj.created_at),
        "updated_at": format_datetime(obj.updated_at),
    }


# --- rows straight to the API's shape ------------------------------------------
#
# Lists and reads for callers who see every row skip the ORM: a Core SELECT of
# ``row_columns`` and ``serialize_row`` builds the envelope from the row, for a
# third of what ``serialize`` costs per object. List fields come as their stored
# JSON text, passed to the encoder as it is (``orjson.Fragment``: the API encodes
# with orjson), and on SQLite timestamps as their stored text, rewritten to the
# API's form: parsing each into a datetime only to print it again was most of
# the time of a page.

ENVELOPE_COLUMNS = (
    "id",
    "row_status",
    "is_archived",
    "owned_by",
    "created_by",
    "created_at",
    "updated_at",
)


def row_columns(mdef: F.ModelDef, dialect: str) -> list[Any]:
    """The columns ``serialize_row`` reads, in its order."""
    table = model_class(mdef).__table__
    columns = []
    for c in (*ENVELOPE_COLUMNS, *(f.name for f in mdef.fields)):
        col = table.c[c]
        if isinstance(col.type, JSON):
            col = cast(col, Text).label(c)
        elif dialect == "sqlite" and isinstance(col.type, DateTime):
            col = type_coerce(col, String).label(c)  # the stored text, no result processing
        columns.append(col)
    return columns


def _iso(value: datetime) -> str:
    # format_datetime's text ("%Y-%m-%dT%H:%M:%S.%fZ"), by the C isoformat
    return value.isoformat(timespec="microseconds") + "Z"


def _sqlite_iso(text: str) -> str:
    """SQLite's stored DATETIME text ("2026-11-23 09:15:02.123456", as SQLAlchemy
    writes it) in the API's form."""
    if len(text) == 26:
        return f"{text[:10]}T{text[11:]}Z"
    return _iso(datetime.fromisoformat(text))


def _fragment(text: str) -> Any:
    return Fragment(text)


_ROW_SHAPES: dict[tuple[str, str], Any] = {}


def _row_shape(mdef: F.ModelDef, dialect: str) -> Any:
    shape = _ROW_SHAPES.get((mdef.name, dialect))
    if shape is None:
        stamp = _sqlite_iso if dialect == "sqlite" else _iso
        day = str if dialect == "sqlite" else date.isoformat
        by_type = {F.DATETIME: stamp, F.DATE: day, F.TAGS: _fragment, F.LIST: _fragment}
        names = tuple(f.name for f in mdef.fields)
        convert = tuple((f.name, by_type[f.type]) for f in mdef.fields if f.type in by_type)
        shape = _ROW_SHAPES[(mdef.name, dialect)] = (names, convert, stamp)
    return shape


def serialize_row(mdef: F.ModelDef, row: Any, dialect: str) -> dict[str, Any]:
    """``serialize`` for a row of ``row_columns(mdef, dialect)``, for orjson."""
    names, convert, stamp = _row_shape(mdef, dialect)
    data = dict(zip(names, row[7:], strict=True))
    for name, fn in convert:
        value = data[name]
        if value is not None:
            data[name] = fn(value)
    return {
        "id": row[0],
        "object": mdef.name,
        "data": data,
        "status": row[1],
        "is_archived": row[2],
        "owned_by": row[3],
        "created_by": row[4],
        "created_at": stamp(row[5]),
        "updated_at": stamp(row[6]),
    }


_ROW_BY_ID: dict[tuple[str, str], Any] = {}


def _may_be_id(obj_id: Any, mdef: F.ModelDef) -> bool:
    """Whether ``obj_id`` can name an object of ``mdef`` at all (else 404 without a
    query; PostgreSQL refuses to compare text holding NUL)."""
    return isinstance(obj_id, str) and has_prefix(obj_id, mdef.prefix) and "\x00" not in obj_id


def read_row(mdef: F.ModelDef, obj_id: str, actor: Actor) -> dict[str, Any]:
    """``serialize(get(...))``, without building an object where the actor sees
    every row of the model (the usual case)."""
    if not sees_all(mdef, actor):
        return serialize(get(mdef, obj_id, actor))
    if not _may_be_id(obj_id, mdef):
        raise NotFound(f"no {mdef.name} {obj_id}")
    conn = db.session.connection()
    dialect = conn.dialect.name
    stmt = _ROW_BY_ID.get((mdef.name, dialect))
    if stmt is None:
        table = model_class(mdef).__table__
        stmt = _ROW_BY_ID[(mdef.name, dialect)] = select(*row_columns(mdef, dialect)).where(
            table.c.id == bindparam("obj_id")
        )
    row = conn.execute(stmt, {"obj_id": obj_id}).first()
    if row is None:
        raise NotFound(f"no {mdef.name} {obj_id}")
    return serialize_row(mdef, row, dialect)


# One statement per model for loading an object by id where every row is visible
# (the usual case): built once, so SQLAlchemy neither rebuilds it nor recomputes
# its cache key on every request.
_BY_ID: dict[str, Any] = {}


def get(mdef: F.ModelDef, obj_id: str, actor: Actor) -> Any:
    """The object, or 404 when it does not exist or the actor may not see it."""
    cls = model_class(mdef)
    if not _may_be_id(obj_id, mdef):
        raise NotFound(f"no {mdef.name} {obj_id}")
    if sees_all(mdef, actor):
        stmt = _BY_ID.get(mdef.name)
        if stmt is None:
            stmt = _BY_ID[mdef.name] = select(cls).where(cls.id == bindparam("obj_id"))
        obj = db.session.scalar(stmt, {"obj_id": obj_id})
    else:
        obj = db.session.scalar(select(cls).where(cls.id == obj_id, visible(mdef, actor)))
    if obj is None:
        raise NotFound(f"no {mdef.name} {obj_id}")
    return obj


def create(mdef: F.ModelDef, body: dict[str, Any], actor: Actor) -> Any:
    values, errors = clean(mdef, body, "create")
    with writing():
        cls = model_class(mdef)
        now = utcnow()
        obj = cls(
            id=new_id(mdef.prefix),
            owned_by=actor.user_id,
            created_by=actor.user_id,
            created_at=now,
            updated_at=now,
        )
        for f in mdef.fields:
            if f.default is not None:
                setattr(obj, f.name, f.default)
        _apply(mdef, obj, values, errors, actor, creating=True, given=set(values))
        _insert(mdef, obj)
        _sync_members(mdef, obj, values, creating=True)
        _record_stage(mdef, obj, None, actor)
    return obj


def update(mdef: F.ModelDef, obj_id: str, body: dict[str, Any], actor: Actor) -> Any:
    values, errors = clean(mdef, body, "patch")
    replaced_blob = None
    with writing():
        obj = get(mdef, obj_id, actor)
        changed = {k: v for k, v in values.items() if getattr(obj, k) != v}
        if "cv_blob_id" in changed:
            replaced_blob = obj.cv_blob_id
        old_stage = getattr(obj, "stage", None)
        _apply(mdef, obj, changed, errors, actor, creating=False, given=set(values))
        _update(mdef, obj)
        _sync_members(mdef, obj, changed, creating=False)
        if "stage" in changed:
            _record_stage(mdef, obj, old_stage, actor)
    if replaced_blob:
        _drop_unused_blobs([replaced_blob])
    return obj


# --- writing rows -------------------------------------------------------------
#
# A new object is written with one Core INSERT rather than a flush of the ORM's
# unit of work, which for a single new row costs about as much as the INSERT
# itself. The object then stays in the session as if a flush had written it:
# persistent, every column loaded, nothing pending. Code that must see every
# write hooks attribute events (they fire on every path), not flush events.


_INSERTS: dict[str, Any] = {}


def _insert_statement(table: Any) -> Any:
    """One INSERT per table naming every column, built once.

    A JSON column binds None as SQL NULL here, as a flush does for a value never
    set; a value set to None is passed as ``JSON.NULL``, stored as JSON ``null``,
    again as a flush would.
    """
    stmt = _INSERTS.get(table.name)
    if stmt is None:
        binds = {
            c.key: bindparam(
                c.key, type_=JSON(none_as_null=True) if isinstance(c.type, JSON) else c.type
            )
            for c in table.columns
        }
        stmt = _INSERTS[table.name] = table.insert().values(binds)
    return stmt


def _insert(mdef: F.ModelDef, obj: Any) -> None:
    table = obj.__table__
    state = obj.__dict__
    row: dict[str, Any] = {}
    for column in table.columns:
        key = column.key
        value = state.get(key)
        if value is None and column.default is not None:
            # as a flush does: a None is left to the column's default (our
            # models have plain values and Python callables as defaults)
            default = column.default
            value = default.arg if default.is_scalar else default.arg(None)
            setattr(obj, key, value)
        elif key not in state:
            setattr(obj, key, None)  # loaded, as after a flush; no lazy load later
        elif value is None and isinstance(column.type, JSON):
            row[key] = JSON.NULL
            continue
        row[key] = value
    with _race_lost_is_conflict(mdef):
        db.session.execute(_insert_statement(table), row)
    # the object now matches its row: persistent in the session, nothing to flush
    make_transient_to_detached(obj)
    db.session.add(obj)


def _update(mdef: F.ModelDef, obj: Any) -> None:
    """Write the object's changed columns, and ``updated_at`` when any changed.

    A flush, unlike ``_insert``: the object is loaded and tracked already, and
    for a change the unit of work costs no more than working out the changed
    columns and telling the session about them by hand (measured).
    """
    if db.session.is_modified(obj):
        obj.updated_at = utcnow()
    with _race_lost_is_conflict(mdef):
        db.session.flush()


@contextmanager
def _race_lost_is_conflict(mdef: F.ModelDef) -> Iterator[None]:
    try:
        yield
    except IntegrityError as exc:
        # a race lost against another writer between our check and the write
        raise Conflict(f"this {mdef.name} conflicts with an existing one") from exc


def _drop_unused_blobs(blob_ids: list[str]) -> None:
    """Delete stored files no application names any more (after the commit)."""
    from . import files

    used = set(
        db.session.scalars(
            select(Application.cv_blob_id).where(Application.cv_blob_id.in_(blob_ids))
        )
    )
    files.delete([b for b in blob_ids if b not in used])


def _record_stage(mdef: F.ModelDef, obj: Any, old_stage: str | None, actor: Actor) -> None:
    """Applications keep a history of their stages, whichever path moved them."""
    if mdef.name == "application":
        db.session.execute(
            StageChange.__table__.insert(),
            {
                "application_id": obj.id,
                "from_stage": old_stage,
                "to_stage": obj.stage,
                "at": obj.last_stage_at,
                "by_user": actor.user_id,
            },
        )


def set_archived(mdef: F.ModelDef, obj_id: str, archived: bool, actor: Actor) -> Any:
    with writing():
        obj = get(mdef, obj_id, actor)
        if obj.is_archived != archived:
            obj.is_archived = archived
            obj.updated_at = utcnow()
    return obj


_EXISTS: dict[str, Any] = {}


def _exists(model: str, obj_id: str) -> bool:
    """Whether a row with this id exists (its id only: no object is loaded)."""
    stmt = _EXISTS.get(model)
    if stmt is None:
        table = RECORDS[model].__table__
        stmt = _EXISTS[model] = select(table.c.id).where(table.c.id == bindparam("id"))
    return db.session.execute(stmt, {"id": obj_id}).first() is not None


def _apply(
    mdef: F.ModelDef,
    obj: Any,
    values: dict[str, Any],
    errors: dict[str, str],
    actor: Actor,
    creating: bool,
    given: set[str],
) -> None:
    """Check references and model rules, then set the values, or raise with all errors.

    ``values`` holds what changes; ``given`` names every field the request carried,
    changed or not (a position sent with a stage change is kept even if unchanged).
    """
    for name, value in values.items():
        f = mdef[name]
        if f.type == F.REF and value is not None and name not in errors:
            target = F.MODELS[f.ref]
            if not has_prefix(value, target.prefix) or not _exists(f.ref, value):
                errors[name] = f"no {f.ref} with id {value}"
    rules.check(mdef, obj, values, errors, actor, creating)
    if errors:
        raise ValidationFailed(errors)
    with db.session.no_autoflush:  # flush once, after the checks, not halfway through them
        for name, value in values.items():
            setattr(obj, name, value)
        rules.derive(mdef, obj, values, creating, given)
        rules.check_unique(mdef, obj, values, creating)


def _sync_members(mdef: F.ModelDef, obj: Any, values: dict[str, Any], creating: bool) -> None:
    """Mirror list fields into ``field_member``: Core statements on the write
    connection (the ORM adds nothing to rows it never loads); a new object has
    no rows to delete."""
    members = FieldMember.__table__
    conn = db.session.connection()
    for name in mdef.member_fields:
        if name not in values:
            continue
        if not creating:
            # by object_id alone (ids carry their model's prefix): with the model
            # in the condition SQLite walks the primary key's (model, field)
            # prefix, every row of the field, instead of the object_id index
            conn.execute(
                members.delete().where(members.c.object_id == obj.id, members.c.field == name)
            )
        items = values[name] or []
        if items:
            conn.execute(
                members.insert(),
                [
                    {"model": mdef.name, "field": name, "value": v, "object_id": obj.id}
                    for v in items
                ],
            )


# --- deleting ---------------------------------------------------------------


def _dependents(mdef: F.ModelDef, obj_id: str) -> dict[str, Any]:
    """SELECTs of the ids that would be orphaned, per model, in delete order."""
    apps = None
    if mdef.name == "job":
        apps = select(Application.id).where(Application.job_id == obj_id)
    elif mdef.name == "candidate":
        apps = select(Application.id).where(Application.candidate_id == obj_id)
    elif mdef.name == "application":
        apps = select(Application.id).where(Application.id == obj_id)
    elif mdef.name == "source":
        return {"application": select(Application.id).where(Application.source_id == obj_id)}
    else:
        return {}
    parent_ids = [obj_id]
    deps: dict[str, Any] = {}
    if mdef.name != "application":
        deps["application"] = apps
    deps["interview"] = select(Interview.id).where(Interview.application_id.in_(apps))
    deps["application_note"] = select(ApplicationNote.id).where(
        or_(ApplicationNote.parent_id.in_(apps), ApplicationNote.parent_id.in_(parent_ids))
    )
    return deps


def remove(mdef: F.ModelDef, obj_id: str, actor: Actor, cascade: bool) -> dict[str, int]:
    """Delete the object; with dependents, 409 unless ``cascade``.

    A cascade deletes dependents (applications with their interviews and notes),
    except for a source, whose applications only lose their ``source_id``.
    """
    blobs: list[str] = []  # uploaded CVs to delete once the rows are gone
    with writing():
        obj = get(mdef, obj_id, actor)
        rules.check_remove(mdef, obj, actor)  # issue 8: a note's author or an admin
        deps = _dependents(mdef, obj_id)
        counts = {
            name: db.session.scalar(select(func.count()).select_from(q.subquery()))
            for name, q in deps.items()
        }
        counts = {k: v for k, v in counts.items() if v}
        if counts and not cascade:
            listing = ", ".join(f"{n} {k}" for k, n in counts.items())
            raise Conflict(
                f"this {mdef.name} still has dependents ({listing}); "
                "pass ?cascade=true to delete them with it",
                dependents=counts,
            )
        if mdef.name == "source":
            db.session.execute(
                sql_update(Application)
                .where(Application.source_id == obj_id)
                .values(source_id=None, updated_at=utcnow())
            )
        else:
            # children first: notes and interviews, then applications
            for name in ("application_note", "interview", "application"):
                if name in deps and name in counts:
                    ids = [row[0] for row in db.session.execute(deps[name])]
                    if name == "application":
                        blobs += _blobs_of(ids)
                    _delete_ids(F.MODELS[name], ids)
        if mdef.name == "application":
            blobs += _blobs_of([obj.id])
        _delete_ids(mdef, [obj.id])
    if blobs:
        _drop_unused_blobs(blobs)
    return counts


def _blobs_of(app_ids: list[str]) -> list[str]:
    blobs: list[str] = []
    for start in range(0, len(app_ids), 500):
        blobs += db.session.scalars(
            select(Application.cv_blob_id).where(
                Application.id.in_(app_ids[start : start + 500]),
                Application.cv_blob_id.is_not(None),
            )
        ).all()
    return blobs


def _delete_ids(mdef: F.ModelDef, ids: list[str]) -> None:
    cls = model_class(mdef)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        if mdef.member_fields:
            # by object_id alone, so SQLite uses its index (see _sync_members)
            db.session.execute(delete(FieldMember).where(FieldMember.object_id.in_(chunk)))
        if mdef.name == "application":
            db.session.execute(delete(StageChange).where(StageChange.application_id.in_(chunk)))
        db.session.execute(delete(cls).where(cls.id.in_(chunk)))


def parse_bool_arg(name: str, raw: str | None, default: bool = False) -> bool:
    if raw is None:
        return default
    if raw in ("true", "false"):
        return raw == "true"
    raise BadRequest(f"{name} must be true or false", fields={name: "must be true or false"})
