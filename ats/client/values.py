"""Field values from text: command-line flags and CSV cells, typed by the schema.

The server's ``/xapi2/schema/M`` says each field's type; this module turns the
text a person typed into the JSON value that type wants, and compares values
the way the server stores them (so an upsert can tell "nothing changed").
The server still validates everything: limits and enums are its business.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime
from typing import Any

TRUE = ("true", "yes", "1", "on")
FALSE = ("false", "no", "0", "off")
STRING_LISTS = ("string", "user_id")  # list items given as plain text


class BadValue(ValueError):
    """Text that cannot be a value of the field's type; the message says why."""


def is_multi(field: dict[str, Any]) -> bool:
    """Fields given by repeating a flag: tags and lists of plain strings."""
    return field["type"] == "tags" or (
        field["type"] == "list" and field.get("item") in STRING_LISTS
    )


def constraints(field: dict[str, Any]) -> list[str]:
    """The limits worth knowing before the server says no."""
    bits = []
    if field.get("max_length") and field["type"] in ("string", "url", "email"):
        bits.append(f"max {field['max_length']}")
    if field.get("minimum") is not None or field.get("maximum") is not None:
        bits.append(f"{_num(field.get('minimum', ''))}..{_num(field.get('maximum', ''))}")
    if field["type"] == "ref":
        bits.append(f"id of a {field.get('ref', 'object')}")
    if field.get("required"):
        bits.append("required")
    if field.get("unique"):
        bits.append("unique" if field["unique"] is True else f"unique, {field['unique']}")
    return bits


def describe(field: dict[str, Any]) -> str:
    """A flag's help text: label, type and the limits worth knowing."""
    if is_multi(field):
        kind = f"{field['type']}: repeat the flag"
    elif field["type"] == "list":
        kind = "JSON array"
    elif field["type"] == "ref":
        kind = "id"
    else:
        kind = field["type"]
    text = f"{field.get('label') or field['name']} ({', '.join([kind, *constraints(field)])})"
    if field.get("description"):
        text += f": {field['description']}"
    return text


def _num(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def parse(field: dict[str, Any], text: str) -> Any:
    """The JSON value for one piece of text (one flag, one CSV cell)."""
    kind = field["type"]
    if kind == "integer":
        try:
            return int(text.strip())
        except ValueError:
            raise BadValue(f"{text!r} is not a whole number") from None
    if kind == "number":
        try:
            number = float(text.strip())
        except ValueError:
            raise BadValue(f"{text!r} is not a number") from None
        if not math.isfinite(number):
            raise BadValue(f"{text!r} is not a finite number")
        return int(number) if number.is_integer() and "." not in text else number
    if kind == "bool":
        word = text.strip().lower()
        if word in TRUE:
            return True
        if word in FALSE:
            return False
        raise BadValue(f"{text!r} is not true or false")
    if kind == "tags" or kind == "list":
        stripped = text.strip()
        if stripped.startswith("["):
            try:
                value = json.loads(stripped)
            except ValueError as exc:
                raise BadValue(f"not a valid JSON array: {exc}") from None
            if not isinstance(value, list):
                raise BadValue("not a JSON array")
            return value
        if not is_multi(field):
            raise BadValue('a JSON array of objects, e.g. \'[{"id": "q1", ...}]\'')
        return [item.strip() for item in stripped.split(",") if item.strip()]
    return text


def parse_many(field: dict[str, Any], texts: tuple[str, ...]) -> Any:
    """Repeated flags: one item each (or one JSON array)."""
    if len(texts) == 1:
        return parse(field, texts[0])
    items: list[Any] = []
    for text in texts:
        value = parse(field, text)
        items.extend(value if isinstance(value, list) else [value])
    return items


def same(field: dict[str, Any], new: Any, old: Any) -> bool:
    """Whether writing ``new`` would leave the stored ``old`` as it is."""
    if new is None or old is None:
        return new is None and old is None
    kind = field["type"]
    if kind in ("number", "integer"):
        return isinstance(new, int | float) and float(new) == float(old)
    if kind == "datetime":
        return _instant(new) == _instant(old)
    if kind == "date":
        return _day(new) == _day(old)
    return new == old


def _instant(value: Any) -> Any:
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _day(value: Any) -> Any:
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return value


def key_of(field: dict[str, Any], value: Any) -> str:
    """How an upsert matches a row to an object: equal keys, equal objects."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = value if isinstance(value, str) else json.dumps(value)
    return text.casefold() if field.get("unique") == "case-insensitive" else text


def as_text(value: Any) -> str:
    """A value as a CSV cell or a table cell."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) and "," not in v for v in value):
        return ",".join(value)  # tags read back the way they are typed
    return json.dumps(value, ensure_ascii=False)
