"""The audit log: privacy- and security-relevant events, kept as evidence.

An entry says who (a user id, or ``"system"`` for the worker and operator
commands), what (a short action name such as ``retention_run``) and a small
``detail`` of counts, flags and ids of staff users. It never holds personal
data of candidates: the log outlives the people it would otherwise name (a
retention run records how many it erased, not whom).

``record`` writes in the caller's write transaction, so an event is kept
exactly when the change it describes is.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from ..database import writing
from ..extensions import db
from ..models import ID_LENGTH, AuditEvent, utcnow

SYSTEM = "system"
ACTION_MAX_LENGTH = 64
DETAIL_MAX_BYTES = 4000


def record(actor: str | None, action: str, detail: dict[str, Any] | None = None) -> AuditEvent:
    """Add one event in the current write transaction (or a new one).

    ``actor`` None means the system. Refuses (ValueError) an empty or long
    action and a detail that is not a small JSON object: a log entry that
    cannot be read back later is worse than an error now.
    """
    actor = actor or SYSTEM
    if not isinstance(actor, str) or len(actor) > ID_LENGTH:
        raise ValueError("actor must be a user id or 'system'")
    if not isinstance(action, str) or not action or len(action) > ACTION_MAX_LENGTH:
        raise ValueError(f"action must be 1 to {ACTION_MAX_LENGTH} characters")
    detail = dict(detail or {})
    try:
        size = len(json.dumps(detail, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"detail must be plain JSON: {exc}") from exc
    if size > DETAIL_MAX_BYTES:
        raise ValueError(f"detail must be at most {DETAIL_MAX_BYTES} bytes of JSON")
    event = AuditEvent(at=utcnow(), actor=actor, action=action, detail=detail)
    with writing():
        db.session.add(event)
        db.session.flush()
    return event


def recent(action: str | None = None, limit: int = 20) -> list[AuditEvent]:
    """The newest events first, optionally of one action (for settings pages)."""
    stmt = select(AuditEvent).order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
    if action is not None:
        stmt = stmt.where(AuditEvent.action == action)
    return list(db.session.scalars(stmt.limit(max(1, min(limit, 500)))))
