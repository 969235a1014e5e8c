"""App-wide error pages: JSON for API clients, HTML for browsers, never a bare 500."""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException, InternalServerError

from ..errors import error_body
from ..extensions import db


def wants_json() -> bool:
    if request.path.startswith("/xapi2"):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def register(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Any:
        db.session.rollback()
        code = exc.code or 500
        if wants_json():
            response = jsonify(
                error_body(exc.name.lower().replace(" ", "_"), exc.description or "")
            )
            response.status_code = code
            return response
        return render_template("error.html", error=exc), code

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Any:
        db.session.rollback()
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        return _http(InternalServerError())
