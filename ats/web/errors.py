"""App-wide error pages: JSON for API clients, HTML for browsers, never a bare 500."""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, make_response, render_template, request
from werkzeug.exceptions import HTTPException, InternalServerError, default_exceptions

from ..errors import ApiError, error_body
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
            name = exc.name.lower().replace(" ", "_")
            response = jsonify(error_body(name, exc.description or ""))
        else:
            response = make_response(render_template("error.html", error=exc))
        response.status_code = code
        # keep what the exception says beyond its body, e.g. Allow on a 405
        for name, value in exc.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
        return response

    @app.errorhandler(ApiError)
    def _service_error(exc: ApiError) -> Any:
        """A service refusal that reached a page (e.g. NotFound): its HTTP answer."""
        http = default_exceptions.get(exc.status, InternalServerError)(description=exc.message)
        response = _http(http)
        response.headers.update(exc.headers)
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Any:
        db.session.rollback()
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        return _http(InternalServerError())
