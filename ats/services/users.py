"""User administration and one's own account: roles, deactivation, password, time zone.

Every change runs in one write transaction (``BEGIN IMMEDIATE`` on SQLite), so
the "one active admin must remain" check and the change it guards cannot be
split by a concurrent request. Errors are ``{field: message}`` where a single
input is at fault, like everywhere else. Role changes, (de)activations and
password changes are written to the audit log in the same transaction.
"""

from __future__ import annotations

from functools import lru_cache
from zoneinfo import available_timezones

from sqlalchemy import func, select

from ..database import writing
from ..errors import Conflict, NotFound, ValidationFailed
from ..extensions import db
from ..models import ROLES, User
from . import audit, auth

MIN_PASSWORD_LENGTH = auth.MIN_PASSWORD_LENGTH


@lru_cache(maxsize=1)
def timezones() -> tuple[str, ...]:
    """Every IANA zone this system knows, sorted (for the select and its check)."""
    return tuple(sorted(available_timezones()))


def list_users() -> list[User]:
    return list(db.session.scalars(select(User).order_by(User.active.desc(), User.email)))


def get_user(user_id: str) -> User:
    user = db.session.get(User, user_id) if isinstance(user_id, str) else None
    if user is None:
        raise NotFound(f"no user {user_id}")
    return user


def _other_active_admins(user_id: str) -> int:
    return db.session.scalar(
        select(func.count())
        .select_from(User)
        .where(User.role == "admin", User.active.is_(True), User.id != user_id)
    )


def _keep_an_admin(user: User) -> None:
    if user.role == "admin" and user.active and _other_active_admins(user.id) == 0:
        raise Conflict(
            f"{user.email} is the last active admin; make someone else admin first",
            {"role": "the last active admin cannot lose the admin role"},
        )


def change_role(user_id: str, role: str, by: str | None = None) -> User:
    """Give the user another role; ``by`` (the admin, or None for the system) is audited."""
    if role not in ROLES:
        raise ValidationFailed({"role": "must be one of " + ", ".join(ROLES)})
    with writing():
        user = get_user(user_id)
        if user.role != role:
            if user.role == "admin":
                _keep_an_admin(user)
            audit.record(
                by, "role_changed", {"user": user.id, "from_role": user.role, "to_role": role}
            )
            user.role = role
    return user


def set_active(user_id: str, active: bool, by_user_id: str) -> User:
    """Deactivate (ending every session and, through ``active``, every token) or reactivate."""
    with writing():
        user = get_user(user_id)
        if user.active == active:
            return user
        if not active:
            if user.id == by_user_id:
                raise Conflict("you cannot deactivate your own account; ask another admin")
            if user.role == "admin":
                _keep_an_admin(user)
            user.active = False
            auth.end_sessions(user.id)  # joins this transaction
        else:
            user.active = True
        action = "user_activated" if active else "user_deactivated"
        audit.record(by_user_id, action, {"user": user.id})
    return user


def change_password(user_id: str, current: str, new: str, ip: str) -> User:
    """Set a new password after checking the current one; ends every session of the user.

    The current password is checked like a login (``auth.check_password_login``),
    so guessing it through this form is throttled the same way.
    The caller logs the current browser in again with the new session version.
    """
    user = get_user(user_id)
    try:
        ok = (
            auth.check_password_login(user.email, current or "", ip, user.id, "password_change")
            is not None
        )
    except auth.LoginThrottled as exc:
        raise ValidationFailed({"current_password": str(exc)}) from None
    if not ok:
        raise ValidationFailed({"current_password": "wrong password"})
    problem = auth.check_password_rules(new or "", user.email, user.name)
    if problem:
        raise ValidationFailed({"new_password": problem})
    with writing():
        user = get_user(user_id)
        user.set_password(new)
        auth.end_sessions(user.id)
        audit.record(user.id, "password_changed", {"user": user.id})
    return user


def set_timezone(user_id: str, zone: str | None) -> User:
    """Set the user's time zone; empty means UTC."""
    zone = (zone or "").strip() or None
    if zone is not None and zone not in timezones():
        raise ValidationFailed({"timezone": "not a known time zone (e.g. Europe/Berlin)"})
    with writing():
        user = get_user(user_id)
        user.timezone = zone
    return user
