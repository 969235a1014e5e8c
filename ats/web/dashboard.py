"""The start page: open jobs with their pipeline, this week's interviews, new applications."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint
from flask_login import login_required
from sqlalchemy import select

from ..extensions import db
from ..fields import APPLICATION, INTERVIEW, JOB
from ..models import Application, Candidate, Interview, Job
from ..services import pipeline, records
from .access import actor, render
from .forms import user_zone

bp = Blueprint("dashboard", __name__)


@bp.get("/")
@login_required
def index() -> Any:
    me = actor()
    jobs = db.session.scalars(
        select(Job)
        .where(Job.status == "open", Job.is_archived.is_(False), records.visible(JOB, me))
        .order_by(Job.opened_at.desc(), Job.id.desc())
        .limit(50)
    ).all()
    counts = pipeline.stage_counts([j.id for j in jobs])

    zone = user_zone()
    local_now = datetime.now(zone)
    start_of_day = local_now.replace(hour=0, minute=0, second=0, microsecond=0)
    end_of_day = start_of_day + timedelta(days=1)
    end_of_week = start_of_day + timedelta(days=7 - start_of_day.weekday())

    def utc(d: datetime) -> datetime:
        return d.astimezone(ZoneInfo("UTC")).replace(tzinfo=None)

    interviews = db.session.execute(
        select(Interview, Candidate.name, Job.title)
        .join(Candidate, Candidate.id == Interview.candidate_id)
        .join(Job, Job.id == Interview.job_id)
        .where(
            Interview.scheduled_at >= utc(start_of_day),
            Interview.scheduled_at < utc(end_of_week),
            Interview.status.in_(("scheduled", "rescheduled")),
            records.visible(INTERVIEW, me),
        )
        .order_by(Interview.scheduled_at, Interview.id)
    ).all()
    today = [row for row in interviews if row[0].scheduled_at < utc(end_of_day)]
    later = [row for row in interviews if row[0].scheduled_at >= utc(end_of_day)]

    newest = db.session.execute(
        select(Application, Candidate.name, Job.title)
        .join(Candidate, Candidate.id == Application.candidate_id)
        .join(Job, Job.id == Application.job_id)
        .where(Application.is_archived.is_(False), records.visible(APPLICATION, me))
        .order_by(Application.created_at.desc(), Application.id.desc())
        .limit(10)
    ).all()
    return render(
        "dashboard/index.html",
        jobs=jobs,
        counts=counts,
        today=today,
        later=later,
        newest=newest,
        stages=pipeline.STAGES,
        zone=zone,
    )
