"""Browser-facing blueprints, one module per area, and app-wide handlers.

Every module here that defines ``bp`` is registered by ``register_all``; the
navigation lists the areas whose endpoints exist (``NAV``).
"""

from __future__ import annotations

import importlib
import pkgutil
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from flask import Flask

# (endpoint, label, roles allowed or None for everyone logged in)
NAV: list[tuple[str, str, tuple[str, ...] | None]] = [
    ("dashboard.index", "Dashboard", None),
    ("jobs.index", "Jobs", None),
    ("candidates.index", "Candidates", ("admin", "recruiter")),
    ("interviews.index", "Interviews", None),
    ("settings.index", "Settings", None),
]


def register_all(app: Flask) -> None:
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(module, "bp"):
            app.register_blueprint(module.bp)
        if hasattr(module, "register"):
            module.register(app)

    @app.context_processor
    def _nav() -> dict:
        from flask_login import current_user

        role = getattr(current_user, "role", None)
        items = [
            (endpoint, label)
            for endpoint, label, roles in NAV
            if endpoint in app.view_functions and (roles is None or role in roles)
        ]
        return {"nav_items": items, "company_name": _company_name()}

    @app.template_filter("localtime")
    def _localtime(value: datetime | None, zone: ZoneInfo | None = None, fmt: str = "") -> str:
        """A stored UTC time in the viewer's zone (default: their own setting)."""
        if value is None:
            return ""
        from .forms import user_zone

        local = value.replace(tzinfo=UTC).astimezone(zone or user_zone())
        return local.strftime(fmt or "%d %b %Y, %H:%M")


def _company_name() -> str | None:
    """The company's display name for the page header, once per request."""
    from flask import g
    from sqlalchemy import select

    from ..extensions import db
    from ..models import CompanyProfile

    if "company_name" not in g:
        row = db.session.execute(
            select(CompanyProfile.display_name, CompanyProfile.name).limit(1)
        ).first()
        g.company_name = (row[0] or row[1]) if row else None
    return g.company_name
