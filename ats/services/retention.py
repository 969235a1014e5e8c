"""Data retention (GDPR): erase applicants once their data may no longer be kept.

The policy, in the company profile: ``retention_value`` + ``retention_unit``
(weeks, months or years) after an application ends; unset means 6 months, the
usual German practice (the 2-month AGG claim period plus time to sue).

- An application has *ended* when its stage is ``hired``, ``rejected`` or
  ``talent_pool``, at the time it entered that stage (``last_stage_at``, else
  the stage history, else its last change). ``talent_pool`` counts as ended
  because the hiring process is over; what keeps such a person is their
  talent-pool consent, not the stage.
- A candidate is *due* when every application ended longer ago than the
  period. One open application keeps them. A candidate without applications
  (added by hand, or whose job was deleted) is due a period after the
  candidate record last changed.
- Talent-pool consent (``consent_talent_pool``) keeps a candidate until
  ``consent_at`` + ``ATS_TALENT_POOL_MONTHS`` (default 24) if that is later.
  ``consent_at`` is stamped whenever the consent becomes true and cleared when
  it becomes false (an attribute event below, so every path that sets it is
  covered); rows that have consent but no ``consent_at`` (older than this
  code) count from the candidate's ``updated_at``.

Erasing a candidate (``erase_candidate``; the candidates page uses it too)
removes them with their applications, answers, cover letters, CV text and
files, notes, interviews, stage history and tag rows (``records.remove`` with
cascade), plus e-mails in the outbox, queued tasks, apply-form attempts and
API replay bodies that name them. What stays is one anonymous ``FunnelStat``
per application, so funnel reports remain true.

``run`` erases each candidate in its own short write transaction and checks
again inside it that they are still due: a crash midway leaves a consistent
state, and the next run continues. A candidate whose erasure fails is logged
and skipped, so the others are still erased on time. The worker runs it daily (the first tick
after midnight UTC); ``flask --app app retention run [--dry-run]`` and the
settings page run it on demand. Every run records one audit event with counts.
"""

from __future__ import annotations

import calendar
import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import Text, case, cast, delete, event, func, or_, select, update

from .. import fields as F
from ..database import writing
from ..extensions import db
from ..models import (
    Application,
    ApplicationNote,
    ApplyAttempt,
    Candidate,
    CompanyProfile,
    FunnelStat,
    IdempotencyKey,
    Interview,
    OutboxMessage,
    StageChange,
    Task,
    utcnow,
)
from . import audit, files, invitations, records, search, tasks
from .auth import Actor

log = logging.getLogger(__name__)

ENDED_STAGES = ("hired", "rejected", "talent_pool")
FUNNEL_STAGES = F.STAGES[: F.STAGES.index("hired") + 1]  # new … hired: progress, in order
DEFAULT_VALUE, DEFAULT_UNIT = 6, "months"
DEFAULT_TALENT_POOL_MONTHS = 24
SYSTEM = Actor(None, "admin", ("*",))  # the retention run acts for no user
COUNT_KEYS = ("candidates", "applications", "notes", "interviews", "files", "messages", "tasks")


# --- the policy -----------------------------------------------------------------


def add_period(start: datetime, value: int, unit: str) -> datetime:
    """``start`` plus ``value`` weeks, months or years; a month end is kept in
    range (31 January + 1 month = 28/29 February); beyond year 9999, never."""
    try:
        if unit == "weeks":
            return start + timedelta(weeks=value)
        months = value * (12 if unit == "years" else 1)
        year, month0 = divmod(start.month - 1 + months, 12)
        year += start.year
        if year > datetime.max.year:
            return datetime.max
        day = min(start.day, calendar.monthrange(year, month0 + 1)[1])
        return start.replace(year=year, month=month0 + 1, day=day)
    except OverflowError:
        return datetime.max


@dataclass(frozen=True)
class Policy:
    value: int
    unit: str
    is_default: bool
    talent_pool_months: int

    @property
    def period(self) -> str:
        """``"6 months"``, ``"1 week"``."""
        unit = self.unit[:-1] if self.value == 1 else self.unit
        return f"{self.value} {unit}"

    def keep_until(self, ended: datetime) -> datetime:
        return add_period(ended, self.value, self.unit)

    def consent_until(self, consent_at: datetime) -> datetime:
        return add_period(consent_at, self.talent_pool_months, "months")

    def describe(self) -> str:
        """The policy in words, for the settings page and the CLI."""
        source = " (the default)" if self.is_default else " (company profile)"
        months = self.talent_pool_months
        return (
            f"Applicant data is erased {self.period}{source} after the candidate's last "
            f"application ended (hired, rejected or moved to the talent pool). Talent-pool "
            f"consent keeps a candidate until {months} month{'s' if months != 1 else ''} "
            f"after it was given."
        )


def policy() -> Policy:
    """The retention policy in force: the company profile's, else 6 months."""
    row = db.session.execute(
        select(CompanyProfile.retention_value, CompanyProfile.retention_unit).limit(1)
    ).first()
    months = int(current_app.config.get("TALENT_POOL_MONTHS", DEFAULT_TALENT_POOL_MONTHS))
    months = max(0, months)
    if row is not None and row[0] and row[1] in ("weeks", "months", "years"):
        return Policy(int(row[0]), row[1], False, months)
    if row is not None and row[0]:  # a value without a unit: months, as the default reads
        return Policy(int(row[0]), DEFAULT_UNIT, False, months)
    return Policy(DEFAULT_VALUE, DEFAULT_UNIT, True, months)


# --- talent-pool consent time -----------------------------------------------------


@event.listens_for(Candidate.consent_talent_pool, "set", active_history=True)
def _consent_changed(target: Any, value: Any, oldvalue: Any, _initiator: Any) -> None:
    """Stamp ``consent_at`` when the consent becomes true, clear it when false.

    An attribute event rather than a flush hook: ``records`` writes rows with
    Core statements built from the changed attributes, so a value set here is
    written along with the consent on every path (API, pages, careers form).
    """
    if value and oldvalue is not True:
        target.consent_at = utcnow()
    elif not value:
        target.consent_at = None


# --- who is due -----------------------------------------------------------------


@dataclass(frozen=True)
class Due:
    """A candidate the policy says to erase, and why."""

    candidate_id: str
    name: str
    kind: str  # "ended": applications ended; "consent": consent ran out; "no_application"
    ended_at: datetime | None  # the last application's end (None: no application)
    since: datetime  # what the period ran from: the end, the consent or the last change
    keep_until: datetime  # kept until then; erased by any run at or after it
    policy: Policy = field(repr=False, compare=False)

    @property
    def reason(self) -> str:
        """For operators: ids and dates, no names."""
        if self.kind == "consent":
            return f"talent-pool consent until {self.keep_until.date().isoformat()}"
        since = self.since.date().isoformat()
        if self.kind == "no_application":
            return f"no application; record last changed on {since} + {self.policy.period}"
        return f"ended on {since} + {self.policy.period}"


def _end_time() -> Any:
    """When an application entered its current stage."""
    entered = (
        select(func.max(StageChange.at))
        .where(
            StageChange.application_id == Application.id, StageChange.to_stage == Application.stage
        )
        .correlate(Application)
        .scalar_subquery()
    )
    return func.coalesce(Application.last_stage_at, entered, Application.updated_at)


def _candidate_rows(candidate_id: str | None = None) -> list[Any]:
    """Candidates without an open application, with what the policy needs."""
    open_apps = func.coalesce(
        func.sum(case((Application.stage.not_in(ENDED_STAGES), 1), else_=0)), 0
    )
    stmt = (
        select(
            Candidate.id,
            Candidate.name,
            Candidate.consent_talent_pool,
            Candidate.consent_at,
            Candidate.updated_at,
            func.count(Application.id).label("applications"),
            func.max(_end_time()).label("ended_at"),
        )
        .outerjoin(Application, Application.candidate_id == Candidate.id)
        .group_by(Candidate.id)
        .having(open_apps == 0)
    )
    if candidate_id is not None:
        stmt = stmt.where(Candidate.id == candidate_id)
    return list(db.session.execute(stmt))


def assess(row: Any, pol: Policy, now: datetime) -> Due | None:
    """The candidate's ``Due`` if the policy says to erase them at ``now``, else None."""
    ended_at = row.ended_at if row.applications else None
    kind, since = ("ended", ended_at) if ended_at else ("no_application", row.updated_at)
    keep_until = pol.keep_until(since)
    if row.consent_talent_pool:
        consent_at = row.consent_at or row.updated_at
        if pol.consent_until(consent_at) > keep_until:
            kind, since, keep_until = "consent", consent_at, pol.consent_until(consent_at)
    if keep_until > now:
        return None
    return Due(row.id, row.name, kind, ended_at, since, keep_until, pol)


def due(
    now: datetime | None = None, pol: Policy | None = None, candidate_id: str | None = None
) -> list[Due]:
    """Everyone a run at ``now`` would erase, longest overdue first."""
    now = now or utcnow()
    pol = pol or policy()
    found = [d for row in _candidate_rows(candidate_id) if (d := assess(row, pol, now))]
    return sorted(found, key=lambda d: (d.keep_until, d.candidate_id))


# --- erasing one candidate --------------------------------------------------------


def _chunks(ids: list[Any], size: int = 500) -> list[list[Any]]:
    return [ids[i : i + size] for i in range(0, len(ids), size)]


def _mentions(column: Any, ids: list[str]) -> Any:
    """A text column (or JSON as text) that contains any of these ids."""
    return or_(*[cast(column, Text).contains(i, autoescape=True) for i in ids])


@dataclass
class _Footprint:
    """Everything stored about one candidate, by id."""

    candidate_id: str
    applications: list[Any]
    interview_ids: list[str]
    notes: int
    blob_ids: list[str]  # CV files on disk that only this candidate's applications use
    message_ids: list[str]
    task_ids: list[int]

    @property
    def related(self) -> list[str]:
        """The ids a task payload would name."""
        return [self.candidate_id, *(a.id for a in self.applications), *self.interview_ids]

    def counts(self) -> dict[str, int]:
        return {
            "candidates": 1,
            "applications": len(self.applications),
            "notes": self.notes,
            "interviews": len(self.interview_ids),
            "files": len(self.blob_ids),
            "messages": len(self.message_ids),
            "tasks": len(self.task_ids),
        }


def _footprint(candidate_id: str) -> _Footprint:
    apps = list(
        db.session.scalars(select(Application).where(Application.candidate_id == candidate_id))
    )
    app_ids = [a.id for a in apps]
    interview_ids = list(
        db.session.scalars(select(Interview.id).where(Interview.application_id.in_(app_ids)))
    )
    notes = db.session.scalar(
        select(func.count()).where(
            or_(
                ApplicationNote.parent_id == candidate_id,
                ApplicationNote.parent_id.in_(app_ids),
            )
        )
    )
    blobs = {a.cv_blob_id for a in apps if a.cv_blob_id}
    if blobs:
        shared = set(
            db.session.scalars(
                select(Application.cv_blob_id).where(
                    Application.cv_blob_id.in_(blobs), Application.candidate_id != candidate_id
                )
            )
        )
        blobs = {b for b in blobs - shared if files.find(b) is not None}
    found = _Footprint(candidate_id, apps, interview_ids, notes or 0, sorted(blobs), [], [])
    found.message_ids = list(
        db.session.scalars(select(OutboxMessage.id).where(_messages_about(found)))
    )
    for chunk in _chunks(found.related, 100):
        found.task_ids += db.session.scalars(select(Task.id).where(_mentions(Task.payload, chunk)))
    return found


def _messages_about(found: _Footprint) -> Any:
    return or_(
        OutboxMessage.candidate_id == found.candidate_id,
        OutboxMessage.application_id.in_([a.id for a in found.applications]),
        OutboxMessage.interview_id.in_(found.interview_ids),
    )


def _funnel_stat(app: Any, history: list[Any], now: datetime) -> dict[str, Any]:
    """One application's anonymous trace: how far it got and how long each stage took.

    ``stage_days`` counts the time in every stage the application left (a stage
    visited twice adds up); the stage it ended in has no duration. The furthest
    stage is the furthest of new … hired it was in; an application that was
    only ever rejected or in the talent pool reached that stage.
    """
    visited = [c.to_stage for c in history] or [app.stage]
    progress = [s for s in visited if s in FUNNEL_STAGES]
    reached = max(progress, key=FUNNEL_STAGES.index) if progress else app.stage
    days: dict[str, float] = {}
    for this, following in zip(history, history[1:], strict=False):
        spent = (following.at - this.at).total_seconds() / 86400
        days[this.to_stage] = days.get(this.to_stage, 0.0) + max(spent, 0.0)
    ended: date | None = None
    if app.stage in ENDED_STAGES:
        entered = [c.at for c in history if c.to_stage == app.stage]
        ended = (app.last_stage_at or (entered[-1] if entered else app.updated_at)).date()
    applied = app.applied_at or app.created_at
    return {
        "job_id": app.job_id,
        "source_id": app.source_id,
        "stage_reached": reached,
        "final_stage": app.stage,
        "applied_on": applied.date() if applied else None,
        "ended_on": ended,
        "stage_days": {k: round(v, 2) for k, v in days.items()},
        "erased_at": now,
    }


def erase_candidate(
    candidate_id: str,
    actor: Actor,
    now: datetime | None = None,
    forget: bool = True,
    cascade: bool = True,
    via: str | None = None,
) -> dict[str, int]:
    """Erase a candidate and everything about them, keeping anonymous funnel stats.

    One write transaction (joins the caller's): the rows through
    ``records.remove`` (cascade), then what ``records`` does not know about,
    then the search index's leftovers (``forget=False``: the caller does that
    once after a batch). Raises ``NotFound`` when the actor cannot see the
    candidate, and ``Conflict`` without ``cascade`` when they have applications
    or notes (the API's DELETE without ``?cascade=true``). Returns counts.

    ``via`` (``page``, ``api``) records a ``candidate_erased`` audit event with
    the counts and the acting user, in the same transaction; a retention run
    leaves it out and records one event for the whole run.
    """
    now = now or utcnow()
    with writing():
        records.get(F.CANDIDATE, candidate_id, actor)  # 404 before anything happens
        found = _footprint(candidate_id)
        app_ids = [a.id for a in found.applications]
        history: dict[str, list[Any]] = {a: [] for a in app_ids}
        for chunk in _chunks(app_ids):
            for change in db.session.scalars(
                select(StageChange)
                .where(StageChange.application_id.in_(chunk))
                .order_by(StageChange.at, StageChange.id)
            ):
                history[change.application_id].append(change)
        stats = [_funnel_stat(a, history[a.id], now) for a in found.applications]
        if stats:
            db.session.execute(FunnelStat.__table__.insert(), stats)
        records.remove(F.CANDIDATE, candidate_id, actor, cascade=cascade)
        invitations.settle(db.session())
        # what was stored about them goes; the cancellations the removal of a
        # live interview just wrote to its interviewers (no name in them: the
        # candidate is gone) still go out, pointing at nothing of theirs
        for chunk in _chunks(found.message_ids):
            db.session.execute(delete(OutboxMessage).where(OutboxMessage.id.in_(chunk)))
        db.session.execute(
            delete(OutboxMessage).where(OutboxMessage.candidate_id == found.candidate_id)
        )
        db.session.execute(
            update(OutboxMessage)
            .where(_messages_about(found))
            .values(application_id=None, interview_id=None)
        )
        for chunk in _chunks(found.related, 100):
            db.session.execute(delete(Task).where(_mentions(Task.payload, chunk)))
        for chunk in _chunks(app_ids):
            db.session.execute(delete(ApplyAttempt).where(ApplyAttempt.application_id.in_(chunk)))
        # API replies kept for Idempotency-Key retries (purged after 24 h anyway)
        for chunk in _chunks([candidate_id, *app_ids], 100):
            db.session.execute(delete(IdempotencyKey).where(_mentions(IdempotencyKey.body, chunk)))
        if forget:
            search.forget_deleted()
        if via is not None:
            audit.record(actor.user_id, "candidate_erased", {**found.counts(), "via": via})
    return found.counts()


def census(candidate_id: str) -> dict[str, int]:
    """What ``erase_candidate`` would remove, counted, changing nothing."""
    return _footprint(candidate_id).counts()


# --- a run ----------------------------------------------------------------------


@dataclass
class Report:
    dry_run: bool
    policy: Policy
    candidates: list[Due]  # erased (or, dry, to be erased)
    counts: dict[str, int]
    failed: list[str]  # ids of candidates whose erasure failed (logged); the next run retries


def run(
    now: datetime | None = None,
    dry_run: bool = False,
    actor: str | None = None,
    trigger: str = "manual",
) -> Report:
    """Erase everyone due at ``now`` (or, dry, only count them); one audit event.

    ``actor`` is the user who asked (None: the system); ``trigger`` says where
    from (``cli``, ``worker``, ``settings``) and goes into the audit event. One
    candidate whose erasure fails is logged and skipped, so that the others
    are still erased on time; the report names them.
    """
    now = now or utcnow()
    pol = policy()
    counts = dict.fromkeys(COUNT_KEYS, 0)
    done: list[Due] = []
    failed: list[str] = []
    for candidate in due(now, pol):
        if dry_run:
            found = census(candidate.candidate_id)
        else:
            try:
                with writing():
                    # still due now that we hold the write lock? (a new application
                    # or a stage move since the list was read keeps them)
                    if not due(now, pol, candidate.candidate_id):
                        continue
                    found = erase_candidate(candidate.candidate_id, SYSTEM, now, forget=False)
            except Exception:  # noqa: BLE001 - one bad row must not keep everyone else
                log.exception("retention: erasing %s failed", candidate.candidate_id)
                failed.append(candidate.candidate_id)
                continue
        done.append(candidate)
        for key in COUNT_KEYS:
            counts[key] += found[key]
    if not dry_run and done:
        with writing():
            search.forget_deleted()  # once for the whole run
    stray_files = 0
    if not dry_run:
        named = set(
            db.session.scalars(
                select(Application.cv_blob_id).where(Application.cv_blob_id.is_not(None)).distinct()
            )
        )
        stray_files = files.sweep(named)
    detail: dict[str, Any] = {
        **counts,
        "failed": len(failed),
        "dry_run": dry_run,
        "trigger": trigger,
        "policy": pol.period,
    }
    if stray_files:  # interrupted uploads and CVs no application names (files.sweep)
        detail["stray_files"] = stray_files
    audit.record(actor, "retention_run", detail)
    if not dry_run and done:
        log.info("retention run erased %s", counts)
    return Report(dry_run, pol, done, counts, failed)


# --- daily, in the worker -------------------------------------------------------


def schedule_daily(now: datetime | None = None) -> bool:
    """Queue today's run (UTC) unless it is already queued or done; whether it queued.

    Keyed by the date: every worker tick asks, one task per day results, even
    with several workers (the check and the insert share one write transaction).
    """
    now = now or utcnow()
    key = f"retention_run:{now.date().isoformat()}"
    exists = select(Task.id).where(Task.dedupe_key == key).limit(1)
    if db.session.scalar(exists) is not None:  # the usual answer: a cheap read
        return False
    with writing():
        if db.session.scalar(exists) is not None:
            return False
        tasks.enqueue("retention_run", {"day": now.date().isoformat()}, dedupe_key=key)
    return True


@tasks.periodic
def _daily(_worker_id: str) -> None:
    schedule_daily()


@tasks.handler("retention_run")
def _run_task(_payload: dict[str, Any]) -> None:
    report = run(trigger="worker")
    if report.failed:  # the task is retried with backoff; the failures are in the log
        raise RuntimeError(f"{len(report.failed)} candidate(s) could not be erased")
