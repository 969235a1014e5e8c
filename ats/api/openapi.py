"""``/xapi2/schema`` and ``/xapi2/openapi.json``, generated from ``ats.fields``."""

from __future__ import annotations

from typing import Any

from .. import fields as F
from ..services import search
from ..services.idempotency import HEADER, KEEP_FOR, KEY_MAX_LENGTH, REPLAYED_HEADER
from ..services.query import MAX_OFFSET, filter_keys
from ..validation import ANSWER_TEXT_MAX, CHOICE_MAX, MAX_INT, QUESTION_ID_MAX, QUESTION_LABEL_MAX

URL_PATTERN = r"^[Hh][Tt][Tt][Pp][Ss]?://[^/?#\s]+\S*$"


def _nullable(schema: dict[str, Any], f: F.Field) -> dict[str, Any]:
    if not f.nullable:
        return schema
    if "enum" in schema:
        return {**schema, "enum": [*schema["enum"], None], "type": [schema["type"], "null"]}
    return {**schema, "type": [schema["type"], "null"]}


def _string_list(max_items: int, max_length: int) -> dict[str, Any]:
    return {
        "type": "array",
        "maxItems": max_items,
        "uniqueItems": True,
        "items": {"type": "string", "minLength": 1, "maxLength": max_length, "pattern": r"\S"},
    }


def _question(knockout: bool) -> dict[str, Any]:
    props: dict[str, Any] = {
        "id": {"type": "string", "minLength": 1, "maxLength": QUESTION_ID_MAX},
        "label": {"type": "string", "minLength": 1, "maxLength": QUESTION_LABEL_MAX},
        "type": {"type": "string", "enum": list(F.QUESTION_TYPES)},
        "choices": _string_list(F.LIST_MAX_COUNT, CHOICE_MAX),
        "required": {"type": "boolean"},
    }
    required = ["id", "label", "type"]
    if knockout:
        props["reject_if"] = {
            "description": "the disqualifying answer: a boolean (yes_no), a choice or list of "
            'choices (choice), {"lt": n, "gt": n} (number), a string (text)'
        }
        required.append("reject_if")
    return {
        "type": "object",
        "properties": props,
        "required": required,
        "additionalProperties": False,
    }


ANSWER = {
    "type": "object",
    "properties": {
        "question_id": {"type": "string", "minLength": 1, "maxLength": QUESTION_ID_MAX},
        "value": {"type": ["string", "number", "boolean", "null"], "maxLength": ANSWER_TEXT_MAX},
    },
    "required": ["question_id"],
    "additionalProperties": False,
}


def field_schema(f: F.Field) -> dict[str, Any]:
    """JSON Schema of one field's value."""
    s: dict[str, Any]
    if f.type in (F.STRING, F.REF, F.EMAIL, F.URL):
        s = {"type": "string", "maxLength": f.max_length}
        if f.pattern:
            s["pattern"] = f"^(?:{f.pattern})$"
        if f.required:
            s["minLength"] = 1
        if f.type == F.URL:
            s["pattern"] = URL_PATTERN
        if f.type == F.EMAIL:
            s["format"] = "email"
    elif f.type in (F.NUMBER, F.INTEGER):
        s = {"type": f.type}
        if f.minimum is not None:
            s["minimum"] = f.minimum
        if f.maximum is not None:
            s["maximum"] = f.maximum
        if f.type == F.INTEGER:
            s.setdefault("maximum", MAX_INT)
    elif f.type == F.BOOL:
        s = {"type": "boolean"}
    elif f.type == F.ENUM:
        s = {"type": "string", "enum": list(f.choices)}
    elif f.type == F.TAGS:
        s = _string_list(F.TAGS_MAX_COUNT, F.TAG_MAX_LENGTH)
    elif f.type == F.LIST:
        if f.item in (F.ITEM_USER, F.ITEM_STRING):
            s = _string_list(F.LIST_MAX_COUNT, 64)
        else:
            item = ANSWER if f.item == F.ITEM_ANSWER else _question(f.item == F.ITEM_KNOCKOUT)
            s = {"type": "array", "maxItems": F.LIST_MAX_COUNT, "items": item}
    elif f.type == F.DATETIME:
        s = {"type": "string", "format": "date-time", "maxLength": F.DATETIME_MAX_LENGTH}
    elif f.type == F.DATE:
        s = {"type": "string", "format": "date", "maxLength": F.DATETIME_MAX_LENGTH}
    else:  # pragma: no cover - a new type must be described here
        raise ValueError(f"no JSON Schema for {f.type}")
    if f.description:
        s["description"] = f.description
    return _nullable(s, f)


def model_schema(mdef: F.ModelDef) -> dict[str, Any]:
    """What ``atscli M schema`` prints: fields, limits, mutability, keys, page cap."""
    fields = []
    for f in mdef.fields:
        entry: dict[str, Any] = {
            "name": f.name,
            "label": f.title,
            "type": f.type,
            "required": f.required,
            "create": f.create,
            "patch": f.patch,
            "server_managed": f.server_managed,
        }
        for key in ("max_length", "minimum", "maximum", "pattern", "ref", "item", "default"):
            value = getattr(f, key)
            if value is not None:
                entry[key] = value
        if f.choices:
            entry["choices"] = list(f.choices)
        if f.unique or f.unique_ci:
            entry["unique"] = "case-insensitive" if f.unique_ci else True
        if f.description:
            entry["description"] = f.description
        fields.append(entry)
    return {
        "object": "model_schema",
        "model": mdef.name,
        "description": mdef.description,
        "id_prefix": mdef.prefix + "_",
        "fields": fields,
        "filters": sorted(k for k in filter_keys(mdef) if not k.startswith("data__")),
        "sorts": list(mdef.sorts),
        "default_sort": mdef.default_sort,
        "keyset_sorts": list(F.KEYSET_SORTS),
        "max_page": mdef.max_page,
        "default_page": F.DEFAULT_PAGE_SIZE,
        "singleton": mdef.singleton,
    }


# --- OpenAPI ------------------------------------------------------------------

ERROR_STATUSES = {
    400: "Invalid input: the body, a field, a filter, a sort, a paging argument "
    f"or the {HEADER} header",
    401: "Missing, malformed, unknown, expired or revoked token",
    403: "The token lacks the scope this operation needs",
    404: "No such object, or not visible to the caller",
    409: "Conflict: a unique value is taken, or dependents exist",
    413: "The body is larger than the configured maximum",
    415: "The body is not application/json",
    422: f"The {HEADER} was already used for another request (other path or body)",
}

IDEMPOTENCY_KEY = {
    "name": HEADER,
    "in": "header",
    "required": False,
    "description": "Makes a POST safe to retry: the first request with a key runs, and for "
    f"{KEEP_FOR.total_seconds() / 3600:g} hours the same request with the same key gets the "
    f"stored answer again ({REPLAYED_HEADER}: true) instead of running twice. Keys are the "
    "caller's own, per user; errors are not stored. The same key with another path or body "
    "is a 422. Sent bare or as a structured-field string (quoted).",
    "schema": {
        "type": "string",
        "minLength": 1,
        "maxLength": KEY_MAX_LENGTH,
        "pattern": "^[ -~]+$",
    },
}
REPLAYED = {
    REPLAYED_HEADER: {
        "description": f"true when this is the stored answer to an earlier request with the "
        f"same {HEADER}",
        "schema": {"type": "string", "enum": ["true"]},
    }
}
IDEMPOTENT = [{"$ref": "#/components/parameters/IdempotencyKey"}]


def _errors(*codes: int) -> dict[str, Any]:
    out = {}
    for code in codes:
        out[str(code)] = {
            "description": ERROR_STATUSES[code],
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
        if code == 401:
            out[str(code)]["headers"] = {"WWW-Authenticate": {"schema": {"type": "string"}}}
    return out


def _ok(description: str, ref: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}},
    }


def _title(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def _model_components(mdef: F.ModelDef) -> dict[str, Any]:
    t = _title(mdef.name)
    create_props = {f.name: field_schema(f) for f in mdef.fields if f.create}
    patch_props = {f.name: field_schema(f) for f in mdef.fields if f.patch}
    # responses: every field present, null where unset
    data_props = {}
    for f in mdef.fields:
        s = field_schema(f)
        s.pop("minLength", None)
        data_props[f.name] = s
    return {
        f"{t}Create": {
            "type": "object",
            "properties": create_props,
            "required": [f.name for f in mdef.fields if f.required],
            "description": "Unknown and server-managed keys are ignored.",
        },
        f"{t}Patch": {
            "type": "object",
            "properties": patch_props,
            "description": "Only the fields given change. Unknown, create-only and "
            "server-managed keys are ignored.",
        },
        f"{t}Data": {
            "type": "object",
            "properties": data_props,
            "required": [f.name for f in mdef.fields],
        },
        t: {
            "type": "object",
            "properties": {
                "id": {"type": "string", "pattern": f"^{mdef.prefix}_[0-9A-Z]{{26}}$"},
                "object": {"type": "string", "const": mdef.name},
                "data": {"$ref": f"#/components/schemas/{t}Data"},
                "status": {"type": "string"},
                "is_archived": {"type": "boolean"},
                "owned_by": {"type": ["string", "null"]},
                "created_by": {"type": ["string", "null"]},
                "created_at": {"type": "string", "format": "date-time"},
                "updated_at": {"type": "string", "format": "date-time"},
            },
            "required": [
                "id",
                "object",
                "data",
                "status",
                "is_archived",
                "owned_by",
                "created_by",
                "created_at",
                "updated_at",
            ],
        },
        f"{t}Page": {
            "type": "object",
            "properties": {
                "object": {"type": "string", "const": "list"},
                "items": {"type": "array", "items": {"$ref": f"#/components/schemas/{t}"}},
                "limit": {"type": "integer", "minimum": 1, "maximum": mdef.max_page},
                "offset": {"type": "integer", "minimum": 0},
                "has_more": {"type": "boolean"},
                "next_after": {"type": ["string", "null"]},
                "total": {"type": "integer", "minimum": 0},
            },
            "required": ["object", "items", "limit", "offset", "has_more", "next_after", "total"],
        },
    }


def _list_parameters(mdef: F.ModelDef) -> list[dict[str, Any]]:
    sort_key = "-?(" + "|".join(mdef.sorts) + ")"
    params: list[dict[str, Any]] = [
        {
            "name": "limit",
            "in": "query",
            "description": f"page size, default {F.DEFAULT_PAGE_SIZE}, capped at {mdef.max_page}",
            "schema": {"type": "integer", "minimum": 1},
        },
        {
            "name": "offset",
            "in": "query",
            "schema": {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET},
        },
        {
            "name": "after",
            "in": "query",
            "description": "keyset cursor: an id from next_after; only with sort "
            "created_at or -created_at (the default when after is given), not with offset",
            "schema": {"type": "string"},
        },
        {
            "name": "sort",
            "in": "query",
            "description": f"comma-separated keys, '-' for descending; default {mdef.default_sort}",
            "schema": {"type": "string", "pattern": f"^{sort_key}(,{sort_key})*$"},
        },
    ]
    if mdef.name in search.MODELS:
        params.append(
            {
                "name": "q",
                "in": "query",
                "description": "full-text search: every word must match, as a prefix; "
                '"quoted words" as a phrase; -word excludes. Case and accents are '
                "ignored. Without sort (and after), best matches come first, then by id. "
                f"At most {search.MAX_TERMS} words.",
                "schema": {"type": "string", "maxLength": search.MAX_LENGTH},
            }
        )
    for key, fk in filter_keys(mdef).items():
        f = fk.field
        if f.type == F.BOOL:
            item: dict[str, Any] = {"type": "boolean"}
        elif f.type == F.ENUM:
            item = {"type": "string", "enum": list(f.choices)}
        else:
            max_length = F.TAG_MAX_LENGTH if f.type in (F.TAGS, F.LIST) else f.max_length
            item = {"type": "string", "maxLength": max_length}
        params.append(
            {
                "name": key,
                "in": "query",
                "description": "filter; repeat the key for any of several values",
                "style": "form",
                "explode": True,
                "schema": {"type": "array", "items": item},
            }
        )
    return params


def _model_paths(mdef: F.ModelDef) -> dict[str, Any]:
    t = _title(mdef.name)
    base = f"/xapi2/data/{mdef.name}"
    id_param = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
    json_body = {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{t}Create"}}},
    }
    patch_body = {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{t}Patch"}}},
    }
    archive = {
        "parameters": [id_param],
        "post": {},
    }
    paths = {
        base: {
            "get": {
                "operationId": f"list_{mdef.name}",
                "summary": f"List {mdef.name} objects",
                "tags": [mdef.name],
                "parameters": _list_parameters(mdef),
                "responses": {"200": _ok("A page", f"{t}Page"), **_errors(400, 401, 403)},
            },
            "post": {
                "operationId": f"create_{mdef.name}",
                "summary": f"Create a {mdef.name}",
                "tags": [mdef.name],
                "parameters": IDEMPOTENT,
                "requestBody": json_body,
                "responses": {
                    "201": {
                        **_ok("Created", t),
                        "headers": {"Location": {"schema": {"type": "string"}}, **REPLAYED},
                    },
                    **_errors(400, 401, 403, 409, 413, 415, 422),
                },
            },
        },
        f"{base}/{{id}}": {
            "parameters": [id_param],
            "get": {
                "operationId": f"get_{mdef.name}",
                "summary": f"Read one {mdef.name}",
                "tags": [mdef.name],
                "responses": {"200": _ok("The object", t), **_errors(401, 403, 404)},
            },
            "patch": {
                "operationId": f"update_{mdef.name}",
                "summary": f"Change fields of a {mdef.name}",
                "tags": [mdef.name],
                "requestBody": patch_body,
                "responses": {
                    "200": _ok("The updated object", t),
                    **_errors(400, 401, 403, 404, 409, 413, 415),
                },
            },
            "delete": {
                "operationId": f"delete_{mdef.name}",
                "summary": f"Delete a {mdef.name}",
                "tags": [mdef.name],
                "parameters": [
                    {
                        "name": "cascade",
                        "in": "query",
                        "description": "also delete dependents (409 without it)",
                        "schema": {"type": "boolean"},
                    }
                ],
                "responses": {
                    "204": {"description": "Deleted"},
                    **_errors(400, 401, 403, 404, 409),
                },
            },
        },
    }
    for action in ("archive", "unarchive"):
        paths[f"{base}/{{id}}/{action}"] = {
            **archive,
            "post": {
                "operationId": f"{action}_{mdef.name}",
                "summary": f"{action.capitalize()} a {mdef.name}",
                "tags": [mdef.name],
                "parameters": IDEMPOTENT,
                "responses": {
                    "200": {**_ok("The object", t), "headers": REPLAYED},
                    **_errors(400, 401, 403, 404, 413, 422),
                },
            },
        }
    return paths


def openapi_document(server_url: str) -> dict[str, Any]:
    schemas: dict[str, Any] = {
        "Error": {
            "type": "object",
            "properties": {
                "error": {"type": "string"},
                "message": {"type": "string"},
                "fields": {"type": "object", "additionalProperties": {"type": "string"}},
                "dependents": {"type": "object", "additionalProperties": {"type": "integer"}},
                "missing_scope": {"type": "string"},
            },
            "required": ["error", "message"],
        }
    }
    paths: dict[str, Any] = {}
    for mdef in F.MODELS.values():
        schemas.update(_model_components(mdef))
        paths.update(_model_paths(mdef))
    public = {"security": []}
    paths["/xapi2/schema"] = {
        "get": {
            **public,
            "operationId": "schema",
            "summary": "Every model's fields, limits, keys and page caps",
            "responses": {"200": {"description": "The schema", "content": _any_json()}},
        }
    }
    paths["/xapi2/schema/{model}"] = {
        "get": {
            **public,
            "operationId": "schema_model",
            "summary": "One model's fields, limits, keys and page cap",
            "parameters": [
                {
                    "name": "model",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "enum": list(F.MODELS)},
                }
            ],
            "responses": {
                "200": {"description": "The model's schema", "content": _any_json()},
                "404": {
                    "description": "No such model",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                    },
                },
            },
        }
    }
    paths["/xapi2/openapi.json"] = {
        "get": {
            **public,
            "operationId": "openapi",
            "summary": "This document",
            "responses": {"200": {"description": "OpenAPI 3.1", "content": _any_json()}},
        }
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "xapi2",
            "version": "2.0.0",
            "description": "The ATS JSON API. Objects come in an envelope with their fields "
            "under data; errors are {error, message, fields}.",
        },
        "servers": [{"url": server_url}],
        "security": [{"bearerAuth": []}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "parameters": {"IdempotencyKey": IDEMPOTENCY_KEY},
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "pat_..."}
            },
        },
    }


def _any_json() -> dict[str, Any]:
    return {"application/json": {"schema": {"type": "object"}}}
