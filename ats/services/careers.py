"""What the public careers pages may read: published jobs and the company profile.

Public pages have no user, so ``records.visible`` (which needs an Actor) does
not apply. Instead one rule decides what the public sees: a job is *published*
while its status is ``open``, ``public`` is true and it is not archived.
Everything here reads; nothing writes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import g
from sqlalchemy import or_, select

from .. import fields as F
from ..extensions import db
from ..models import CompanyProfile, Job

# The list filters the careers page offers, all plain equality on a job field.
FILTERS = ("department", "location", "remote", "employment_type")
SEARCH_FIELDS = ("title", "department", "location", "summary")
MAX_SEARCH_WORDS = 10
MAX_VALUE_LENGTH = 200


def published() -> tuple[Any, ...]:
    """The SQL conditions of a job the public may see."""
    return (Job.status == "open", Job.public.is_(True), Job.is_archived.is_(False))


def profile() -> CompanyProfile | None:
    """The company profile (one per installation), or None; read once per request."""
    if "careers_profile" not in g:
        g.careers_profile = db.session.scalar(
            select(CompanyProfile).order_by(CompanyProfile.created_at).limit(1)
        )
    return g.careers_profile


def enabled_profile() -> CompanyProfile | None:
    """The profile while the public careers pages are switched on, else None."""
    site = profile()
    return site if site is not None and site.public_careers_enabled else None


def clean_filters(args: Mapping[str, str]) -> dict[str, str]:
    """The known, non-empty filter values of a query string; enum values must be valid."""
    result: dict[str, str] = {}
    for key in FILTERS:
        value = (args.get(key) or "").strip()
        if not value or len(value) > MAX_VALUE_LENGTH:
            continue
        choices = F.JOB[key].choices
        if choices and value not in choices:
            continue
        result[key] = value
    return result


def _like(word: str) -> str:
    return "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def published_jobs(
    filters: Mapping[str, str] | None = None,
    search: str | None = None,
    exclude_id: str | None = None,
    limit: int | None = None,
) -> list[Job]:
    """Published jobs, newest first, narrowed by ``filters`` and a text search.

    Every word of ``search`` must appear (case-insensitively) in the title,
    department, location or summary.
    """
    conditions: list[Any] = list(published())
    for key, value in clean_filters(filters or {}).items():
        conditions.append(getattr(Job, key) == value)
    for word in (search or "")[:MAX_VALUE_LENGTH].split()[:MAX_SEARCH_WORDS]:
        pattern = _like(word)
        conditions.append(
            or_(*(getattr(Job, name).ilike(pattern, escape="\\") for name in SEARCH_FIELDS))
        )
    if exclude_id:
        conditions.append(Job.id != exclude_id)
    stmt = select(Job).where(*conditions).order_by(Job.opened_at.desc(), Job.title, Job.id)
    if limit:
        stmt = stmt.limit(limit)
    return list(db.session.scalars(stmt))


def published_job(slug: str) -> Job | None:
    """The published job with this slug, or None (drafts, paused, archived... too)."""
    if not slug or len(slug) > F.JOB["slug"].max_length:
        return None
    return db.session.scalar(select(Job).where(Job.slug == slug, *published()))


def filter_options() -> dict[str, list[str]]:
    """The values each filter can take among the published jobs, sorted."""
    options: dict[str, list[str]] = {}
    for key in FILTERS:
        column = getattr(Job, key)
        values = db.session.scalars(
            select(column).where(*published(), column.is_not(None)).distinct()
        )
        present = {v for v in values if v}
        choices = F.JOB[key].choices
        options[key] = [c for c in choices if c in present] if choices else sorted(present)
    return options
