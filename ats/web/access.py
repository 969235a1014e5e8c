"""What every page view needs: the acting user, role checks, HTMX detection."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import abort, make_response, render_template, request
from flask_login import current_user, login_required

from ..services.auth import Actor, actor_for_user


def actor() -> Actor:
    return actor_for_user(current_user)


def roles(*allowed: str) -> Callable:
    """Log-in required, and one of these roles; others get 403."""

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        @login_required
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if current_user.role not in allowed:
                abort(403)
            return view(*args, **kwargs)

        return wrapper

    return decorate


STAFF = ("admin", "recruiter")


def is_htmx() -> bool:
    """A fragment request (not a history restore, which needs the whole page)."""
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.history_restore_request


def render(template: str, partial: str | None = None, status: int = 200, **context: Any) -> Any:
    """The whole page, or only ``partial`` (an included ``_fragment.html``) for HTMX.

    Both come from the same partial template, so there is one copy of the markup.
    """
    name = partial if partial and is_htmx() else template
    response = make_response(render_template(name, **context), status)
    if partial:
        response.headers.add("Vary", "HX-Request")
    return response
