"""The audit log: privacy- and security-relevant events, kept as evidence.

An entry says who (a user id, or ``"system"`` for the worker and operator
commands), what (a short action name such as ``retention_run``) and a small
``detail`` of counts, flags and ids of staff users. It never holds personal
data of candidates: the log outlives the people it would otherwise name (a
retention run records how many it erased, not whom).

``record`` writes in the caller's write transaction, so an event is kept
exactly when the change it describes is. ``search`` reads the log for the
admins' page (Settings → Audit log): filters and keyset paging, newest first;
``describe`` turns an event's detail into words.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select

from ..database import writing
from ..extensions import db
from ..models import ID_LENGTH, AuditEvent, utcnow

SYSTEM = "system"
ACTION_MAX_LENGTH = 64
DETAIL_MAX_BYTES = 4000
PAGE_SIZE = 50

# Every action the app records, with what the page calls it. The account
# events are written by the login and settings code (services.auth, users),
# the erasures and runs by retention; an action missing here still shows,
# under its own name.
LABELS: dict[str, str] = {
    "login": "Logged in",
    "login_failed": "Failed login",
    "logout": "Logged out",
    "password_changed": "Password changed",
    "token_created": "API token created",
    "token_revoked": "API token revoked",
    "user_created": "User created",
    "role_changed": "Role changed",
    "user_deactivated": "User deactivated",
    "user_activated": "User reactivated",
    "totp_enabled": "Two-factor login switched on",
    "totp_disabled": "Two-factor login switched off",
    "totp_failed": "Wrong two-factor code",
    "candidate_erased": "Candidate erased",
    "export": "Data exported",
    "retention_run": "Retention run",
}

# Words for detail keys whose name alone reads badly; any other key is shown
# humanised ("stray_files": "stray files").
_KEY_WORDS: dict[str, str] = {
    "trigger": "started by",
    "from_role": "was",
    "to_role": "now",
    "expires_days": "expires after (days)",
    "email_hash": "address hash",
    "stray_files": "unused uploaded files removed:",
}
_WORDS = re.compile(r"[a-z]+(_[a-z]+)+")
# Counts an erasure or a retention run reports, in the order they are told.
_COUNTS = ("candidates", "applications", "interviews", "notes", "files", "messages", "tasks")


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


def label(action: str) -> str:
    """What the page calls an action (its own name, readable, when unknown)."""
    return LABELS.get(action) or action.replace("_", " ").capitalize()


def _plural(n: int, word: str) -> str:
    if n == 1:
        word = word[:-1]
    return f"{n} {word}"


def user_ids(event: AuditEvent) -> set[str]:
    """The staff user ids an event names (its actor, and user ids in its detail)."""
    found = {event.actor} if event.actor != SYSTEM else set()
    for value in (event.detail or {}).values():
        if isinstance(value, str) and value.startswith("usr_"):
            found.add(value)
    return found


def _value(value: Any, people: dict[str, str]) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(_value(v, people) for v in value) or "none"
    if isinstance(value, str) and value.startswith("usr_"):
        return people.get(value, "a removed user")
    if isinstance(value, str) and _WORDS.fullmatch(value):
        return value.replace("_", " ")  # wrong_password: wrong password
    if isinstance(value, dict):
        return ", ".join(f"{k} {_value(v, people)}" for k, v in value.items())
    return str(value)


def describe(event: AuditEvent, people: dict[str, str] | None = None) -> str:
    """The event's detail in words: counts as a sentence, other keys as "key value".

    ``people`` maps user ids to names (ids in the detail are shown as names).
    Nothing here comes out as markup: the template escapes it like any text.
    """
    people = people or {}
    detail = dict(event.detail or {})
    parts: list[str] = []
    counted = [k for k in _COUNTS if isinstance(detail.get(k), int)]
    if counted:
        shown = [_plural(detail[k], k) for k in counted if detail[k] or k == "candidates"]
        parts.append(", ".join(shown))
        for k in counted:
            detail.pop(k)
        if detail.pop("dry_run", False):
            parts.append("dry run: nothing erased")
        failed = detail.pop("failed", 0)
        if failed:
            parts.append(f"{failed} failed")
    for key, value in detail.items():
        if value is None or value == "" or value == []:
            continue
        word = _KEY_WORDS.get(key, key.replace("_", " "))
        parts.append(f"{word} {_value(value, people)}")
    return "; ".join(parts)


@dataclass
class Page:
    events: list[AuditEvent]
    older: int | None  # the id to pass as ``older`` for the next page, None at the end


def actions_seen() -> list[str]:
    """Every action in the log (the filter's choices; read off the action index)."""
    return list(
        db.session.scalars(select(AuditEvent.action).distinct().order_by(AuditEvent.action))
    )


def search(
    action: str | None = None,
    actor: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    older: int | None = None,
    limit: int = PAGE_SIZE,
) -> Page:
    """A page of events, newest first, by ``(at, id)``.

    ``since`` is inclusive and ``until`` exclusive (naive UTC); ``older`` is the
    id of the last event of the previous page (keyset paging: a page costs the
    same however far back it is, and new events do not shift it). ValueError
    for an ``older`` that names no event.
    """
    stmt = select(AuditEvent)
    if action:
        stmt = stmt.where(AuditEvent.action == action)
    if actor:
        stmt = stmt.where(AuditEvent.actor == actor)
    if since is not None:
        stmt = stmt.where(AuditEvent.at >= since)
    if until is not None:
        stmt = stmt.where(AuditEvent.at < until)
    if older is not None:
        at = db.session.scalar(select(AuditEvent.at).where(AuditEvent.id == older))
        if at is None:
            raise ValueError(f"no audit event {older}")
        stmt = stmt.where(or_(AuditEvent.at < at, and_(AuditEvent.at == at, AuditEvent.id < older)))
    limit = max(1, min(limit, 500))
    stmt = stmt.order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(limit + 1)
    events = list(db.session.scalars(stmt))
    more = len(events) > limit
    events = events[:limit]
    return Page(events, events[-1].id if more else None)
