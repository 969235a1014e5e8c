"""Interviews: schedule one from an application, reschedule, cancel, record the
outcome (completed / no-show, with notes), and the agenda of upcoming interviews.

Reads and writes go through ``records`` and ``query`` with the acting user, so
role limits apply (interviewers may read, not write, interviews); the inputs
come from the field table ``fields.INTERVIEW`` through ``forms.model_form``, so
a page accepts and refuses exactly what xapi2 does, with the same words.

With ``send_invite``, saving sends calendar invitations (and updates and
cancellations) to the candidate and the interviewers: ``services.invitations``
notices the change at commit, whichever path made it.

The application page includes ``interviews/_list.html`` (its header states the
contract) with the rows of ``interviews_for_application``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from flask import (
    Blueprint,
    Flask,
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from sqlalchemy import and_, func, select
from sqlalchemy.orm import aliased
from werkzeug.datastructures import MultiDict

from .. import fields as F
from ..errors import NotFound
from ..extensions import db
from ..models import Candidate, Interview, Job, User, utcnow
from ..services import query, records
from ..services.auth import Actor
from ..validation import parse_datetime
from .access import actor, is_htmx, render
from .forms import form_values, model_form, save, user_zone

bp = Blueprint("interviews", __name__, url_prefix="/interviews")

# Creatable fields the schedule form leaves out: the application comes from the
# URL, candidate and job are copied from it, every interview starts "scheduled",
# and notes belong to the outcome. Any other creatable field is on the form.
NOT_ON_SCHEDULE_FORM = ("application_id", "candidate_id", "job_id", "status", "notes")
SCHEDULE_FIELDS = [
    f.name for f in F.INTERVIEW.fields if f.create and f.name not in NOT_ON_SCHEDULE_FORM
]
RESCHEDULE_FIELDS = ["scheduled_at", "duration_minutes", "location", "meeting_url"]
OUTCOME_FIELDS = ["notes"]
WIDE_FIELDS = ("agenda", "notes", "interviewer_ids", "send_invite")

ACTIVE = ("scheduled", "rescheduled")  # still to happen: reschedule, cancel
OUTCOMES = {"completed": "Completed", "no_show": "No-show"}
AGENDA_LIMIT = F.INTERVIEW.max_page


def register(app: Flask) -> None:
    """Helpers for ``_list.html``, which other areas' pages include."""
    app.add_template_global(interviewer_names)
    app.add_template_global(interviews_writable)


# --- shared helpers -----------------------------------------------------------


def interviews_for_application(app_id: str, me: Actor) -> list[Any]:
    """The application's interviews, by ``scheduled_at`` (without a time first)."""
    args = MultiDict(
        [("application_id", app_id), ("sort", "scheduled_at"), ("limit", str(AGENDA_LIMIT))]
    )
    return query.list_records(F.INTERVIEW, args, me).items


def interviewer_names(interviews: list[Any]) -> dict[str, str]:
    """``{user id: name}`` for every interviewer of these interviews, in one query."""
    ids = {
        user_id
        for iv in interviews
        for user_id in (iv.interviewer_id, *(iv.interviewer_ids or []))
        if user_id
    }
    if not ids:
        return {}
    rows = db.session.execute(select(User.id, User.name, User.email).where(User.id.in_(ids)))
    return {row.id: row.name or row.email for row in rows}


def interviews_writable() -> bool:
    """Whether the current user's role may schedule and change interviews."""
    return current_user.is_authenticated and actor().allows("interview", "update")


def _require(action: str) -> Actor:
    me = actor()
    if not me.allows("interview", action):
        abort(403)
    return me


def _get(model: F.ModelDef, obj_id: str | None, me: Actor) -> Any:
    try:
        return records.get(model, obj_id, me)
    except NotFound:
        abort(404)


def _people(candidate_id: str | None, job_id: str | None, me: Actor) -> dict[str, Any]:
    """The candidate and job an interview is about, for page headings."""
    found: dict[str, Any] = {"candidate": None, "job": None}
    for key, model, obj_id in (("candidate", F.CANDIDATE, candidate_id), ("job", F.JOB, job_id)):
        try:
            found[key] = records.get(model, obj_id, me) if obj_id else None
        except NotFound:
            pass
    return found


def _user_choices() -> dict[str, list[tuple[str, str]]]:
    users = db.session.execute(
        select(User.id, User.name, User.email)
        .where(User.active.is_(True))
        .order_by(func.lower(func.coalesce(User.name, User.email)), User.id)
    ).all()
    options = [(u.id, u.name or u.email) for u in users]
    return {"interviewer_id": options, "interviewer_ids": options}


def _hints() -> dict[str, str]:
    return {
        "scheduled_at": f"In your time zone: {user_zone().key}",
        "interviewer_id": "Leads the interview",
        "interviewer_ids": "Everyone else on the panel (Ctrl or ⌘ to pick several)",
        "send_invite": "E-mail a calendar invitation to the candidate and the interviewers, "
        "and an update or cancellation when it changes",
    }


def _form(names: list[str], obj: Any = None) -> FlaskForm:
    choices = _user_choices() if "interviewer_id" in names else None
    return model_form(F.INTERVIEW, names, obj=obj, choices=choices)


def _same_minute(new: str | None, old: datetime | None) -> bool:
    """Whether the posted time is the stored one, to the minute the input shows."""
    if new is None or old is None:
        return new is None and old is None
    return parse_datetime(new).replace(second=0, microsecond=0) == old.replace(
        second=0, microsecond=0
    )


def _when(iv: Any) -> str:
    if iv.scheduled_at is None:
        return "no time set"
    local = iv.scheduled_at.replace(tzinfo=UTC).astimezone(user_zone())
    return local.strftime("%a %d %b %Y, %H:%M %Z")


def _done(iv: Any, me: Actor, message: str, category: str = "success") -> Any:
    """After an action: HTMX (from ``_list.html``) gets the list again, a plain
    form the application page (303)."""
    if is_htmx():
        application = _get(F.APPLICATION, iv.application_id, me)
        response = make_response(
            render_template(
                "interviews/_list.html",
                interviews=interviews_for_application(application.id, me),
                application=application,
                interviews_message=(category, message),
            )
        )
        response.headers.add("Vary", "HX-Request")
        return response
    flash(message, category)
    return redirect(url_for("applications.detail", app_id=iv.application_id), code=303)


# --- schedule, reschedule, cancel, outcome ------------------------------------


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new() -> Any:
    """Schedule an interview for ``?application_id=...``."""
    me = _require("create")
    application = _get(F.APPLICATION, request.args.get("application_id"), me)
    form = _form(SCHEDULE_FIELDS)
    status = 200
    if request.method == "POST":  # CSRF is checked app-wide before any view
        values, errors = form_values(F.INTERVIEW, form, SCHEDULE_FIELDS)
        # form_values reports required fields the form does not carry (the
        # application comes from the URL); the service checks the whole body
        errors = {name: errors[name] for name in SCHEDULE_FIELDS if name in errors}
        iv = save(
            form,
            errors,
            lambda: records.create(F.INTERVIEW, {**values, "application_id": application.id}, me),
        )
        if iv is None:
            status = 400
        else:
            flash(f"Interview scheduled: {_when(iv)}.", "success")
            return redirect(url_for("applications.detail", app_id=application.id), code=303)
    return render(
        "interviews/form.html",
        status=status,
        form=form,
        names=SCHEDULE_FIELDS,
        wide=WIDE_FIELDS,
        hints=_hints(),
        heading="Schedule an interview",
        action=url_for("interviews.new", application_id=application.id),
        application_id=application.id,
        **_people(application.candidate_id, application.job_id, me),
    )


@bp.route("/<interview_id>/edit", methods=["GET", "POST"])
@login_required
def edit(interview_id: str) -> Any:
    """Reschedule: time, duration, place or link. A new time makes it "rescheduled"."""
    me = _require("update")
    iv = _get(F.INTERVIEW, interview_id, me)
    if iv.status not in ACTIVE:
        return _done(iv, me, f"This interview is {iv.status.replace('_', ' ')}.", "error")
    form = _form(RESCHEDULE_FIELDS, obj=None if request.method == "POST" else iv)
    status = 200
    if request.method == "POST":
        values, errors = form_values(F.INTERVIEW, form, RESCHEDULE_FIELDS, mode="patch")
        if "scheduled_at" not in errors:
            if _same_minute(values["scheduled_at"], iv.scheduled_at):
                del values["scheduled_at"]  # keep the stored value, seconds and all
            elif iv.scheduled_at is not None and values["scheduled_at"] is not None:
                values["status"] = "rescheduled"
        if save(form, errors, lambda: records.update(F.INTERVIEW, iv.id, values, me)) is None:
            status = 400
        else:
            return _done(iv, me, f"Interview saved: {_when(iv)}.")
    return render(
        "interviews/form.html",
        status=status,
        form=form,
        names=RESCHEDULE_FIELDS,
        wide=WIDE_FIELDS,
        hints=_hints(),
        heading="Reschedule the interview",
        action=url_for("interviews.edit", interview_id=iv.id),
        application_id=iv.application_id,
        interview=iv,
        **_people(iv.candidate_id, iv.job_id, me),
    )


@bp.route("/<interview_id>/cancel", methods=["GET", "POST"])
@login_required
def cancel(interview_id: str) -> Any:
    """Cancel after a confirmation: the page asks, its form posts ``confirm=yes``."""
    me = _require("update")
    iv = _get(F.INTERVIEW, interview_id, me)
    if iv.status not in ACTIVE:
        return _done(iv, me, f"This interview is {iv.status.replace('_', ' ')}.", "error")
    if request.method == "POST" and request.form.get("confirm") == "yes":
        records.update(F.INTERVIEW, iv.id, {"status": "cancelled"}, me)
        return _done(iv, me, "Interview cancelled.")
    return render(
        "interviews/cancel.html",
        interview=iv,
        when=_when(iv),
        **_people(iv.candidate_id, iv.job_id, me),
    )


@bp.route("/<interview_id>/outcome", methods=["GET", "POST"])
@login_required
def outcome(interview_id: str) -> Any:
    """Mark completed or no-show (the button's ``status``), with notes when the
    form carries them; the list's quick buttons leave the notes alone."""
    me = _require("update")
    iv = _get(F.INTERVIEW, interview_id, me)
    if iv.status == "cancelled":
        return _done(iv, me, "This interview is cancelled.", "error")
    form = _form(OUTCOME_FIELDS, obj=None if request.method == "POST" else iv)
    status = 200
    if request.method == "POST":
        new_status = request.form.get("status")
        if new_status not in OUTCOMES:
            abort(400, "Choose completed or no-show.")
        values: dict[str, Any] = {"status": new_status}
        errors: dict[str, str] = {}
        if "notes" in request.form:
            notes, errors = form_values(F.INTERVIEW, form, OUTCOME_FIELDS, mode="patch")
            values.update(notes)
        if save(form, errors, lambda: records.update(F.INTERVIEW, iv.id, values, me)) is None:
            status = 400
        else:
            return _done(iv, me, f"Interview marked {OUTCOMES[new_status].lower()}.")
    return render(
        "interviews/outcome.html",
        status=status,
        form=form,
        interview=iv,
        when=_when(iv),
        outcomes=OUTCOMES,
        **_people(iv.candidate_id, iv.job_id, me),
    )


# --- the agenda ---------------------------------------------------------------


def _mine(me: Actor) -> Any:
    """The xapi2 ``interviewer_id`` filter: the lead interviewer or one of the panel.

    ``query`` has no public way to hand out a filter's condition for a query of
    one's own (the agenda needs a join and a time range), so its helper is
    borrowed rather than the rule written a second time.
    """
    key = query.filter_keys(F.INTERVIEW)["interviewer_id"]
    return query._condition(F.INTERVIEW, Interview, key, [me.user_id])


def _visible_ids(model: F.ModelDef, me: Actor) -> Any:
    cls = records.model_class(model)
    return select(cls.id).where(records.visible(model, me))


def _by_day(rows: list[Any], zone: Any) -> list[tuple[date, list[Any]]]:
    """Rows already in time order, grouped by their day in the viewer's zone."""
    days: list[tuple[date, list[Any]]] = []
    for row in rows:
        day = row[0].scheduled_at.replace(tzinfo=UTC).astimezone(zone).date()
        if not days or days[-1][0] != day:
            days.append((day, []))
        days[-1][1].append(row)
    return days


@bp.get("")
@login_required
def index() -> Any:
    """Upcoming interviews (or, with ``past=1``, earlier ones) by day: one joined
    query for the rows, one for the interviewers' names, however many there are.

    ``mine=1`` keeps those where I interview; it is the default for interviewers.
    """
    me = actor()
    zone = user_zone()
    mine = request.args.get("mine", "1" if me.role == "interviewer" else "0") == "1"
    past = request.args.get("past") == "1"
    now = utcnow()
    # The names obey the role limits too (no more than the API would show). The
    # joined tables are aliases, kept apart from the job, candidate and
    # application subqueries that ``records.visible`` filters through.
    candidate, job = aliased(Candidate), aliased(Job)
    seen = _visible_ids(F.CANDIDATE, me)
    stmt = (
        select(Interview, candidate.name, job.title)
        .select_from(Interview)
        .outerjoin(candidate, and_(candidate.id == Interview.candidate_id, candidate.id.in_(seen)))
        .outerjoin(job, and_(job.id == Interview.job_id, job.id.in_(_visible_ids(F.JOB, me))))
        .where(records.visible(F.INTERVIEW, me), Interview.is_archived.is_(False))
    )
    if past:
        stmt = stmt.where(Interview.scheduled_at < now).order_by(
            Interview.scheduled_at.desc(), Interview.id.desc()
        )
    else:
        stmt = stmt.where(Interview.scheduled_at >= now, Interview.status.in_(ACTIVE)).order_by(
            Interview.scheduled_at, Interview.id
        )
    if mine:
        stmt = stmt.where(_mine(me))
    rows = db.session.execute(stmt.limit(AGENDA_LIMIT + 1)).all()
    more = len(rows) > AGENDA_LIMIT
    rows = rows[:AGENDA_LIMIT]
    return render(
        "interviews/index.html",
        partial="interviews/_agenda.html",
        days=_by_day(rows, zone),
        names=interviewer_names([row[0] for row in rows]),
        mine=mine,
        past=past,
        more=more,
        zone=zone,
        today=datetime.now(zone).date(),
        writable=me.allows("interview", "update"),
    )
