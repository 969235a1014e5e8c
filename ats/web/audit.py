"""Settings → Audit log (admins only): security- and privacy-relevant events.

Logins and failed logins, tokens, users and roles, two-factor changes,
erasures and retention runs, newest first, with filters (action, who, a date
range in the viewer's time zone) in a GET form, so a filtered view is a URL
one can share. Paging is by keyset ("older"): the rows partial
``settings/_audit_rows.html`` is the page's table body, a filter change's
HTMX answer, and what the "Older" row is replaced with, so the list grows
without a reload and works as plain links without JavaScript.

The log holds counts and staff user ids, never candidates' personal data
(``services.audit``); this page shows the staff ids as names.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, request
from flask_login import current_user
from sqlalchemy import select

from ..extensions import db
from ..models import User
from ..services import audit
from .access import is_htmx, render, roles
from .forms import user_zone

bp = Blueprint("audit", __name__, url_prefix="/settings/audit")

ROWS = "settings/_audit_rows.html"


@bp.context_processor
def _settings_nav() -> dict[str, Any]:
    """The settings pages' section bar, with the audit log as the current section."""
    if not current_user.is_authenticated:
        return {}
    from .settings import _sections

    return {"settings_sections": _sections(), "settings_current": "audit.index"}


def _people(ids: set[str]) -> dict[str, str]:
    """``{user id: "Name <e-mail>"}`` in one query (deactivated users too)."""
    if not ids:
        return {}
    rows = db.session.execute(select(User.id, User.name, User.email).where(User.id.in_(ids)))
    return {uid: f"{name} <{email}>" if name else email for uid, name, email in rows}


def _users() -> list[tuple[str, str]]:
    rows = db.session.execute(select(User.id, User.name, User.email).order_by(User.email))
    return [(uid, f"{name} <{email}>" if name else email) for uid, name, email in rows]


def _day(raw: str, name: str, errors: dict[str, str]) -> date | None:
    raw = raw.strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors[name] = "not a date (YYYY-MM-DD)"
        return None


def _utc(day: date, zone: ZoneInfo) -> datetime:
    """Midnight of ``day`` in the viewer's zone, as the naive UTC the log stores."""
    local = datetime.combine(day, time(), tzinfo=zone)
    return local.astimezone(ZoneInfo("UTC")).replace(tzinfo=None)


@bp.get("")
@roles("admin")
def index() -> Any:
    """The log, filtered by ``action``, ``actor``, ``from`` and ``to`` (days, inclusive)."""
    args = request.args
    users = _users()
    actions = sorted(set(audit.LABELS) | set(audit.actions_seen()), key=audit.label)
    errors: dict[str, str] = {}
    action = args.get("action", "").strip()
    if action and action not in actions:
        errors["action"] = "not an action the log knows"
    actor = args.get("actor", "").strip()
    if actor and actor != audit.SYSTEM and actor not in dict(users):
        errors["actor"] = "not a user of this installation"
    first = _day(args.get("from", ""), "from", errors)
    last = _day(args.get("to", ""), "to", errors)
    if first and last and first > last:
        errors["to"] = "before the first day"
    older: int | None = None
    raw_older = args.get("older", "").strip()
    if raw_older:
        if raw_older.isdigit() and len(raw_older) < 19:
            older = int(raw_older)
        else:
            errors["older"] = "not an event of the log"
    zone = user_zone()
    page = audit.Page([], None)
    if not errors:
        try:
            page = audit.search(
                action=action or None,
                actor=actor or None,
                since=_utc(first, zone) if first else None,
                until=_utc(last + timedelta(days=1), zone) if last else None,
                older=older,
            )
        except ValueError:
            errors["older"] = "not an event of the log"
    ids: set[str] = set()
    for event in page.events:
        ids |= audit.user_ids(event)
    people = _people(ids)
    filters = {
        "action": action,
        "actor": actor,
        "from": args.get("from", "").strip(),
        "to": args.get("to", "").strip(),
    }
    return render(
        "settings/audit.html",
        partial=ROWS,
        # htmx swaps only successful answers: a fragment carries its errors in a 200
        status=400 if errors and not is_htmx() else 200,
        page=page,
        people=people,
        describe=audit.describe,
        label=audit.label,
        actions=actions,
        users=users,
        filters=filters,
        query={k: v for k, v in filters.items() if v},
        errors=errors,
        paged=older is not None,
        zone=zone,
        system=audit.SYSTEM,
    )
