"""Per-model rules the field tables cannot express on their own: checks across
fields and rows, derived fields, and uniqueness (409 naming the field)."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from sqlalchemy import bindparam, func, inspect, select

from .. import fields as F
from ..errors import Conflict, Forbidden
from ..extensions import db
from ..ids import has_prefix
from ..models import (
    RECORDS,
    Application,
    Job,
    User,
    utcnow,
)
from ..validation import check_answer_against
from .auth import Actor

SLUG_MAX = F.JOB["slug"].max_length or 120


def slugify(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:SLUG_MAX].rstrip("-") or "job"


def check(
    mdef: F.ModelDef,
    obj: Any,
    values: dict[str, Any],
    errors: dict[str, str],
    actor: Actor,
    creating: bool,
) -> None:
    _check_users(mdef, values, errors)
    checker = _CHECKS.get(mdef.name)
    if checker:
        checker(obj, values, errors, creating, actor)


def _current(obj: Any, values: dict[str, Any], name: str) -> Any:
    return values[name] if name in values else getattr(obj, name, None)


# Statements every write may run, built once with bound parameters: SQLAlchemy
# then neither rebuilds them nor recomputes their cache key per request. Plain
# table columns, so no ORM machinery runs for a one-column answer.
_users = User.__table__
_USERS_IN = select(_users.c.id).where(_users.c.id.in_(bindparam("ids", expanding=True)))


def _check_users(mdef: F.ModelDef, values: dict[str, Any], errors: dict[str, str]) -> None:
    """Fields that hold user ids must name existing users."""
    wanted: dict[str, list[str]] = {}
    for f in mdef.fields:
        if f.name not in values or values[f.name] is None or f.name in errors:
            continue
        if f.item == F.ITEM_USER:
            wanted[f.name] = values[f.name]
        elif f.name in ("hiring_manager_id", "interviewer_id"):
            wanted[f.name] = [values[f.name]]
    all_ids = {i for ids in wanted.values() for i in ids}
    if not all_ids:
        return
    known = set(db.session.scalars(_USERS_IN, {"ids": list(all_ids)}))
    for name, ids in wanted.items():
        missing = [i for i in ids if i not in known]
        if missing:
            errors[name] = "no user with id " + ", ".join(missing)


def _check_job(
    obj: Any, values: dict[str, Any], errors: dict[str, str], creating: bool, actor: Actor
) -> None:
    lo, hi = _current(obj, values, "salary_min"), _current(obj, values, "salary_max")
    if lo is not None and hi is not None and lo > hi and "salary_min" not in errors:
        errors["salary_min" if "salary_min" in values else "salary_max"] = (
            "salary_min must not exceed salary_max"
        )
    screening = _current(obj, values, "screening_questions") or []
    knockout = _current(obj, values, "knockout_questions") or []
    if "screening_questions" not in errors and "knockout_questions" not in errors:
        shared = {q["id"] for q in screening} & {q["id"] for q in knockout}
        if shared:
            key = "knockout_questions" if "knockout_questions" in values else "screening_questions"
            errors[key] = "question ids must differ across both lists: " + ", ".join(sorted(shared))


_jobs, _apps = Job.__table__, Application.__table__
_JOB_QUESTIONS = select(_jobs.c.screening_questions, _jobs.c.knockout_questions).where(
    _jobs.c.id == bindparam("id")
)


def _check_application(
    obj: Any, values: dict[str, Any], errors: dict[str, str], creating: bool, actor: Actor
) -> None:
    from . import files

    blob_id = values.get("cv_blob_id")
    if blob_id and "cv_blob_id" not in errors and files.find(blob_id) is None:
        errors["cv_blob_id"] = f"no uploaded file {blob_id}"
    answers = values.get("answers")
    job_id = _current(obj, values, "job_id")
    if not answers or "job_id" in errors or job_id is None:
        return
    job = db.session.execute(_JOB_QUESTIONS, {"id": job_id}).first()
    if job is None:
        return
    questions = {
        q["id"]: q for q in (job.screening_questions or []) + (job.knockout_questions or [])
    }
    for i, answer in enumerate(answers):
        question = questions.get(answer["question_id"])
        if question is None:
            errors["answers"] = f"item {i + 1}: the job has no question {answer['question_id']!r}"
            return
        problem = check_answer_against(question, answer["value"])
        if problem:
            errors["answers"] = f"item {i + 1}: value {problem}"
            return


_APP_PARTIES = select(_apps.c.candidate_id, _apps.c.job_id).where(_apps.c.id == bindparam("id"))


def _check_interview(
    obj: Any, values: dict[str, Any], errors: dict[str, str], creating: bool, actor: Actor
) -> None:
    if not creating or "application_id" in errors:
        return
    app = db.session.execute(_APP_PARTIES, {"id": values.get("application_id")}).first()
    if app is None:
        return
    for name in ("candidate_id", "job_id"):
        given = values.get(name)
        if given is None:
            values[name] = getattr(app, name)
        elif given != getattr(app, name):
            errors[name] = f"must be the application's {name} ({getattr(app, name)}) or absent"


def _check_note(
    obj: Any, values: dict[str, Any], errors: dict[str, str], creating: bool, actor: Actor
) -> None:
    if not creating:
        _check_note_author(obj, values, actor)
        return
    if "parent_kind" in errors or "parent_id" in errors:
        return
    kind, parent_id = values.get("parent_kind"), values.get("parent_id")
    if kind is None or parent_id is None:
        return
    from .records import visible  # records imports this module

    target = F.MODELS[kind]
    cls = RECORDS[kind]
    found = has_prefix(parent_id, target.prefix) and db.session.scalar(
        select(cls.id).where(cls.id == parent_id, visible(target, actor))
    )
    if not found:
        errors["parent_id"] = f"no {kind} with id {parent_id}"


def note_editable_by(note: Any, actor: Actor) -> bool:
    """A note is shown under its author's name: only they change its text or
    privacy (pages and API alike). Anyone who sees it may pin it."""
    return note.created_by == actor.user_id


def note_removable_by(note: Any, actor: Actor) -> bool:
    """A note goes by its author or an admin."""
    return note.created_by == actor.user_id or actor.role == "admin"


def _check_note_author(obj: Any, values: dict[str, Any], actor: Actor) -> None:
    if set(values) - {"pinned"} and not note_editable_by(obj, actor):
        raise Forbidden("only the note's author may change its body or privacy")


def check_remove(mdef: F.ModelDef, obj: Any, actor: Actor) -> None:
    """Before a DELETE: a note goes by its author or an admin (as on the pages)."""
    if mdef.name == "application_note" and not note_removable_by(obj, actor):
        raise Forbidden("only the note's author or an admin may delete it")


_CHECKS = {
    "job": _check_job,
    "application": _check_application,
    "interview": _check_interview,
    "application_note": _check_note,
}


def derive(
    mdef: F.ModelDef, obj: Any, values: dict[str, Any], creating: bool, given: set[str]
) -> None:
    now = utcnow()
    if mdef.name == "job":
        if creating and not values.get("slug"):
            obj.slug = _free_slug(slugify(obj.title))
        if "status" in values or creating:
            if obj.status == "open" and obj.opened_at is None:
                obj.opened_at = now
            obj.closed_at = now if obj.status in ("closed", "filled") else None
    elif mdef.name == "application":
        if creating:
            obj.applied_at = obj.applied_at or now
            obj.last_stage_at = now
        elif "stage" in values:
            obj.previous_stage = _old(obj, "stage")
            obj.last_stage_at = now
        if (creating or "stage" in values) and "position" not in given:
            obj.position = _end_of_column(obj)
    elif mdef.name == "candidate" and "email" in values:
        obj.email_key = obj.email.lower() if obj.email else None


def _old(obj: Any, name: str) -> Any:
    """The value an attribute had before this unit of work changed it."""
    history = inspect(obj).attrs[name].history
    return history.deleted[0] if history.deleted else getattr(obj, name)


_COLUMN_END = select(func.max(_apps.c.position)).where(
    _apps.c.job_id == bindparam("job_id"),
    _apps.c.stage == bindparam("stage"),
    _apps.c.id != bindparam("id"),
)


def _end_of_column(app: Any) -> float:
    last = db.session.scalar(_COLUMN_END, {"job_id": app.job_id, "stage": app.stage, "id": app.id})
    return float(last or 0) + 1.0


# slugs are [a-z0-9-], all below "~"
_SLUGS_FROM = select(_jobs.c.slug).where(
    _jobs.c.slug >= bindparam("lo"), _jobs.c.slug < bindparam("hi")
)


def _free_slug(base: str) -> str:
    # every slug starting like the numbered ones would (base cut for a long
    # suffix); a range, not LIKE, which on SQLite cannot use the index
    prefix = base[: SLUG_MAX - 8]
    taken = set(db.session.scalars(_SLUGS_FROM, {"lo": prefix, "hi": prefix + "~"}))
    if base not in taken:
        return base
    n = 2
    while True:
        suffix = f"-{n}"
        candidate = base[: SLUG_MAX - len(suffix)] + suffix
        if candidate not in taken:
            return candidate
        n += 1


# (model, columns) whose values no other row may share; the one company profile
# is a unique ``singleton`` column that is always 1
_UNIQUE: dict[tuple[str, tuple[str, ...]], Any] = {}


def _taken(obj: Any, **values: Any) -> bool:
    """Whether another row has these column values."""
    table = obj.__table__
    key = (table.name, tuple(values))
    stmt = _UNIQUE.get(key)
    if stmt is None:
        stmt = _UNIQUE[key] = (
            select(table.c.id)
            .where(*(table.c[c] == bindparam(c) for c in values), table.c.id != bindparam("b_id"))
            .limit(1)
        )
    return db.session.execute(stmt, {**values, "b_id": obj.id}).first() is not None


def check_unique(mdef: F.ModelDef, obj: Any, values: dict[str, Any], creating: bool) -> None:
    """409 naming the field when a unique value is taken by another row."""
    if mdef.name == "job" and "slug" in values and _taken(obj, slug=obj.slug):
        raise Conflict(f"the slug {obj.slug!r} is taken", {"slug": "already taken"})
    if mdef.name == "source" and "name" in values and _taken(obj, name=obj.name):
        raise Conflict(f"a source named {obj.name!r} exists", {"name": "already taken"})
    if (
        mdef.name == "candidate"
        and obj.email_key
        and "email" in values
        and _taken(obj, email_key=obj.email_key)
    ):
        raise Conflict(
            f"a candidate with the e-mail {obj.email} exists", {"email": "already taken"}
        )
    if (
        mdef.name == "application"
        and creating
        and _taken(obj, job_id=obj.job_id, candidate_id=obj.candidate_id)
    ):
        raise Conflict(
            "this candidate has applied to this job already",
            {"candidate_id": "already applied to this job"},
        )
    if mdef.name == "company_profile" and creating and _taken(obj, singleton=1):
        raise Conflict(
            "there is one company profile per installation; PATCH the existing one",
            {"company_profile": "exists already"},
        )
