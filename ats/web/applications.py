"""Applications: the detail page and moving cards on the kanban."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, request, send_file, url_for
from flask_login import login_required
from sqlalchemy import select

from .. import fields as F
from ..errors import ApiError, NotFound, ValidationFailed
from ..extensions import db
from ..models import StageChange, User
from ..services import files, pipeline, records
from ..services.rules import slugify
from .access import STAFF, actor, is_htmx, render, require, roles

bp = Blueprint("applications", __name__, url_prefix="/applications")


def _get(app_id: str) -> Any:
    try:
        return records.get(F.APPLICATION, app_id, actor())
    except NotFound:
        abort(404)


@bp.get("/<app_id>")
@login_required
def detail(app_id: str) -> Any:
    """Everything about one application, on one page."""
    me = actor()
    app = _get(app_id)
    job = records.get(F.JOB, app.job_id, me)
    candidate = records.get(F.CANDIDATE, app.candidate_id, me)
    history = db.session.execute(
        select(StageChange, User.name, User.email)
        .outerjoin(User, User.id == StageChange.by_user)
        .where(StageChange.application_id == app.id)
        .order_by(StageChange.at.desc(), StageChange.id.desc())
    ).all()
    questions = {
        q["id"]: q for q in (job.screening_questions or []) + (job.knockout_questions or [])
    }
    context: dict[str, Any] = {}
    from . import interviews as interview_views
    from . import notes as note_views

    context["notes"] = note_views.notes_for("application", app.id, me)
    context["interviews"] = interview_views.interviews_for_application(app.id, me)
    return render(
        "applications/detail.html",
        cv=files.find(app.cv_blob_id),
        max_cv=files.human_size(files.max_cv_bytes()),
        application=app,
        job=job,
        candidate=candidate,
        history=history,
        questions=questions,
        stages=pipeline.STAGES,
        reasons=F.APPLICATION["rejected_reason"].choices,
        parent_kind="application",
        parent_id=app.id,
        **context,
    )


@bp.post("/<app_id>/move")
@login_required
def move(app_id: str) -> Any:
    """Drag and drop, the keyboard "move to" menu and the detail page all post here.

    HTMX drags get the new column counts (the card already sits where it was
    dropped); the menu gets the whole board; a plain form is redirected back.
    """
    form = request.form
    require("application", "update")  # interviewers read applications, never move them
    app = _get(app_id)
    try:
        pipeline.move(
            app_id,
            form.get("stage", ""),
            actor(),
            before_id=form.get("before_id") or None,
            after_id=form.get("after_id") or None,
            rejected_reason=form.get("rejected_reason") or None,
            rejected_note=(form.get("rejected_note") or "").strip() or None,
        )
    except NotFound:
        abort(404)
    except ApiError as exc:
        message = "; ".join((exc.fields or {}).values()) or exc.message
        if is_htmx():
            return render("jobs/_move_error.html", message=message, status=422)
        flash(message, "error")
        return redirect(_back(app.job_id), code=303)
    if is_htmx():
        if form.get("view") == "board":
            job = records.get(F.JOB, app.job_id, actor())
            return render(
                "jobs/_board.html",
                job=job,
                columns=pipeline.board(app.job_id),
                stages=pipeline.STAGES,
                reasons=F.APPLICATION["rejected_reason"].choices,
            )
        counts = pipeline.stage_counts([app.job_id])[app.job_id]
        return render("jobs/_counts.html", counts=counts, stages=pipeline.STAGES)
    flash("Moved.", "success")
    return redirect(_back(app.job_id), code=303)


@bp.post("/<app_id>/cv")
@roles(*STAFF)
def upload_cv(app_id: str) -> Any:
    """Attach (or replace) the CV: PDF, DOC or DOCX, checked by content."""
    app = _get(app_id)
    detail_url = url_for("applications.detail", app_id=app.id)
    upload = request.files.get("cv")
    if upload is None or not upload.filename:
        flash("Choose a PDF, DOC or DOCX file.", "error")
        return redirect(detail_url, code=303)
    try:
        blob = files.store_cv(upload.stream)
        try:
            records.update(F.APPLICATION, app.id, {"cv_blob_id": blob.id}, actor())
        except BaseException:
            files.delete([blob.id])
            raise
    except ValidationFailed as exc:
        flash("CV not saved: " + "; ".join(exc.fields.values()), "error")
    else:
        flash("CV saved.", "success")
    return redirect(detail_url, code=303)


@bp.get("/<app_id>/cv")
@login_required
def cv(app_id: str) -> Any:
    """The CV as a download; ``?inline=1`` shows a PDF in the page's preview.

    Only for logged-in staff who can see the application; the content type is
    the one the file's bytes proved, and the browser may not guess another.
    """
    app = _get(app_id)
    blob = files.find(app.cv_blob_id)
    if blob is None:
        abort(404)
    candidate = records.get(F.CANDIDATE, app.candidate_id, actor())
    inline = request.args.get("inline") == "1" and blob.kind == "pdf"
    response = send_file(
        blob.path,
        mimetype=blob.mimetype,
        as_attachment=not inline,
        download_name=f"{slugify(candidate.name) or 'candidate'}-cv.{blob.kind}",
        max_age=0,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _back(job_id: str) -> str:
    target = request.form.get("next", "")
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("jobs.board", job_id=job_id)


# --- the rejection e-mail ---------------------------------------------------------


@bp.post("/<app_id>/rejection-email")
@roles(*STAFF)
def rejection_email(app_id: str) -> Any:
    """Queue the rejection e-mail to the candidate, in the job's language, once.

    A refusal (not rejected, no address, already queued) shows the page again
    with the reason and a 409.
    """
    from flask import make_response

    from ..errors import Conflict
    from ..services import mail

    app = _get(app_id)
    try:
        message = mail.send_rejection(app.id)
    except Conflict as exc:
        flash(f"No e-mail sent: {exc.message}.", "error")
        response = make_response(detail(app.id))
        response.status_code = 409
        return response
    flash(f"Rejection e-mail queued for {message.to_email}.", "success")
    return redirect(url_for("applications.detail", app_id=app.id), code=303)


@bp.post("/<app_id>/rescore")
@roles(*STAFF)
def rescore(app_id: str) -> Any:
    """Score the fit again: at once with the offline scorer; queued for the
    background worker when a language model is configured (never in a request)."""
    from ..services import scoring

    app = _get(app_id)
    target = url_for("applications.detail", app_id=app.id)
    try:
        outcome = scoring.request_rescore(app.id)
    except scoring.ScoringOff:
        flash("Fit scoring is off for this job: switch on AI screening in the job first.", "error")
    except Exception:  # noqa: BLE001 - a failed scoring must not fail the page
        db.session.rollback()
        current_app.logger.exception("rescoring %s failed", app.id)
        flash("The fit could not be scored just now; try again later.", "error")
    else:
        if outcome == "queued":
            flash("Queued: the language model scores it in the background shortly.", "success")
        else:
            flash("Fit scored again.", "success")
    return redirect(target, code=303)
