"""What every page view needs: the acting user, role checks, HTMX detection.

Two kinds of check, both needed on every write: ``roles`` (or ``require``)
says whether the user's role may do this kind of thing at all, and the
services (``records.get`` with ``actor()``) whether this user may see the
object: anything they may not see is 404, as in the API.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Flask, abort, make_response, render_template, request
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


def can(model: str, action: str) -> bool:
    """Whether the current user's role allows ``model:action`` (the API's scopes).

    Templates show a control only when this holds; the view checks it again.
    """
    return current_user.is_authenticated and actor().allows(model, action)


def require(model: str, action: str) -> Actor:
    """The acting user, or 403 when their role may not ``model:action``."""
    me = actor()
    if not me.allows(model, action):
        abort(403)
    return me


def register(app: Flask) -> None:
    app.add_template_global(can, "can")


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
