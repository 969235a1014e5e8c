"""The public apply form of a job, its submit and the confirmation page.

Candidates never log in. The page speaks the job's language (then the
browser's). A refused submission shows every problem next to its field and
keeps what was typed (a file input cannot be refilled: the page says to choose
the file again). Abuse: a honeypot field, a per-address rate limit
(``APPLY_RATE_LIMIT``, submissions per seconds) and the app-wide CSRF check.
"""

from __future__ import annotations

import math
import re
from typing import Any

from flask import (
    Blueprint,
    abort,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import NotFound, RequestEntityTooLarge

from .. import fields as F
from ..errors import ValidationFailed
from ..i18n import use_locale
from ..services import applying, files
from ..validation import ANSWER_TEXT_MAX

bp = Blueprint("apply", __name__, url_prefix="/careers")

HONEYPOT = "website"
CV_ACCEPT = (
    ".pdf,.doc,.docx,application/pdf,application/msword,"
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
)


def _job_or_404(slug: str) -> Any:
    job = applying.open_job(slug)
    if job is None:
        abort(404)
    use_locale(job.language)
    return job


def _job_url(job: Any) -> str:
    return url_for("careers.job", slug=job.slug)


def _say(message: str) -> str:
    """A service message in the page's language (the API's words in English)."""
    if message in ("required", "must not be empty"):
        return _("required")
    m = re.fullmatch(r"at most (\d+) characters", message)
    if m:
        return _("at most %(n)s characters", n=m.group(1))
    if message.startswith("must be a valid e-mail address"):
        return _("must be a valid e-mail address")
    if message.startswith("the file is larger than"):
        return _(
            "the file is larger than %(size)s: choose a smaller one",
            size=files.human_size(files.max_cv_bytes()),
        )
    known = {
        "the file is empty": _("the file is empty"),
        "only PDF, DOC or DOCX files are accepted": _("only PDF, DOC or DOCX files are accepted"),
        "must not contain NUL characters": _("must not contain NUL characters"),
        "must be true or false": _("choose yes or no"),
        "must be a number": _("must be a number"),
        "must be a string": _("must be text"),
        "must be one of the question's choices": _("choose one of the options"),
        "must be valid Unicode text (no lone surrogates)": _("must be valid text"),
    }
    return known.get(message, message)


def _render_form(
    job: Any,
    data: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    notice: str | None = None,
    status: int = 200,
) -> Any:
    errors = {k: _say(v) for k, v in (errors or {}).items()}
    if errors and data and data.get("had_file") and "cv" not in errors:
        errors["cv"] = _("please choose the file again")
    html = render_template(
        "apply/form.html",
        job=job,
        questions=applying.questions(job),
        data=data or {},
        errors=errors,
        notice=notice,
        form_token=(data or {}).get("form_token") or applying.new_form_token(),
        honeypot=HONEYPOT,
        fields=F,
        answer_max=ANSWER_TEXT_MAX,
        cv_accept=CV_ACCEPT,
        max_cv=files.human_size(files.max_cv_bytes()),
        job_url=_job_url(job),
    )
    return make_response(html, status)


def _parse(job: Any, form: Any) -> tuple[applying.Submission, dict[str, Any]]:
    """The submission as values, and what was typed (to refill the form)."""
    sub = applying.Submission(
        name=form.get("name", ""),
        email=form.get("email", ""),
        phone=form.get("phone", ""),
        cover_letter=form.get("cover_letter", ""),
        privacy_consent=form.get("privacy_consent") == "yes",
        talent_pool=form.get("talent_pool") == "yes",
        form_token=form.get("form_token", "")[: applying.TOKEN_MAX],
    )
    typed: dict[str, Any] = {
        k: form.get(k, "") for k in ("name", "email", "phone", "cover_letter", "form_token")
    }
    typed["privacy_consent"] = sub.privacy_consent
    typed["talent_pool"] = sub.talent_pool
    typed["answers"] = {}
    for q in applying.questions(job):
        raw = form.get("q:" + q["id"], "")
        typed["answers"][q["id"]] = raw
        raw = raw.strip()
        if raw == "":
            continue
        if q["type"] == "yes_no":
            if raw not in ("yes", "no"):
                sub.problems["q:" + q["id"]] = "must be true or false"
                continue
            sub.answers[q["id"]] = raw == "yes"
        elif q["type"] == "number":
            try:
                number = float(raw.replace(",", "."))
            except ValueError:
                number = math.nan
            if not math.isfinite(number):
                sub.problems["q:" + q["id"]] = "must be a number"
                continue
            sub.answers[q["id"]] = int(number) if number.is_integer() else number
        else:
            sub.answers[q["id"]] = raw
    return sub, typed


@bp.route("/<slug>/apply", methods=["GET", "POST"], endpoint="form")
def apply_form(slug: str) -> Any:
    job = _job_or_404(slug)
    if job.external_apply_url:
        return redirect(job.external_apply_url)
    if request.method == "GET":
        return _render_form(job)
    try:
        attempt_id = applying.count_attempt(request.remote_addr or "?")
    except applying.RateLimited:
        return _limited(job)
    sub, typed = _parse(job, request.form)
    sub.attempt_id = attempt_id
    upload = request.files.get("cv")
    has_file = upload is not None and bool(upload.filename)
    typed["had_file"] = has_file
    if request.form.get(HONEYPOT):
        # a bot: answer as if it worked, keep nothing
        return _done(job, "created", sub.name.strip())
    try:
        result = applying.submit(job, sub, upload.stream if has_file else None)
    except ValidationFailed as exc:
        return _render_form(job, typed, exc.fields or {}, status=400)
    return _done(job, result.status, result.candidate_name)


def _done(job: Any, status: str, name: str) -> Any:
    session["applied"] = {"slug": job.slug, "status": status, "name": name[:200]}
    return redirect(url_for("apply.thanks", slug=job.slug), code=303)


@bp.route("/<slug>/apply/thanks", endpoint="thanks")
def thanks(slug: str) -> Any:
    job = _job_or_404(slug)
    done = session.get("applied") or {}
    if done.get("slug") != job.slug:
        done = {}
    return render_template(
        "apply/thanks.html",
        job=job,
        name=done.get("name") or "",
        already=done.get("status") == "already_applied",
    )


def _limited(job: Any) -> Any:
    """429 with Retry-After, and the form again with what was typed: a candidate
    behind a busy shared address should not lose a cover letter to the limit."""
    _count, seconds = applying.rate_limit()
    _sub, typed = _parse(job, request.form)
    typed["had_file"] = bool(getattr(request.files.get("cv"), "filename", ""))
    notice = " ".join(
        (
            _("Please wait a moment") + ".",
            _(
                "We have received many applications from your network in a short time. "
                "Please try again in %(minutes)s minutes.",
                minutes=max(1, math.ceil(seconds / 60)),
            ),
        )
    )
    errors = {"cv": _("please choose the file again")} if typed["had_file"] else {}
    response = _render_form(job, typed, errors, notice=notice, status=429)
    response.headers["Retry-After"] = str(seconds)
    return response


def _job_from_url() -> Any:
    slug = (request.view_args or {}).get("slug")
    if request.endpoint != "apply.form" or not slug:
        return None
    job = applying.open_job(slug)
    if job is not None:
        use_locale(job.language)
    return job


def _not_found() -> Any:
    """What the app shows for any unknown page (this blueprint's handlers come first)."""
    error = NotFound()
    return make_response(render_template("error.html", error=error), error.code)


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(exc: RequestEntityTooLarge) -> Any:
    """The body is over MAX_CONTENT_LENGTH: nothing of it could be read."""
    job = _job_from_url()
    if job is None:
        return _not_found()
    message = _(
        "the file is larger than %(size)s: choose a smaller one",
        size=files.human_size(files.max_cv_bytes()),
    )
    notice = _("Your application was too large to receive. Please fill in the form again.")
    return _render_form(job, {}, {"cv": message}, notice=notice, status=413)


@bp.errorhandler(CSRFError)
def _csrf_failed(exc: CSRFError) -> Any:
    """An expired form (or a forged post): show the form again with what was typed."""
    job = _job_from_url()
    if job is None:
        return _not_found()
    _sub, typed = _parse(job, request.form)
    typed["had_file"] = bool(getattr(request.files.get("cv"), "filename", ""))
    notice = _("This form has expired. Please check your entries and send it again.")
    errors = {"cv": _("please choose the file again")} if typed["had_file"] else {}
    return _render_form(job, typed, errors, notice=notice, status=400)
