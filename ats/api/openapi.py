"""``/xapi2/schema`` and ``/xapi2/openapi.json``, generated from ``ats.fields``."""

from __future__ import annotations

from typing import Any

from .. import fields as F
from ..errors import ApiError
from ..services import search
from ..services.idempotency import HEADER, KEEP_FOR, KEY_MAX_LENGTH, REPLAYED_HEADER
from ..services.query import MAX_OFFSET, filter_keys
from ..validation import (
    ANSWER_TEXT_MAX,
    BLANK_PATTERN,
    CHOICE_MAX,
    DATA_IMAGE_PATTERN,
    HTTP_URL_PATTERN,
    HTTPS_URL_PATTERN,
    MAX_INT,
    MAX_NUMBER,
    NUL_PATTERN,
    QUESTION_ID_MAX,
    QUESTION_LABEL_MAX,
    SPECIAL_USE_EMAIL_PATTERN,
)


def _whole(pattern: str) -> str:
    """A JSON Schema pattern (a search) that the whole value must match, as the
    API's ``re.fullmatch`` does."""
    return f"^(?:{pattern})$"


# Text rules as "not" (a text with a NUL, one of nothing but blanks) rather than as
# one pattern of every allowed character: the same meaning, and generators (the
# fuzzing in tests/test_fuzz.py) make a long text at once, not character by character.
# ("pattern" holds for anything but strings, so each "not" names strings alone.)
NO_NUL = {"not": {"type": "string", "pattern": NUL_PATTERN}}
NOT_BLANK = {
    "not": {
        "type": "string",
        "anyOf": [{"pattern": NUL_PATTERN}, {"pattern": _whole(BLANK_PATTERN)}],
    }
}
URL_PATTERN = _whole(HTTP_URL_PATTERN)
DATA_URL_PATTERN = _whole(f"{HTTPS_URL_PATTERN}|{DATA_IMAGE_PATTERN}")
NUMBER_BOUNDS = {"minimum": -MAX_NUMBER, "maximum": MAX_NUMBER}


def _nullable(schema: dict[str, Any], f: F.Field) -> dict[str, Any]:
    if not f.nullable:
        return schema
    if "enum" in schema:
        return {**schema, "enum": [*schema["enum"], None], "type": [schema["type"], "null"]}
    return {**schema, "type": [schema["type"], "null"]}


def _text(max_length: int, nonblank: bool = False) -> dict[str, Any]:
    """A string of at most ``max_length`` characters, no NUL; ``nonblank``: not
    only white space either (what ``str.strip()`` removes)."""
    if nonblank:
        return {"type": "string", "minLength": 1, "maxLength": max_length, **NOT_BLANK}
    return {"type": "string", "maxLength": max_length, **NO_NUL}


def _string_list(max_items: int, max_length: int) -> dict[str, Any]:
    return {
        "type": "array",
        "maxItems": max_items,
        "uniqueItems": True,
        "items": _text(max_length, nonblank=True),
    }


def _question(knockout: bool) -> dict[str, Any]:
    """Section 8. What each type needs is in the ``allOf``: choices for a choice
    question (and only there), and a knockout's ``reject_if`` of the question's
    type (that a choice rule names the question's own choices, the document
    cannot say: a 400 tells)."""
    props: dict[str, Any] = {
        "id": _text(QUESTION_ID_MAX, nonblank=True),
        "label": _text(QUESTION_LABEL_MAX, nonblank=True),
        "type": {"type": "string", "enum": list(F.QUESTION_TYPES)},
        "choices": {**_string_list(F.LIST_MAX_COUNT, CHOICE_MAX), "type": ["array", "null"]},
        "required": {"type": "boolean"},
    }
    required = ["id", "label", "type"]

    def when(qtype: str, then: dict[str, Any]) -> dict[str, Any]:
        return {"if": {"properties": {"type": {"const": qtype}}}, "then": then}

    rules = [
        when(
            "choice",
            {"required": ["choices"], "properties": {"choices": {"type": "array", "minItems": 1}}},
        ),
        {
            "if": {"properties": {"type": {"not": {"const": "choice"}}}},
            "then": {"properties": {"choices": {"maxItems": 0}}},
        },
    ]
    if knockout:
        props["reject_if"] = {
            "description": "the disqualifying answer: a boolean (yes_no), one of the "
            'choices or a list of them (choice), {"lt": n, "gt": n} (number), a text '
            "(text, compared case-insensitively)"
        }
        required.append("reject_if")
        number = {"type": "number", **NUMBER_BOUNDS}
        rules += [
            when("yes_no", {"properties": {"reject_if": {"type": "boolean"}}}),
            when(
                "choice",
                {
                    "properties": {
                        "reject_if": {
                            "anyOf": [
                                {"type": "string"},
                                {"type": "array", "minItems": 1, "items": {"type": "string"}},
                            ]
                        }
                    }
                },
            ),
            when(
                "number",
                {
                    "properties": {
                        "reject_if": {
                            "type": "object",
                            "properties": {"lt": number, "gt": number},
                            "minProperties": 1,
                            "additionalProperties": False,
                        }
                    }
                },
            ),
            when("text", {"properties": {"reject_if": _text(ANSWER_TEXT_MAX, nonblank=True)}}),
        ]
    return {
        "type": "object",
        "properties": props,
        "required": required,
        "additionalProperties": False,
        "allOf": rules,
    }


ANSWER = {
    "type": "object",
    "properties": {
        "question_id": _text(QUESTION_ID_MAX, nonblank=True),
        "value": {
            "type": ["string", "number", "boolean", "null"],
            "maxLength": ANSWER_TEXT_MAX,
            **NO_NUL,
            **NUMBER_BOUNDS,
            "description": "of the question's type: true/false (yes_no), a number, one of "
            "its choices (choice), a text (text); the job must have the question",
        },
    },
    "required": ["question_id"],
    "additionalProperties": False,
}


def field_schema(f: F.Field) -> dict[str, Any]:
    """JSON Schema of one field's value."""
    s: dict[str, Any]
    if f.type in (F.STRING, F.REF, F.EMAIL, F.URL):
        s = _text(f.max_length or 0, nonblank=f.required)
        if f.pattern:
            s["pattern"] = _whole(f.pattern)
        if f.type == F.URL:
            s["pattern"] = URL_PATTERN
        if f.data_url:
            s["pattern"] = DATA_URL_PATTERN
        if "pattern" in s:
            s.pop("not")  # the pattern's characters exclude NUL and blanks already
        if f.type == F.EMAIL:
            s["format"] = "email"
            # not at a special-use domain (RFC 6761: .test, .invalid, localhost ...)
            s["not"] = {
                "type": "string",
                "anyOf": [{"pattern": NUL_PATTERN}, {"pattern": SPECIAL_USE_EMAIL_PATTERN}],
            }
        if f.type == F.REF:
            s["description"] = f"the id of an existing {f.ref}"
    elif f.type in (F.NUMBER, F.INTEGER):
        s = {"type": f.type}
        largest = MAX_INT if f.type == F.INTEGER else MAX_NUMBER
        s["minimum"] = f.minimum if f.minimum is not None else -largest
        s["maximum"] = f.maximum if f.maximum is not None else largest
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
    429: "Too many requests from this token (or, without a valid one, this address) in "
    "the current window (ATS_API_RATE_LIMIT); Retry-After says when to try again",
}


def unique_together(mdef: F.ModelDef) -> list[tuple[str, ...]]:
    """The table's uniqueness across several columns (one application per candidate
    and job), read off the model: the field tables carry one-field rules only."""
    from sqlalchemy import UniqueConstraint

    from ..services.records import model_class

    table = model_class(mdef).__table__
    return [
        tuple(c.name for c in con.columns)
        for con in table.constraints
        if isinstance(con, UniqueConstraint) and len(con.columns) > 1
    ]


def conflicts(mdef: F.ModelDef) -> dict[str, str]:
    """The operations of a model that can answer 409, and why: a unique value
    taken (create, and update where such a field can change), a second
    singleton, or dependents left behind (delete: models other models point at)."""
    unique = [f.name for f in mdef.fields if f.unique or f.unique_ci]
    out: dict[str, str] = {}
    taken = list(unique)
    taken += [" and ".join(cols) for cols in unique_together(mdef)]
    if taken or mdef.singleton:
        why = [f"{name} is taken" for name in taken]
        if mdef.singleton:
            why.append(f"there is a {mdef.name} already (one per installation)")
        out["create"] = "Conflict: " + "; ".join(why)
    changeable = [f.name for f in mdef.fields if (f.unique or f.unique_ci) and f.patch]
    if changeable:
        out["update"] = "Conflict: " + "; ".join(f"{name} is taken" for name in changeable)
    pointed_at = {f.ref for m in F.MODELS.values() for f in m.fields if f.type == F.REF}
    pointed_at |= set(F.APPLICATION_NOTE["parent_kind"].choices)  # notes' parents
    if mdef.name in pointed_at:
        out["delete"] = "Conflict: other objects depend on it (counts in dependents); "
        out["delete"] += "?cascade=true deletes them with it"
    return out


RATE_LIMIT_HEADERS = {
    "X-RateLimit-Limit": {
        "description": "requests allowed per window (absent while ATS_API_RATE_LIMIT is off)",
        "schema": {"type": "integer", "minimum": 1},
    },
    "X-RateLimit-Remaining": {
        "description": "requests left in this window",
        "schema": {"type": "integer", "minimum": 0},
    },
    "X-RateLimit-Reset": {
        "description": "when the window ends, in seconds since the epoch",
        "schema": {"type": "integer", "minimum": 0},
    },
}
RETRY_AFTER = {
    "Retry-After": {
        "description": "seconds until the next window",
        "required": True,
        "schema": {"type": "integer", "minimum": 0},
    }
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


def _errors(*codes: int, **descriptions: str) -> dict[str, Any]:
    """Error responses; a description given as ``e409="..."`` replaces the usual one."""
    out: dict[str, Any] = {}
    for code in codes:
        out[str(code)] = {
            "description": descriptions.get(f"e{code}", ERROR_STATUSES[code]),
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
        if code == 401:
            out[str(code)]["headers"] = {
                "WWW-Authenticate": {
                    "description": 'Bearer realm="xapi2", with error="invalid_request" for '
                    "a malformed Authorization header",
                    "required": True,
                    "schema": {"type": "string", "pattern": "^Bearer "},
                }
            }
        if code == 429:
            out[str(code)]["headers"] = dict(RETRY_AFTER)
    return out


def _rate_limited(operation: dict[str, Any]) -> dict[str, Any]:
    """Every xapi2 answer counts against the caller's rate limit: a 429 past it, and
    the X-RateLimit-* headers on the counted answers (none while the limit is off)."""
    responses = {**operation["responses"], **_errors(429)}
    refs = {name: {"$ref": f"#/components/headers/{name}"} for name in RATE_LIMIT_HEADERS}
    for response in responses.values():
        response["headers"] = {**response.get("headers", {}), **refs}
    return {**operation, "responses": responses}


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
                "status": {"type": "string", "enum": list(F.ENVELOPE_FILTERS["status"].choices)},
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
            "description": "keyset cursor: the id of an object in the list (next_after); "
            "only with sort created_at or -created_at (the default when after is given), "
            "not with offset",
            "schema": {"type": "string", **NO_NUL},
        },
        {
            "name": "sort",
            "in": "query",
            "description": f"comma-separated keys, '-' for descending; absent or empty: "
            f"{mdef.default_sort}",
            "schema": {"type": "string", "pattern": f"^(?:{sort_key}(,{sort_key})*)?$"},
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
                f"At most {search.MAX_TERMS} words; at least one of letters or digits that "
                "is not excluded.",
                "schema": {"type": "string", "maxLength": search.MAX_LENGTH, **NO_NUL},
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
            item = _text(max_length or 0)
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
    conflict = conflicts(mdef)

    def may_conflict(action: str) -> dict[str, Any]:
        return _errors(409, e409=conflict[action]) if action in conflict else {}

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
                        "headers": {
                            "Location": {
                                "description": "the new object's URL",
                                "required": True,
                                "schema": {"type": "string"},
                            },
                            **REPLAYED,
                        },
                    },
                    **_errors(400, 401, 403, 413, 415, 422),
                    **may_conflict("create"),
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
                    **_errors(400, 401, 403, 404, 413, 415),
                    **may_conflict("update"),
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
                        "description": "also delete dependents"
                        + (" (409 without it)" if "delete" in conflict else ""),
                        "schema": {"type": "boolean"},
                    }
                ],
                "responses": {
                    "204": {"description": "Deleted"},
                    **_errors(400, 401, 403, 404),
                    **may_conflict("delete"),
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
                "error": {"type": "string", "enum": _error_codes()},
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
    for item in paths.values():
        for method in ("get", "post", "patch", "delete"):
            if method in item:
                item[method] = _rate_limited(item[method])
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
            "headers": RATE_LIMIT_HEADERS,
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "pat_..."}
            },
        },
    }


def _error_codes() -> list[str]:
    """Every ``error`` an answer can carry: the codes of ``ats.errors.ApiError``."""
    codes: set[str] = set()
    todo: list[type[ApiError]] = [ApiError]
    while todo:
        cls = todo.pop()
        codes.add(cls.code)
        todo += cls.__subclasses__()
    return sorted(codes)


def _any_json() -> dict[str, Any]:
    return {"application/json": {"schema": {"type": "object"}}}
