"""Jobs: the list, the create/edit form (fields from ats.fields), status changes
and the per-job kanban board."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_login import login_required
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from .. import fields as F
from ..errors import ApiError, NotFound
from ..extensions import db
from ..models import User
from ..services import pipeline, query, records
from . import questions
from .access import STAFF, actor, render, roles
from .forms import form_values, model_form, save

bp = Blueprint("jobs", __name__, url_prefix="/jobs")

# The form's sections: every creatable job field appears once.
SECTIONS: list[tuple[str, list[str]]] = [
    ("Basics", ["title", "slug", "status", "public", "department", "location", "country",
                "remote", "employment_type", "seniority", "headcount", "target_close_date",
                "language", "color", "tags"]),
    ("Description", ["summary", "description", "responsibilities", "requirements",
                     "nice_to_have", "benefits"]),
    ("Salary", ["salary_min", "salary_max", "currency", "salary_visibility"]),
    ("Team", ["hiring_manager_id", "team_ids"]),
    ("Applying", ["external_apply_url", "ai_screen_enabled", "ai_screen_prompt"]),
]  # fmt: skip
FORM_FIELDS = [name for _, names in SECTIONS for name in names]
QUESTION_LISTS = ("screening_questions", "knockout_questions")
STATUS_ACTIONS = {"open": "Open", "paused": "Pause", "closed": "Close", "filled": "Mark filled"}


def _user_choices() -> dict[str, list[tuple[str, str]]]:
    users = db.session.execute(
        select(User.id, User.name, User.email).where(User.active.is_(True)).order_by(User.email)
    ).all()
    opts = [(u.id, u.name or u.email) for u in users]
    return {"hiring_manager_id": opts, "team_ids": opts}


@bp.get("")
@login_required
def index() -> Any:
    """Jobs with status/department filters and a full-text search (best match first)."""
    args = MultiDict()
    status = request.args.get("status", "")
    department = request.args.get("department", "").strip()
    text = request.args.get("q", "").strip()
    archived = request.args.get("archived") == "1"
    if status in F.JOB["status"].choices:
        args.add("status", status)
    if department:
        args.add("department", department)
    if archived:
        args.add("is_archived", "true")
    if not text:
        args.add("sort", "-created_at")  # a search orders by relevance
    args.add("limit", "200")
    error = None
    try:
        page = query.list_records(F.JOB, args, actor(), search=text or None)
    except ApiError as exc:  # a search that cannot be one, e.g. too long
        error = next(iter((exc.fields or {}).values()), exc.message)
        page = query.Page([], 200, 0, False, None, 0)
    counts = pipeline.stage_counts([j.id for j in page.items])
    job = records.model_class(F.JOB)
    departments = db.session.scalars(
        select(job.department)
        .where(job.department.is_not(None), records.visible(F.JOB, actor()))  # only jobs one sees
        .distinct()
        .order_by(job.department)
    ).all()
    return render(
        "jobs/index.html",
        partial="jobs/_table.html",
        page=page,
        counts=counts,
        statuses=F.JOB["status"].choices,
        departments=departments,
        error=error,
        filters={"status": status, "department": department, "q": text, "archived": archived},
    )


def _form(obj: Any = None) -> Any:
    return model_form(F.JOB, FORM_FIELDS, obj=obj, choices=_user_choices())


def _save(job_id: str | None) -> Any:
    """Create or update from the posted form; on errors, the form again with what was typed."""
    obj = records.get(F.JOB, job_id, actor()) if job_id else None
    form = _form()  # CSRF was checked by CSRFProtect before the view ran
    # an empty slug means "make one from the title" (new) or "keep it" (edit)
    names = [n for n in FORM_FIELDS if n != "slug" or request.form.get("slug", "").strip()]
    values, errors = form_values(F.JOB, form, names, "patch" if job_id else "create")
    q_values, q_errors = questions.from_form(request.form)
    values.update(q_values)
    errors.update(q_errors)
    job = save(
        form,
        errors,
        lambda: (
            records.update(F.JOB, job_id, values, actor())
            if job_id
            else records.create(F.JOB, values, actor())
        ),
    )
    if job is None:
        return render(
            "jobs/form.html",
            form=form,
            job=obj,
            sections=SECTIONS,
            question_lists=questions.from_form_for_display(request.form),
            status=400,
        )
    flash(f"Saved “{job.title}”.", "success")
    return redirect(url_for("jobs.board", job_id=job.id), code=303)


@bp.route("/new", methods=["GET", "POST"])
@roles(*STAFF)
def new() -> Any:
    if request.method == "POST":
        return _save(None)
    return render(
        "jobs/form.html",
        form=_form(),
        job=None,
        sections=SECTIONS,
        question_lists={name: [] for name in QUESTION_LISTS},
    )


@bp.route("/<job_id>/edit", methods=["GET", "POST"])
@roles(*STAFF)
def edit(job_id: str) -> Any:
    if request.method == "POST":
        return _save(job_id)
    job = records.get(F.JOB, job_id, actor())
    return render(
        "jobs/form.html",
        form=_form(job),
        job=job,
        sections=SECTIONS,
        question_lists={name: getattr(job, name) or [] for name in QUESTION_LISTS},
    )


@bp.post("/<job_id>/status")
@roles(*STAFF)
def set_status(job_id: str) -> Any:
    """Open, pause, close, fill, archive or unarchive: the buttons on the job."""
    action = request.form.get("action", "")
    try:
        records.get(F.JOB, job_id, actor())  # 404 first: a job one cannot see is not there
        if action in STATUS_ACTIONS:
            records.update(F.JOB, job_id, {"status": action}, actor())
        elif action in ("archive", "unarchive"):
            records.set_archived(F.JOB, job_id, action == "archive", actor())
        else:
            abort(400, "Unknown action.")
    except NotFound:
        abort(404)
    except ApiError as exc:
        flash(exc.message, "error")
    return redirect(url_for("jobs.board", job_id=job_id), code=303)


@bp.get("/<job_id>")
@login_required
def board(job_id: str) -> Any:
    """The kanban: a column per stage, cards in position order."""
    try:
        job = records.get(F.JOB, job_id, actor())
    except NotFound:
        abort(404)
    columns = pipeline.board(job.id)
    from .notes import notes_for

    return render(
        "jobs/board.html",
        job=job,
        notes=notes_for("job", job.id, actor()),
        parent_kind="job",
        parent_id=job.id,
        columns=columns,
        stages=pipeline.STAGES,
        reasons=F.APPLICATION["rejected_reason"].choices,
        status_actions=STATUS_ACTIONS,
    )


@bp.post("/<job_id>/rescore")
@roles(*STAFF)
def rescore_all(job_id: str) -> Any:
    """Queue every application of the job for fit scoring by the background worker
    (too many for one request; each is scored once however often this is clicked)."""
    from ..services import scoring

    try:
        job = records.get(F.JOB, job_id, actor())
        count = scoring.queue(scoring.applications_of(job.id))
    except NotFound:
        abort(404)
    except scoring.ScoringOff:
        flash("Fit scoring is off for this job: switch on AI screening first.", "error")
    else:
        flash(
            f"Queued {count} application{'s' if count != 1 else ''} for fit scoring; "
            "the background worker scores them shortly.",
            "success",
        )
    return redirect(url_for("jobs.board", job_id=job_id), code=303)
