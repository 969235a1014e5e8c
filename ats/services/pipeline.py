"""The hiring pipeline: stage counts, the kanban board, moving cards.

Reads are a constant number of queries whatever the number of cards (no N+1):
one for the cards with their candidates, one grouped count.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from .. import fields as F
from ..errors import BadRequest, ValidationFailed
from ..extensions import db
from ..models import Application, Candidate, utcnow
from . import records
from .auth import Actor

STAGES = F.STAGES
MIN_GAP = 1e-6  # below this, a column's positions are renumbered


def stage_counts(job_ids: list[str]) -> dict[str, dict[str, int]]:
    """``{job_id: {stage: count}}`` for non-archived applications, in one query."""
    counts: dict[str, dict[str, int]] = {j: dict.fromkeys(STAGES, 0) for j in job_ids}
    if not job_ids:
        return counts
    rows = db.session.execute(
        select(Application.job_id, Application.stage, func.count())
        .where(Application.job_id.in_(job_ids), Application.is_archived.is_(False))
        .group_by(Application.job_id, Application.stage)
    )
    for job_id, stage, n in rows:
        counts[job_id][stage] = n
    return counts


@dataclass
class Card:
    id: str
    candidate_id: str
    name: str
    email: str | None
    stage: str
    position: float
    fit_score: float | None
    tags: list[str]
    days_in_stage: int


def board(job_id: str) -> dict[str, list[Card]]:
    """Every stage's cards of a job, in position order, in one query."""
    now = utcnow()
    rows = db.session.execute(
        select(
            Application.id,
            Application.candidate_id,
            Candidate.name,
            Candidate.email,
            Application.stage,
            Application.position,
            Application.fit_score,
            Application.tags,
            Candidate.tags.label("candidate_tags"),
            Application.last_stage_at,
            Application.created_at,
        )
        .join(Candidate, Candidate.id == Application.candidate_id)
        .where(Application.job_id == job_id, Application.is_archived.is_(False))
        .order_by(Application.stage, Application.position, Application.id)
    )
    columns: dict[str, list[Card]] = defaultdict(list)
    for r in rows:
        since: datetime = r.last_stage_at or r.created_at
        columns[r.stage].append(
            Card(
                r.id,
                r.candidate_id,
                r.name,
                r.email,
                r.stage,
                r.position or 0.0,
                r.fit_score,
                list(dict.fromkeys([*(r.tags or []), *(r.candidate_tags or [])])),
                max(0, (now - since).days),
            )
        )
    return {stage: columns.get(stage, []) for stage in STAGES}


def move(
    app_id: str,
    stage: str,
    actor: Actor,
    before_id: str | None = None,
    after_id: str | None = None,
    rejected_reason: str | None = None,
    rejected_note: str | None = None,
) -> Any:
    """Put a card into ``stage`` between two neighbours (ids in that column).

    ``after_id`` is the card that will be above it, ``before_id`` the one below;
    neither means the end of the column. The position is the midpoint, and the
    column is renumbered when the gap gets too small for floats.
    """
    if stage not in STAGES:
        raise ValidationFailed({"stage": "must be one of: " + ", ".join(STAGES)})
    app = records.get(F.APPLICATION, app_id, actor)
    if stage == "rejected" and app.stage != "rejected" and not rejected_reason:
        raise ValidationFailed({"rejected_reason": "say why the application is rejected"})
    above = _neighbour(app, stage, after_id)
    below = _neighbour(app, stage, before_id)
    body: dict[str, Any] = {"stage": stage}
    if above is None and below is None:
        body["position"] = None  # the end of the column, found by the rules
    elif above is None:
        body["position"] = below.position - 1.0
    elif below is None:
        body["position"] = above.position + 1.0
    else:
        if below.position - above.position < MIN_GAP:
            _renumber(app.job_id, stage)
            db.session.refresh(above)
            db.session.refresh(below)
        body["position"] = (above.position + below.position) / 2
    if stage == "rejected":
        if rejected_reason:
            body["rejected_reason"] = rejected_reason
        if rejected_note:
            body["rejected_note"] = rejected_note
    if body.get("position") is None:
        body.pop("position")
        if app.stage == stage:  # same column, no neighbours: to the end
            body["position"] = _end(app.job_id, stage, app.id)
    return records.update(F.APPLICATION, app_id, body, actor)


def _neighbour(app: Any, stage: str, other_id: str | None) -> Any:
    if not other_id:
        return None
    other = db.session.get(Application, other_id)
    if other is None or other.job_id != app.job_id or other.stage != stage or other.id == app.id:
        raise BadRequest("the neighbouring card is not in that column any more; reload the board")
    return other


def _end(job_id: str, stage: str, exclude: str) -> float:
    last = db.session.scalar(
        select(func.max(Application.position)).where(
            Application.job_id == job_id, Application.stage == stage, Application.id != exclude
        )
    )
    return float(last or 0) + 1.0


def _renumber(job_id: str, stage: str) -> None:
    from ..database import writing

    with writing():
        ids = db.session.scalars(
            select(Application.id)
            .where(Application.job_id == job_id, Application.stage == stage)
            .order_by(Application.position, Application.id)
        ).all()
        for i, app_id in enumerate(ids, start=1):
            db.session.get(Application, app_id).position = float(i)
