"""``/healthz`` for load balancers and process supervisors."""

from typing import Any

from flask import Blueprint
from sqlalchemy import text

from ..extensions import db

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Any:
    """200 once the database answers; 503 while it does not."""
    try:
        db.session.execute(text("SELECT 1"))
        db.session.commit()
    except Exception:  # noqa: BLE001 - any database failure means "not healthy"
        db.session.rollback()
        return {"status": "unavailable", "database": "unreachable"}, 503
    return {"status": "ok"}
