"""Candidates: the searchable list, the profile (contact data, applications,
notes), adding one by hand (optionally straight onto a job), editing, and
erasing one completely on a GDPR request.

Admins and recruiters only; interviewers see candidates through the
applications of their jobs. The form is generated from ``ats.fields.CANDIDATE``
and every write goes through ``records``, so the page and the API accept and
refuse the same things.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict
from wtforms import StringField

from .. import fields as F
from ..database import writing
from ..errors import ApiError, NotFound
from ..extensions import db
from ..models import Application, FieldMember, Job
from ..services import query, records, retention
from ..services.auth import Actor
from .access import STAFF, actor, render, roles
from .forms import form_values, model_form, show_errors
from .notes import notes_for

bp = Blueprint("candidates", __name__, url_prefix="/candidates")

FORM_FIELDS = [f.name for f in F.CANDIDATE.fields if f.create]
PAGE_SIZE = 50
# "relevance": best match first, for a search (without one, newest first)
SORTS = {"relevance": "", "newest": "-created_at", "name": "name"}
TAG_SUGGESTIONS = 200


# --- helpers --------------------------------------------------------------------


def _get(candidate_id: str, me: Actor) -> Any:
    try:
        return records.get(F.CANDIDATE, candidate_id, me)
    except NotFound:
        abort(404)


def _offset(raw: str | None) -> int:
    try:
        return min(max(int(raw or 0), 0), query.MAX_OFFSET)
    except ValueError:
        return 0


def _application_counts(candidate_ids: list[str], me: Actor) -> dict[str, int]:
    """``{candidate_id: applications}`` for one page of candidates, in one query."""
    if not candidate_ids:
        return {}
    rows = db.session.execute(
        select(Application.candidate_id, func.count())
        .where(
            Application.candidate_id.in_(candidate_ids),
            records.visible(F.APPLICATION, me),
        )
        .group_by(Application.candidate_id)
    )
    return {candidate_id: n for candidate_id, n in rows}


def _applications(candidate_id: str, me: Actor) -> list[Any]:
    """Every application of the candidate with its job (archived ones too), newest first."""
    return db.session.execute(
        select(Application, Job.title, Job.status)
        .join(Job, Job.id == Application.job_id)
        .where(
            Application.candidate_id == candidate_id,
            records.visible(F.APPLICATION, me),
            records.visible(F.JOB, me),
        )
        .order_by(Application.created_at.desc(), Application.id.desc())
    ).all()


def _open_jobs(
    me: Actor, exclude: set[str] | frozenset[str] = frozenset()
) -> list[tuple[str, str]]:
    args = MultiDict([("status", "open"), ("sort", "title"), ("limit", str(F.JOB.max_page))])
    page = query.list_records(F.JOB, args, me)
    return [(j.id, j.title) for j in page.items if j.id not in exclude]


def _apply_form(me: Actor, exclude: set[str] | frozenset[str] = frozenset(), **kw: Any) -> Any:
    """The job select, from the application's ``job_id`` field; only open jobs are offered."""
    form = model_form(
        F.APPLICATION,
        ["job_id"],
        choices={"job_id": _open_jobs(me, exclude)},
        prefix="application",
        **kw,
    )
    form.job_id.label.text = "Job"
    return form


def _job_errors(exc: ApiError) -> dict[str, str]:
    """The application's errors as the job select shows them."""
    fields = dict(exc.fields or {})
    if "candidate_id" in fields:  # "already applied to this job"
        fields["job_id"] = fields.pop("candidate_id")
    return fields or {"job_id": exc.message}


# --- list -------------------------------------------------------------------------


@bp.get("")
@roles(*STAFF)
def index() -> Any:
    """Candidates: full-text search by name, e-mail, phone, location, tag or the
    texts of their applications (the CV ...), filter by tag, page by offset."""
    me = actor()
    text = request.args.get("q", "").strip()
    tag = request.args.get("tag", "").strip()
    sort = request.args.get("sort") or ("relevance" if text else "newest")
    if sort not in SORTS:
        sort = "newest"
    offset = _offset(request.args.get("offset"))
    args = MultiDict([("limit", str(PAGE_SIZE)), ("offset", str(offset))])
    if SORTS[sort] or not text:
        args.add("sort", SORTS[sort] or SORTS["newest"])
    if tag:
        args.add("tags", tag)
    error = None
    try:
        page = query.list_records(F.CANDIDATE, args, me, search=text or None)
    except ApiError as exc:  # e.g. a tag longer than any tag can be
        error = next(iter((exc.fields or {}).values()), exc.message)
        page = query.Page([], PAGE_SIZE, offset, False, None, 0)
    tags = db.session.scalars(
        select(FieldMember.value)
        .where(FieldMember.model == "candidate", FieldMember.field == "tags")
        .distinct()
        .order_by(FieldMember.value)
        .limit(TAG_SUGGESTIONS)
    ).all()
    filters = {"q": text, "tag": tag, "sort": sort}
    return render(
        "candidates/index.html",
        partial="candidates/_table.html",
        page=page,
        counts=_application_counts([c.id for c in page.items], me),
        filters=filters,
        sorts=SORTS,
        tags=tags,
        error=error,
        prev_offset=max(offset - PAGE_SIZE, 0) if offset else None,
        next_offset=offset + PAGE_SIZE if page.has_more else None,
    )


# --- add, edit -------------------------------------------------------------------


@bp.route("/new", methods=["GET", "POST"])
@roles(*STAFF)
def new() -> Any:
    """Add a candidate by hand and, optionally, put them on an open job (one transaction)."""
    me = actor()
    form = model_form(F.CANDIDATE, FORM_FIELDS)
    apply_form = _apply_form(me, meta={"csrf": False})
    apply_form.job_id.render_kw = {
        k: v for k, v in (apply_form.job_id.render_kw or {}).items() if k != "required"
    }
    apply_form.job_id.description = "Optional: creates an application in the stage New."
    if request.method == "GET":
        apply_form.job_id.data = request.args.get("job_id", "")  # "Add candidate" on a job
        return render("candidates/form.html", form=form, apply_form=apply_form, candidate=None)
    values, errors = form_values(F.CANDIDATE, form, FORM_FIELDS)
    job_id = (apply_form.job_id.data or "").strip()
    if errors:
        show_errors(form, errors)
    else:
        target = form
        try:
            with writing():  # both or neither: a failed application leaves no candidate
                candidate = records.create(F.CANDIDATE, values, me)
                if job_id:
                    target = apply_form
                    records.create(
                        F.APPLICATION, {"job_id": job_id, "candidate_id": candidate.id}, me
                    )
        except ApiError as exc:
            if exc.status not in (400, 409):
                raise
            if target is apply_form:
                show_errors(apply_form, _job_errors(exc))
            else:
                show_errors(form, exc.fields or {"name": exc.message})
        else:
            flash(f"Added {candidate.name}.", "success")
            return redirect(url_for("candidates.profile", candidate_id=candidate.id), code=303)
    return render(
        "candidates/form.html", form=form, apply_form=apply_form, candidate=None, status=400
    )


@bp.route("/<candidate_id>/edit", methods=["GET", "POST"])
@roles(*STAFF)
def edit(candidate_id: str) -> Any:
    me = actor()
    candidate = _get(candidate_id, me)
    if request.method == "GET":
        form = model_form(F.CANDIDATE, FORM_FIELDS, obj=candidate)
        return render("candidates/form.html", form=form, apply_form=None, candidate=candidate)
    form = model_form(F.CANDIDATE, FORM_FIELDS)
    values, errors = form_values(F.CANDIDATE, form, FORM_FIELDS, mode="patch")
    if errors:
        show_errors(form, errors)
    else:
        try:
            records.update(F.CANDIDATE, candidate.id, values, me)
        except ApiError as exc:
            if exc.status not in (400, 409):
                raise
            show_errors(form, exc.fields or {"name": exc.message})
        else:
            flash("Saved.", "success")
            return redirect(url_for("candidates.profile", candidate_id=candidate.id), code=303)
    return render(
        "candidates/form.html", form=form, apply_form=None, candidate=candidate, status=400
    )


# --- profile ---------------------------------------------------------------------


def _profile(candidate: Any, me: Actor, apply_form: Any = None, status: int = 200) -> Any:
    applications = _applications(candidate.id, me)
    if apply_form is None:
        applied = {row[0].job_id for row in applications}
        apply_form = _apply_form(me, exclude=applied, formdata=None)
    return render(
        "candidates/profile.html",
        candidate=candidate,
        applications=applications,
        apply_form=apply_form,
        parent_kind="candidate",
        parent_id=candidate.id,
        notes=notes_for("candidate", candidate.id, me),
        status=status,
    )


@bp.get("/<candidate_id>")
@roles(*STAFF)
def profile(candidate_id: str) -> Any:
    """Contact data, every application with its job and stage, and the notes."""
    me = actor()
    return _profile(_get(candidate_id, me), me)


@bp.post("/<candidate_id>/applications")
@roles(*STAFF)
def attach(candidate_id: str) -> Any:
    """Put an existing candidate on an open job: a new application in the stage New."""
    me = actor()
    candidate = _get(candidate_id, me)
    applied = {row[0].job_id for row in _applications(candidate.id, me)}
    apply_form = _apply_form(me, exclude=applied)
    job_id = (apply_form.job_id.data or "").strip()
    try:
        records.create(F.APPLICATION, {"job_id": job_id or None, "candidate_id": candidate.id}, me)
    except ApiError as exc:
        if exc.status not in (400, 409):
            raise
        show_errors(apply_form, _job_errors(exc))
        return _profile(candidate, me, apply_form=apply_form, status=400)
    flash(f"Added {candidate.name} to the job.", "success")
    return redirect(url_for("candidates.profile", candidate_id=candidate.id), code=303)


# --- erase (GDPR) ----------------------------------------------------------------


class EraseForm(FlaskForm):
    confirm = StringField("Type the candidate's name or e-mail address to confirm")


def _confirms(typed: str | None, candidate: Any) -> bool:
    typed = (typed or "").strip().casefold()
    wanted = {(candidate.name or "").strip().casefold(), (candidate.email or "").casefold()}
    return bool(typed) and typed in wanted - {""}


@bp.route("/<candidate_id>/erase", methods=["GET", "POST"])
@roles(*STAFF)
def erase(candidate_id: str) -> Any:
    """Delete the candidate with every application, interview and note about them.

    A confirmation page first: this cannot be undone, so typing the name or
    e-mail proves it is the right person and not a slip of the mouse.
    """
    me = actor()
    candidate = _get(candidate_id, me)
    form = EraseForm()
    applications = _applications(candidate.id, me)
    status = 200
    if request.method == "POST":
        if _confirms(form.confirm.data, candidate):
            # the one eraser, shared with the retention run: messages and tasks go too
            counts = retention.erase_candidate(candidate.id, me, via="page")
            what = ", ".join(f"{n} {k[:-1] if n == 1 else k}"
                             for k, n in counts.items() if n and k != "candidates")  # fmt: skip
            flash("The candidate was erased" + (f" with {what}." if what else "."), "success")
            return redirect(url_for("candidates.index"), code=303)
        form.confirm.errors = [*form.confirm.errors, "Type the name or e-mail exactly as shown."]
        status = 400
    return render(
        "candidates/erase.html",
        form=form,
        candidate=candidate,
        applications=applications,
        status=status,
    )
