"""SQLAlchemy models.

The seven xapi2 models are built from their field tables in ``ats.fields``:
one real column per field, an index for every filter and sort key (sort
indexes end in ``id``, the tie-breaker), and the uniqueness rules as database
constraints. Users and API tokens are ordinary declared models.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from flask_login import UserMixin
from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug.security import check_password_hash, generate_password_hash

from . import fields as F
from .extensions import db

ID_LENGTH = 40


def utcnow() -> datetime:
    """Naive UTC: what every DateTime column stores."""
    return datetime.now(UTC).replace(tzinfo=None)


def _column_type(f: F.Field) -> Any:
    if f.type in (F.STRING, F.EMAIL, F.URL):
        return Text() if (f.max_length or 0) > 4000 else String(f.max_length)
    if f.type == F.ENUM:
        return String(max(len(c) for c in f.choices))
    if f.type == F.REF:
        return String(ID_LENGTH)
    return {
        F.NUMBER: Float(),
        F.INTEGER: Integer(),
        F.BOOL: Boolean(),
        F.TAGS: JSON(),
        F.LIST: JSON(),
        F.DATETIME: DateTime(),
        F.DATE: Date(),
    }[f.type]


def _index_columns(mdef: F.ModelDef) -> list[tuple[str, ...]]:
    """Every filter and sort key gets an index; drop those another one starts with."""
    # is_archived and the envelope status are left out on purpose: nearly every row
    # has the same value, and such an index only lures SQLite's planner away from
    # the sort index.
    wanted: list[tuple[str, ...]] = [("owned_by",), ("created_by",)]
    for key in mdef.filters:
        f = mdef[key]
        # list fields are indexed in field_member; case-insensitive ones via their *_key column
        if key not in mdef.member_fields and f.type not in (F.TAGS, F.LIST) and not f.unique_ci:
            wanted.append((key,))
    for key in (*mdef.sorts, *F.ENVELOPE_SORTS):
        wanted.append((key, "id"))
    wanted.extend(ix.columns for ix in mdef.indexes)
    result: list[tuple[str, ...]] = []
    for cols in wanted:
        if cols in result:
            continue
        if any(other[: len(cols)] == cols and other != cols for other in wanted):
            continue
        result.append(cols)
    return result


class RecordMixin:
    """Envelope columns (spec section 3) shared by every xapi2 model."""

    __model_def__: F.ModelDef

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    row_status: Mapped[str] = mapped_column(String(16), default="active", nullable=False)
    is_archived: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    owned_by: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    created_by: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, nullable=False)


def _build(class_name: str, mdef: F.ModelDef, **extra: Any) -> Any:
    ns: dict[str, Any] = {"__tablename__": mdef.name, "__model_def__": mdef}
    for f in mdef.fields:
        fk = (ForeignKey(f"{f.ref}.id"),) if f.type == F.REF else ()
        ns[f.name] = mapped_column(
            f.name,
            _column_type(f),
            *fk,
            nullable=f.nullable,
            default=f.default,
            unique=f.unique or None,
        )
    args: list[Any] = [Index(None, *cols) for cols in _index_columns(mdef)]
    ns.update(extra)
    args.extend(ns.pop("__extra_args__", ()))
    ns["__table_args__"] = tuple(args)
    return type(class_name, (RecordMixin, db.Model), ns)


Job = _build("Job", F.JOB)
Candidate = _build(
    "Candidate",
    F.CANDIDATE,
    # lower-cased e-mail: the case-insensitive uniqueness rule, enforced by the database
    email_key=mapped_column(String(320), unique=True),
    # when consent_talent_pool last became true: the consent's period runs from here
    consent_at=mapped_column(DateTime),
)
Source = _build("Source", F.SOURCE)
Application = _build(
    "Application",
    F.APPLICATION,
    __extra_args__=(UniqueConstraint("job_id", "candidate_id"),),
    # the CV's text as extracted for fit scoring (and search); None until read
    cv_text=mapped_column(Text),
)
Interview = _build(
    "Interview",
    F.INTERVIEW,
    # iCalendar SEQUENCE of the invitation: raised with every change sent out
    ics_sequence=mapped_column(Integer, nullable=False, default=0, server_default="0"),
)
ApplicationNote = _build("ApplicationNote", F.APPLICATION_NOTE)
CompanyProfile = _build(
    "CompanyProfile",
    F.COMPANY_PROFILE,
    # always 1: a unique column that makes a second row impossible, even in a race
    singleton=mapped_column(Integer, default=1, nullable=False, unique=True),
)

RECORDS: dict[str, Any] = {
    "job": Job,
    "application": Application,
    "interview": Interview,
    "application_note": ApplicationNote,
    "company_profile": CompanyProfile,
    "candidate": Candidate,
    "source": Source,
}


class FieldMember(db.Model):
    """One item of a list field (tags, team_ids, interviewer_ids), so that
    "contains" filters are an indexed lookup instead of a scan of JSON."""

    __tablename__ = "field_member"
    model: Mapped[str] = mapped_column(String(32), primary_key=True)
    field: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[str] = mapped_column(String(F.TAG_MAX_LENGTH), primary_key=True)
    object_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, index=True)


ROLES = ("admin", "recruiter", "interviewer")


class User(UserMixin, db.Model):
    __tablename__ = "user"
    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True, nullable=False)
    name: Mapped[str | None] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(256), nullable=False)
    role: Mapped[str] = mapped_column(String(16), nullable=False, default="recruiter")
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, nullable=False)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime)
    # Part of the session's user id: bumping it (logout, password change,
    # deactivation) ends every session and remember-me cookie of this user.
    session_version: Mapped[int] = mapped_column(
        Integer, nullable=False, default=1, server_default="1"
    )
    timezone: Mapped[str | None] = mapped_column(String(64))
    # The second factor (ats/services/totp.py). The TOTP secret is stored
    # encrypted with a key derived from SECRET_KEY; set without
    # ``totp_enabled_at`` it is an enrolment waiting for its first code.
    totp_secret: Mapped[str | None] = mapped_column(String(255))
    totp_enabled_at: Mapped[datetime | None] = mapped_column(DateTime)
    # the last time step whose code was accepted: no code of it or before counts again
    totp_last_step: Mapped[int | None] = mapped_column(Integer)
    # SHA-256 of each unused one-time recovery code
    totp_recovery: Mapped[list[str] | None] = mapped_column(JSON)

    @property
    def totp_enabled(self) -> bool:
        return self.totp_enabled_at is not None

    @property
    def is_active(self) -> bool:  # Flask-Login: deactivated users cannot log in
        return self.active

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)


class ApiToken(db.Model):
    """A personal access token, ``pat_<prefix>_<secret>``.

    The public ``prefix`` finds the row (an index); the token is checked against
    ``token_hash``, an HMAC-SHA256 under a key derived from SECRET_KEY whose
    short id is ``key_id``. The secret is 256 random bits, so a fast hash is as
    safe as a slow one and keeps every API call cheap; the key means a copy of
    the database alone cannot even test a guess. Tokens made before 0008 have
    no ``key_id``: their ``token_hash`` is a plain SHA-256 until first used."""

    __tablename__ = "api_token"
    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("user.id"), nullable=False, index=True)
    name: Mapped[str | None] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    prefix: Mapped[str] = mapped_column(String(16), nullable=False, index=True)
    key_id: Mapped[str | None] = mapped_column(String(16))
    hint: Mapped[str] = mapped_column(String(16), nullable=False)
    scopes: Mapped[list[str]] = mapped_column(JSON, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, nullable=False)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)


class LoginFailure(db.Model):
    """A failed login, counted per e-mail and per address to throttle guessing.

    Kept in the database so that every worker process sees the same count."""

    __tablename__ = "login_failure"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(String(320), nullable=False)
    ip: Mapped[str] = mapped_column(String(64), nullable=False)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, nullable=False)
    __table_args__ = (Index(None, "email", "at"), Index(None, "ip", "at"))


class StageChange(db.Model):
    """One move of an application between stages: the card's history."""

    __tablename__ = "stage_change"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    application_id: Mapped[str] = mapped_column(
        ForeignKey("application.id", ondelete="CASCADE"), nullable=False
    )
    from_stage: Mapped[str | None] = mapped_column(String(32))
    to_stage: Mapped[str] = mapped_column(String(32), nullable=False)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, nullable=False)
    by_user: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    __table_args__ = (Index(None, "application_id", "at"),)


class ApplyAttempt(db.Model):
    """A submission of the public apply form, counted per address to limit abuse.

    Kept in the database so that every worker process sees the same count. A
    submission that created an application also keeps its one-time form token,
    so a double-click or a resubmit finds the first one instead of a second."""

    __tablename__ = "apply_attempt"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ip: Mapped[str] = mapped_column(String(64), nullable=False)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, nullable=False)
    form_token: Mapped[str | None] = mapped_column(String(64), unique=True)
    application_id: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    __table_args__ = (Index(None, "ip", "at"),)


class IdempotencyKey(db.Model):
    """The answer to a POST sent with an ``Idempotency-Key``, replayed to a retry.

    Written in the same transaction as the object it answers for, so a retry
    after a lost response finds either both or neither. Keys are the client's
    own strings, hence unique per user only; rows are purged after 24 hours.
    ``method``, ``path`` and ``body_sha256`` fingerprint the first request, so
    the same key on another request is refused instead of answered wrongly."""

    __tablename__ = "idempotency_key"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), nullable=False)
    key: Mapped[str] = mapped_column(String(255), nullable=False)
    method: Mapped[str] = mapped_column(String(16), nullable=False)
    path: Mapped[str] = mapped_column(Text, nullable=False)
    body_sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    status: Mapped[int] = mapped_column(Integer, nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False)
    location: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, nullable=False)
    __table_args__ = (UniqueConstraint("user_id", "key"), Index(None, "created_at"))


class Task(db.Model):
    """Background work for ``flask --app app worker``: slow scoring, retention runs.

    A worker claims a row by setting ``locked_by``/``locked_until`` in a short
    write transaction; a claim whose lease ran out (the worker died) is taken
    over, so nothing is dropped and nothing runs twice at the same time."""

    __tablename__ = "task"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(64), nullable=False)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    # one queued task per key (e.g. "score:app_..."): enqueueing twice is a no-op
    dedupe_key: Mapped[str | None] = mapped_column(String(200), index=True)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="queued")
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    run_after: Mapped[datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    locked_by: Mapped[str | None] = mapped_column(String(64))
    locked_until: Mapped[datetime | None] = mapped_column(DateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, nullable=False)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    __table_args__ = (Index(None, "status", "run_after"),)


class OutboxMessage(db.Model):
    """An e-mail to send, written in the transaction that caused it.

    The sender claims it like a task (lease), sends it over SMTP, then marks it
    sent; without SMTP settings it waits here, visible to admins. Related ids
    let a candidate's erasure take their messages along."""

    __tablename__ = "outbox_message"
    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    to_email: Mapped[str] = mapped_column(String(320), nullable=False)
    to_name: Mapped[str | None] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(400), nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False)
    ics: Mapped[str | None] = mapped_column(Text)  # text/calendar attachment
    ics_method: Mapped[str | None] = mapped_column(String(16))  # REQUEST or CANCEL
    candidate_id: Mapped[str | None] = mapped_column(String(ID_LENGTH), index=True)
    application_id: Mapped[str | None] = mapped_column(String(ID_LENGTH), index=True)
    interview_id: Mapped[str | None] = mapped_column(String(ID_LENGTH), index=True)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="queued")
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    locked_by: Mapped[str | None] = mapped_column(String(64))
    locked_until: Mapped[datetime | None] = mapped_column(DateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, nullable=False)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)
    __table_args__ = (Index(None, "status", "next_attempt_at"),)


class MailTemplate(db.Model):
    """An admin's wording for one kind of message in one language; the
    built-in text applies where there is no row."""

    __tablename__ = "mail_template"
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    language: Mapped[str] = mapped_column(String(8), primary_key=True)
    subject: Mapped[str] = mapped_column(String(400), nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, nullable=False)
    updated_by: Mapped[str | None] = mapped_column(String(ID_LENGTH))


class FunnelStat(db.Model):
    """What is left of an erased application: anonymous, so funnel reports stay
    true after retention (no candidate, no free text, dates to the day)."""

    __tablename__ = "funnel_stat"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str | None] = mapped_column(String(ID_LENGTH), index=True)
    source_id: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    stage_reached: Mapped[str] = mapped_column(String(32), nullable=False)  # furthest stage
    final_stage: Mapped[str] = mapped_column(String(32), nullable=False)
    applied_on: Mapped[date | None] = mapped_column(Date)
    ended_on: Mapped[date | None] = mapped_column(Date)
    stage_days: Mapped[dict[str, float]] = mapped_column(JSON, nullable=False, default=dict)
    erased_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, nullable=False)


class AuditEvent(db.Model):
    """A security- or privacy-relevant event: who (a user id or "system"),
    what, when, and counts, never personal data of others."""

    __tablename__ = "audit_event"
    __table_args__ = (Index(None, "actor", "at"),)  # the audit page's "who" filter, newest first
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, nullable=False, index=True)
    actor: Mapped[str] = mapped_column(String(ID_LENGTH), nullable=False)
    action: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
