"""Settings → E-mail (admins only): the message templates and the outbox.

Templates: each kind of message in English and German; saving checks the
placeholders (an unknown one is a 400 with the names that are allowed), and
"reset" goes back to the built-in wording. The outbox: every message with its
status, attempts and last error, newest first, filterable by status; a
message's page shows its text, its ``.ics`` downloads, and a failed (or
waiting) one can be sent again at once.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, make_response, redirect, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from wtforms import StringField, TextAreaField

from ..errors import Conflict, NotFound, ValidationFailed
from ..extensions import db
from ..models import OutboxMessage
from ..services import mail
from .access import render, roles
from .forms import show_errors

bp = Blueprint("mail", __name__, url_prefix="/settings/mail")


@bp.context_processor
def _settings_nav() -> dict[str, Any]:
    """The settings pages' section bar, with E-mail as the current section."""
    if not current_user.is_authenticated:
        return {}
    from .settings import _sections

    return {"settings_sections": _sections(), "settings_current": "mail.index"}


class TemplateForm(FlaskForm):
    subject = StringField("Subject", render_kw={"maxlength": mail.SUBJECT_MAX, "required": True})
    body = TextAreaField(
        "Text", render_kw={"maxlength": mail.BODY_MAX, "rows": 14, "required": True}
    )


def _status_counts() -> dict[str, int]:
    rows = db.session.execute(
        select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
    ).all()
    return {status: 0 for status in mail.STATUSES} | dict(rows)  # type: ignore[arg-type]


def _delivery() -> tuple[str | None, str | None]:
    """(where mail goes, or None; what is wrong, or None)."""
    problem = mail.delivery_problem()
    try:
        settings = mail.smtp_settings()
    except ValueError:
        settings = None
    sender = None
    if problem is None:
        sender = str(mail.mail_from())
    where = f"{settings.describe()}, from {sender}" if settings and sender else None
    return where, problem


@bp.get("")
@roles("admin")
def index() -> Any:
    where, problem = _delivery()
    customised = {
        (kind, language): mail.template_for(kind, language)[2]
        for kind in mail.KINDS
        for language in mail.LANGUAGES
    }
    return render(
        "mail/index.html",
        kinds=mail.KINDS,
        languages=mail.LANGUAGES,
        language_names=mail.LANGUAGE_NAMES,
        customised=customised,
        counts=_status_counts(),
        where=where,
        problem=problem,
    )


def _kind_or_404(kind: str, language: str) -> mail.Kind:
    if kind not in mail.KINDS or language not in mail.LANGUAGES:
        abort(404)
    return mail.KINDS[kind]


def _template_page(kind: str, language: str, form: TemplateForm, status: int = 200) -> Any:
    return render(
        "mail/template.html",
        status=status,
        form=form,
        kind=kind,
        info=mail.KINDS[kind],
        language=language,
        language_name=mail.LANGUAGE_NAMES[language],
        customised=mail.template_for(kind, language)[2],
        placeholders=[(p, mail.PLACEHOLDER_HELP[p]) for p in mail.KINDS[kind].placeholders],
    )


@bp.route("/templates/<kind>/<language>", methods=["GET", "POST"])
@roles("admin")
def template(kind: str, language: str) -> Any:
    _kind_or_404(kind, language)
    if request.method == "GET":
        subject, body, _customised = mail.template_for(kind, language)
        form = TemplateForm(formdata=None, data={"subject": subject, "body": body})
        return _template_page(kind, language, form)
    form = TemplateForm()  # CSRF is checked app-wide before any view
    try:
        mail.save_template(
            kind, language, form.subject.data or "", form.body.data or "", current_user.id
        )
    except ValidationFailed as exc:
        show_errors(form, exc.fields or {})
        form.form_errors.append("Nothing was saved; please correct the marked fields.")
        return _template_page(kind, language, form, status=400)
    flash(
        f"Saved the {mail.LANGUAGE_NAMES[language]} “{mail.KINDS[kind].label}” template.", "success"
    )
    return redirect(url_for("mail.index"), code=303)


@bp.post("/templates/<kind>/<language>/reset")
@roles("admin")
def template_reset(kind: str, language: str) -> Any:
    info = _kind_or_404(kind, language)
    mail.reset_template(kind, language)
    flash(
        f"The {mail.LANGUAGE_NAMES[language]} “{info.label}” template is the built-in one again.",
        "success",
    )
    return redirect(url_for("mail.template", kind=kind, language=language), code=303)


# --- the outbox -----------------------------------------------------------------


def _page_number() -> int:
    raw = request.args.get("page", "1")
    if not raw.isdigit() or not 1 <= int(raw) <= 100_000:
        abort(400, "page must be a whole number from 1")
    return int(raw)


@bp.get("/outbox")
@roles("admin")
def outbox() -> Any:
    status = request.args.get("status") or None
    if status is not None and status not in mail.STATUSES:
        abort(400, "status must be one of: " + ", ".join(mail.STATUSES))
    page = _page_number()
    messages, more = mail.outbox(status, page)
    where, problem = _delivery()
    return render(
        "mail/outbox.html",
        messages=messages,
        more=more,
        page=page,
        shown=status,
        statuses=mail.STATUSES,
        counts=_status_counts(),
        where=where,
        problem=problem,
    )


def _message_or_404(message_id: str) -> OutboxMessage:
    message = db.session.get(OutboxMessage, message_id) if message_id.startswith("msg_") else None
    if message is None:
        abort(404)
    return message


@bp.get("/outbox/<message_id>")
@roles("admin")
def message(message_id: str) -> Any:
    return render("mail/message.html", message=_message_or_404(message_id))


@bp.get("/outbox/<message_id>/invite.ics")
@roles("admin")
def message_ics(message_id: str) -> Any:
    """The message's calendar attachment as a file (404 for messages without one)."""
    msg = _message_or_404(message_id)
    if not msg.ics:
        abort(404)
    response = make_response(msg.ics)
    method = msg.ics_method or "REQUEST"
    response.headers["Content-Type"] = f"text/calendar; charset=utf-8; method={method}"
    response.headers["Content-Disposition"] = f'attachment; filename="{msg.id}.ics"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.post("/outbox/<message_id>/retry")
@roles("admin")
def message_retry(message_id: str) -> Any:
    _message_or_404(message_id)
    try:
        mail.retry(message_id)
    except Conflict as exc:
        flash(exc.message[:1].upper() + exc.message[1:] + ".", "error")
    except NotFound:
        abort(404)
    else:
        flash("The message will be sent at the worker's next round.", "success")
    return redirect(url_for("mail.message", message_id=message_id), code=303)


def register(app: Any) -> None:
    """``rejection_email(app_id)`` for the application page: the message already
    queued (or sent), so the page shows it instead of a second button."""
    app.add_template_global(mail.rejection_sent, "rejection_email")
