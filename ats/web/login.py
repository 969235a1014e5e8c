"""Browser sessions (Flask-Login): how a session cookie becomes a user."""

from __future__ import annotations

from flask import Flask

from ..extensions import db, login_manager
from ..models import User


def register(app: Flask) -> None:
    @login_manager.user_loader
    def load_user(user_id: str) -> User | None:
        user = db.session.get(User, user_id)
        return user if user is not None and user.active else None
