"""The public apply flow: a candidate's submission becomes a candidate and an application.

Candidates never log in, so the writes are made by a system actor (no user,
the admin role's reach). Everything the submission creates is written in one
transaction: the candidate (found by e-mail, case-insensitively, or created),
the "Careers page" source on first use, the application, and the "application
received" e-mail in the outbox (``mail``). A stored CV whose transaction fails
is deleted again, so a failure leaves nothing behind.

Abuse: every submission is counted per address in ``apply_attempt`` (in the
database, so the limit holds across worker processes), and the one-time form
token of a submission that succeeded is kept there, so a double-click or a
resubmit finds the first application instead of making a second.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from typing import IO, Any

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from .. import fields as F
from ..database import writing
from ..errors import Conflict, ValidationFailed
from ..extensions import db
from ..models import Application, ApplyAttempt, Candidate, Job, Source, utcnow
from ..validation import ANSWER_TEXT_MAX, check_answer_against, clean
from . import careers, files, mail, records
from .auth import Actor

SYSTEM = Actor(None, "admin", ("*",))  # a submission has no user
SOURCE_NAME = "Careers page"
SOURCE_LABEL = "careers_page"
DEFAULT_RATE_LIMIT = (10, 600)  # submissions per address, per seconds
TOKEN_MAX = 64
_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}")


class RateLimited(Exception):
    """Too many submissions from this address lately."""


@dataclass
class Submission:
    """What the form sent, already parsed from text (answers keyed by question id)."""

    name: str = ""
    email: str = ""
    phone: str = ""
    cover_letter: str = ""
    answers: dict[str, Any] = field(default_factory=dict)
    privacy_consent: bool = False
    talent_pool: bool = False
    form_token: str = ""
    attempt_id: int | None = None  # the counted submission, which keeps the token
    problems: dict[str, str] = field(default_factory=dict)  # answers that did not parse


@dataclass
class Result:
    status: str  # "created", "already_applied" or "duplicate" (the same form sent twice)
    application_id: str | None = None
    candidate_name: str = ""


def open_job(slug: str) -> Job | None:
    """The job behind a careers URL, only while candidates may apply to it."""
    if careers.enabled_profile() is None:
        return None
    return careers.published_job(slug)


def questions(job: Job) -> list[dict[str, Any]]:
    """Screening questions, then knockout ones; knockout answers never reject anyone."""
    return list(job.screening_questions or []) + list(job.knockout_questions or [])


def new_form_token() -> str:
    return secrets.token_urlsafe(24)


# --- rate limit ---------------------------------------------------------------


def rate_limit() -> tuple[int, int]:
    limit = current_app.config.get("APPLY_RATE_LIMIT", DEFAULT_RATE_LIMIT)
    count, seconds = limit
    return int(count), int(seconds)


def count_attempt(ip: str) -> int:
    """Record one submission from ``ip`` (its id); ``RateLimited`` when over the limit."""
    count, seconds = rate_limit()
    ip = (ip or "?")[:64]
    with writing():
        since = utcnow() - timedelta(seconds=seconds)
        recent = db.session.scalar(
            select(func.count()).where(ApplyAttempt.ip == ip, ApplyAttempt.at > since)
        )
        if recent >= count:
            raise RateLimited()
        attempt = ApplyAttempt(ip=ip)
        db.session.add(attempt)
        db.session.flush()
        return attempt.id


# --- checking -----------------------------------------------------------------


def check(job: Job, sub: Submission) -> tuple[dict[str, Any], dict[str, str]]:
    """Every problem with the submission at once: ``({field: value}, {field: message})``.

    The candidate and application fields are checked by the same field rules the
    API uses (``validation.clean``); answers by their question's type. Knockout
    answers are stored like any other and never reject anyone.
    """
    errors: dict[str, str] = dict(sub.problems)
    cand_body = {"name": sub.name.strip(), "email": sub.email.strip()}
    if sub.phone.strip():
        cand_body["phone"] = sub.phone.strip()
    if not cand_body["name"]:
        del cand_body["name"]
    cand_values, cand_errors = clean(F.CANDIDATE, cand_body, "create")
    errors.update({k: v for k, v in cand_errors.items() if k in ("name", "phone", "email")})
    if not cand_body["email"]:
        errors["email"] = "required"
    app_body: dict[str, Any] = {}
    if sub.cover_letter.strip():
        app_body["cover_letter"] = sub.cover_letter
    app_values, app_errors = clean(F.APPLICATION, app_body, "create")
    if "cover_letter" in app_errors:
        errors["cover_letter"] = app_errors["cover_letter"]
    answers: list[dict[str, Any]] = []
    for q in questions(job):
        key = "q:" + q["id"]
        if key in errors:
            continue
        value = sub.answers.get(q["id"])
        if value is None:
            if q.get("required"):
                errors[key] = "required"
            continue
        if isinstance(value, str) and len(value) > ANSWER_TEXT_MAX:
            errors[key] = f"at most {ANSWER_TEXT_MAX} characters"
            continue
        if isinstance(value, str) and "\x00" in value:
            errors[key] = "must not contain NUL characters"
            continue
        problem = check_answer_against(q, value)
        if problem:
            errors[key] = problem
            continue
        answers.append({"question_id": q["id"], "value": value})
    if not sub.privacy_consent:
        errors["privacy_consent"] = "required"
    values = {
        "candidate": cand_values,
        "application": {**app_values, "answers": answers},
    }
    return values, errors


# --- saving -------------------------------------------------------------------


def submit(job: Job, sub: Submission, cv: IO[bytes] | None) -> Result:
    """Check, store the CV and write everything in one transaction.

    ``ValidationFailed`` carries every problem (the CV's too, so the person can
    fix all at once); nothing is left behind when it is raised.
    """
    values, errors = check(job, sub)
    blob = None
    if cv is not None:
        try:
            blob = files.store_cv(cv)
        except ValidationFailed as exc:
            errors.update(exc.fields or {})
    if errors:
        if blob is not None:
            files.delete([blob.id])
        raise ValidationFailed(errors)
    try:
        result = _write(job, sub, values, blob.id if blob else None)
    except BaseException:
        if blob is not None:
            files.delete([blob.id])
        raise
    if blob is not None and result.status != "created":
        files.delete([blob.id])
    return result


def _write(job: Job, sub: Submission, values: dict[str, Any], blob_id: str | None) -> Result:
    token = sub.form_token if _TOKEN.fullmatch(sub.form_token or "") else None
    try:
        with writing():
            if token:
                earlier = db.session.scalar(
                    select(ApplyAttempt.application_id).where(ApplyAttempt.form_token == token)
                )
                if earlier:
                    return Result("duplicate", earlier, sub.name.strip())
            cand_values = values["candidate"]
            email_key = cand_values["email"].lower()
            candidate = db.session.scalar(select(Candidate).where(Candidate.email_key == email_key))
            if candidate is not None:
                existing = db.session.scalar(
                    select(Application.id).where(
                        Application.job_id == job.id, Application.candidate_id == candidate.id
                    )
                )
                if existing:
                    return Result("already_applied", existing, candidate.name)
                if sub.talent_pool and not candidate.consent_talent_pool:
                    records.update(F.CANDIDATE, candidate.id, {"consent_talent_pool": True}, SYSTEM)
            else:
                body = {**cand_values, "consent_talent_pool": sub.talent_pool}
                candidate = records.create(F.CANDIDATE, body, SYSTEM)
            app_body: dict[str, Any] = {
                **values["application"],
                "job_id": job.id,
                "candidate_id": candidate.id,
                "stage": "new",
                "source_id": _careers_source().id,
                "source_label": SOURCE_LABEL,
            }
            if blob_id:
                app_body["cv_blob_id"] = blob_id
            if not app_body.get("answers"):
                app_body.pop("answers", None)
            application = records.create(F.APPLICATION, app_body, SYSTEM)
            if token:
                attempt = db.session.get(ApplyAttempt, sub.attempt_id or 0)
                if attempt is None:
                    attempt = ApplyAttempt(ip="?")
                    db.session.add(attempt)
                attempt.form_token = token
                attempt.application_id = application.id
                db.session.flush()
            # the confirmation commits with the application, or neither does
            mail.application_received(application, candidate, job)
            return Result("created", application.id, candidate.name)
    except Conflict:
        # lost a race against a parallel submission of the same person and job
        return Result("already_applied", None, sub.name.strip())
    except IntegrityError:
        # the same form token won a race in another process: that one counts
        db.session.rollback()
        earlier = db.session.scalar(
            select(ApplyAttempt.application_id).where(ApplyAttempt.form_token == token)
        )
        return Result("duplicate", earlier, sub.name.strip())


def _careers_source() -> Source:
    source = db.session.scalar(select(Source).where(Source.name == SOURCE_NAME))
    if source is None:
        source = records.create(F.SOURCE, {"name": SOURCE_NAME, "kind": "careers_page"}, SYSTEM)
    return source
