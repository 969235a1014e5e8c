"""xapi2 routes: authenticate, parse, call the services, shape the answer."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import orjson
from flask import Response, current_app, g, jsonify, request, url_for
from flask_login import current_user
from flask_wtf.csrf import validate_csrf
from wtforms.validators import ValidationError

from .. import fields as F
from ..errors import (
    ApiError,
    BadRequest,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    Unauthorized,
    UnsupportedMediaType,
)
from ..extensions import csrf, db
from ..services import idempotency, query, records
from ..services.auth import Actor, actor_for_token, actor_for_user
from . import bp
from .openapi import model_schema, openapi_document

csrf.exempt(bp)  # bearer tokens need no CSRF; session writes are checked in authenticate()

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


@bp.before_request
def _start_clock() -> None:
    g.api_started = time.perf_counter()


@bp.after_request
def _server_timing(response: Response) -> Response:
    """How long the app took (routing to encoded body), as ``Server-Timing``:
    what a client cannot tell apart from the network, for benchmarks and
    browsers' developer tools."""
    started = g.get("api_started")
    if started is not None:
        response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.2f}"
    return response


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError) -> Any:
    db.session.rollback()
    response = jsonify(exc.body())
    response.status_code = exc.status
    response.headers.update(exc.headers)
    return response


def authenticate() -> Actor:
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise Unauthorized("use Authorization: Bearer pat_...", "invalid_request")
        return actor_for_token(secret.strip())
    if current_user.is_authenticated:
        if request.method not in SAFE_METHODS:
            try:
                validate_csrf(request.headers.get("X-CSRFToken"))
            except ValidationError as exc:
                raise Forbidden(f"CSRF check failed: {exc}") from None
        return actor_for_user(current_user)
    raise Unauthorized("authentication required: Authorization: Bearer pat_...")


def _model(model: str) -> F.ModelDef:
    mdef = F.MODELS.get(model)
    if mdef is None:
        raise NotFound(f"no model {model!r}; models: " + ", ".join(F.MODELS))
    return mdef


def _guard(model: str, action: str) -> tuple[F.ModelDef, Actor]:
    actor = authenticate()  # first: a caller without a good token learns nothing, not even 404
    mdef = _model(model)
    actor.require(mdef.name, action)
    g.actor = actor
    return mdef, actor


def _raw_body() -> bytes:
    """The request body, read once (the stream cannot be read twice) and bounded."""
    if "raw_body" not in g:
        limit = current_app.config["MAX_JSON_BYTES"]
        if (request.content_length or 0) > limit:
            raise PayloadTooLarge(limit)
        raw = request.stream.read(limit + 1)  # also bounds bodies sent without a length
        if len(raw) > limit:
            raise PayloadTooLarge(limit)
        g.raw_body = raw
    return g.raw_body


def _json_body() -> dict[str, Any]:
    if request.mimetype != "application/json":
        raise UnsupportedMediaType()
    try:
        body = json.loads(_raw_body())
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise BadRequest("the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object of field values")
    return body


def _dumps(value: Any) -> bytes:
    """An answer's JSON bytes: orjson (compact, UTF-8), several times faster than
    the json module on a page of objects."""
    return orjson.dumps(value) + b"\n"


def _json(value: Any, status: int = 200) -> Response:
    return current_app.response_class(_dumps(value), status=status, mimetype="application/json")


@bp.get("/data/<model>")
def list_objects(model: str) -> Any:
    mdef, actor = _guard(model, "list")
    page = query.list_serialized(mdef, request.args, actor)
    return _json(
        {
            "object": "list",
            "items": page.items,
            "limit": page.limit,
            "offset": page.offset,
            "has_more": page.has_more,
            "next_after": page.next_after,
            "total": page.total,
        }
    )


def _reply(obj: Any, status: int = 200, location: str | None = None) -> idempotency.Reply:
    # the bytes alone: _post builds the one response
    return idempotency.Reply(status, _dumps(records.serialize(obj)), location)


def _post(actor: Actor, execute: Callable[[], idempotency.Reply]) -> Response:
    """Run a POST, exactly once per ``Idempotency-Key`` when the client sends one."""
    key = idempotency.parse_key(request.headers.get(idempotency.HEADER))
    if key is None or actor.user_id is None:
        reply, replayed = execute(), False
    else:
        fingerprint = idempotency.Fingerprint.of(request.method, request.path, _raw_body())
        reply, replayed = idempotency.run(actor.user_id, key, fingerprint, execute)
    response = current_app.response_class(
        reply.body, status=reply.status, mimetype="application/json"
    )
    if reply.location:
        response.headers["Location"] = reply.location
    if replayed:
        response.headers[idempotency.REPLAYED_HEADER] = "true"
    return response


@bp.post("/data/<model>")
def create_object(model: str) -> Any:
    mdef, actor = _guard(model, "create")
    body = _json_body()

    def execute() -> idempotency.Reply:
        obj = records.create(mdef, body, actor)
        return _reply(obj, 201, url_for(".get_object", model=mdef.name, obj_id=obj.id))

    return _post(actor, execute)


@bp.get("/data/<model>/<obj_id>")
def get_object(model: str, obj_id: str) -> Any:
    mdef, actor = _guard(model, "read")
    return _json(records.read_row(mdef, obj_id, actor))


@bp.patch("/data/<model>/<obj_id>")
def update_object(model: str, obj_id: str) -> Any:
    mdef, actor = _guard(model, "update")
    return _json(records.serialize(records.update(mdef, obj_id, _json_body(), actor)))


@bp.delete("/data/<model>/<obj_id>")
def delete_object(model: str, obj_id: str) -> Any:
    mdef, actor = _guard(model, "delete")
    cascade = records.parse_bool_arg("cascade", request.args.get("cascade"))
    if mdef.name == "candidate":
        # GDPR (issue 8): the one eraser, as the page's, so the outbox, tasks and
        # search index forget them too, and the audit log records it (counts only)
        from ..services import retention

        retention.erase_candidate(obj_id, actor, cascade=cascade, via="api")
    else:
        records.remove(mdef, obj_id, actor, cascade)
    return "", 204


@bp.post("/data/<model>/<obj_id>/archive")
def archive_object(model: str, obj_id: str) -> Any:
    mdef, actor = _guard(model, "update")
    return _post(actor, lambda: _reply(records.set_archived(mdef, obj_id, True, actor)))


@bp.post("/data/<model>/<obj_id>/unarchive")
def unarchive_object(model: str, obj_id: str) -> Any:
    mdef, actor = _guard(model, "update")
    return _post(actor, lambda: _reply(records.set_archived(mdef, obj_id, False, actor)))


@bp.get("/schema")
def schema() -> Any:
    return {"object": "schema", "models": {name: model_schema(m) for name, m in F.MODELS.items()}}


@bp.get("/schema/<model>")
def schema_one(model: str) -> Any:
    return model_schema(_model(model))


@bp.get("/openapi.json")
def openapi() -> Any:
    return openapi_document(request.host_url.rstrip("/"))
