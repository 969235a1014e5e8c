"""Checking incoming values against the field tables, before the database.

``clean()`` is pure: it turns a JSON body into column values and a dict of
``{field: message}`` errors (the shape WTForms uses, so forms and the API show
the same words). Checks that need the database (references, uniqueness) live
in ``ats.services.records`` and add to the same dict.
"""

from __future__ import annotations

import math
import re
import sys
from datetime import UTC, date, datetime
from typing import Any

from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email

from . import fields as F

MAX_INT = 2**31 - 1  # what an INTEGER column holds on every database we support
MAX_NUMBER = sys.float_info.max  # larger JSON numbers are not finite floats
QUESTION_ID_MAX = 64
QUESTION_LABEL_MAX = 500
CHOICE_MAX = 200
ANSWER_TEXT_MAX = 4000

# --- the text rules as regular expressions ------------------------------------
#
# Written once, in the syntax Python, ECMAScript and JSON Schema validators share
# (classes of \uXXXX escapes, no \s, no \d), so that the OpenAPI document's
# patterns (``ats.api.openapi``) accept exactly what these checks accept: Python's
# \s and str.strip() know white space that ECMAScript's \s does not (U+001C-U+001F,
# U+0085), and the other way round (U+FEFF).

# what str.isspace() calls white space, so what str.strip() removes (pinned by a test)
BLANK_CHARS = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004"
    "\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)


def _class(chars: str, negate: bool = False) -> str:
    """A regex character class of exactly these characters, portable."""
    return "[" + ("^" if negate else "") + "".join(f"\\u{ord(c):04x}" for c in chars) + "]"


_NOT_BLANK = _class(BLANK_CHARS + "\x00", negate=True)
_URL_HOST = _class(BLANK_CHARS + "\x00/?#", negate=True)
# email_validator refuses the special-use domains (RFC 6761) wherever it runs
SPECIAL_USE_EMAIL_PATTERN = (
    "@(?:.*\\.)?(?:"
    + "|".join(
        "".join(f"[{c.upper()}{c}]" if c.isalpha() else re.escape(c) for c in name)
        for name in SPECIAL_USE_DOMAIN_NAMES
    )
    + ")$"
)
NUL_PATTERN = "\\u0000"  # no database stores a NUL character: text with one is refused
BLANK_PATTERN = _class(BLANK_CHARS) + "*"  # nothing but white space: refused where required
HTTP_URL_PATTERN = f"[Hh][Tt][Tt][Pp][Ss]?://{_URL_HOST}+{_NOT_BLANK}*"
HTTPS_URL_PATTERN = f"[Hh][Tt][Tt][Pp][Ss]://{_URL_HOST}+{_NOT_BLANK}*"
DATA_IMAGE_PATTERN = "data:image/(?:png|jpeg|gif|webp);base64,[A-Za-z0-9+/]+={0,2}"
_HTTP_URL = re.compile(HTTP_URL_PATTERN)
_HTTPS_URL = re.compile(HTTPS_URL_PATTERN)
_DATA_IMAGE = re.compile(DATA_IMAGE_PATTERN)


class Invalid(Exception):
    """A value that breaks its field's rule; the message is for people."""


def clean(
    mdef: F.ModelDef, body: dict[str, Any], mode: str
) -> tuple[dict[str, Any], dict[str, str]]:
    """Pick the fields ``mode`` ("create" or "patch") reads and check each.

    Unknown keys and fields the mode does not read are ignored (spec section 4).
    """
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for f in mdef.fields:
        if not (f.create if mode == "create" else f.patch):
            continue
        if f.name not in body:
            if mode == "create" and f.required:
                errors[f.name] = "required"
            continue
        try:
            values[f.name] = check_value(f, body[f.name])
        except Invalid as exc:
            errors[f.name] = str(exc)
    return values, errors


def check_value(f: F.Field, value: Any) -> Any:
    """Check one value and return what is stored."""
    if value is None:
        if f.required:
            raise Invalid("required")
        if not f.nullable:
            raise Invalid("cannot be null")
        return None
    if not _encodable(value):
        raise Invalid("must be valid Unicode text (no lone surrogates)")
    checker = _CHECKERS[f.type]
    return checker(f, value)


def _encodable(value: Any) -> bool:
    """JSON may carry lone surrogates (``"\\ud800"``) that no database can store."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    if isinstance(value, list):
        return all(_encodable(v) for v in value)
    if isinstance(value, dict):
        return all(_encodable(k) and _encodable(v) for k, v in value.items())
    return True


def _string(f: F.Field, value: Any) -> str:
    if not isinstance(value, str):
        raise Invalid("must be a string")
    if f.max_length is not None and len(value) > f.max_length:
        raise Invalid(f"at most {f.max_length} characters")
    if "\x00" in value:
        raise Invalid("must not contain NUL characters")
    if f.required and not value.strip():
        raise Invalid("must not be empty")
    if f.pattern and not re.fullmatch(f.pattern, value):
        raise Invalid(f"must match {f.pattern}")
    if f.data_url and not (_HTTPS_URL.fullmatch(value) or _DATA_IMAGE.fullmatch(value)):
        raise Invalid("must be an https URL or a base64 PNG, JPEG, GIF or WebP data URL")
    return value


def _url(f: F.Field, value: Any) -> str:
    value = _string(f, value)
    if not _HTTP_URL.fullmatch(value):
        raise Invalid("must be an absolute http or https URL")
    return value


# Checking the domain is most of ``validate_email``'s work, and addresses share
# few domains (an import of thousands has a handful). Its verdict on a domain
# does not depend on the part before the @, so once an address passed, another
# one with the same domain and a plain dot-atom local part (a subset of what
# ``validate_email`` allows) of allowed length passes too, without running it
# again. Anything else still gets the full check and its exact message.
_PLAIN_LOCAL = re.compile(r"[A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*")
_LOCAL_MAX = 64  # RFC 5321 limits, as email_validator applies them
_ADDRESS_MAX = 254
_GOOD_DOMAINS: dict[str, int] = {}  # domain -> bytes of its longest form (as given, IDNA, Unicode)
_GOOD_DOMAINS_KEPT = 4096


def _email(f: F.Field, value: Any) -> str:
    value = _string(f, value)
    local, _, domain = value.partition("@")
    longest = _GOOD_DOMAINS.get(domain)
    if (
        longest is not None
        and len(local) <= _LOCAL_MAX
        and len(local) + 1 + longest <= _ADDRESS_MAX
        and _PLAIN_LOCAL.fullmatch(local)
    ):
        return value
    try:
        checked = validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        raise Invalid(f"must be a valid e-mail address ({exc})") from None
    if len(_GOOD_DOMAINS) >= _GOOD_DOMAINS_KEPT:
        _GOOD_DOMAINS.clear()
    # valid means one @ (quoted local parts and display names are refused)
    forms = (domain, checked.domain, checked.ascii_domain or "")
    _GOOD_DOMAINS[domain] = max(len(form.encode()) for form in forms)
    return value


def _finite(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Invalid("must be a number")
    try:
        as_float = float(value)
    except OverflowError:
        raise Invalid("must be a finite number") from None
    if not math.isfinite(as_float):
        raise Invalid("must be a finite number")
    return as_float


def _bounds(f: F.Field, value: float) -> None:
    if f.minimum is not None and value < f.minimum:
        raise Invalid(f"must be at least {f.minimum:g}")
    if f.maximum is not None and value > f.maximum:
        raise Invalid(f"must be at most {f.maximum:g}")


def _number(f: F.Field, value: Any) -> float:
    as_float = _finite(value)
    _bounds(f, as_float)
    return as_float


def _integer(f: F.Field, value: Any) -> int:
    as_float = _finite(value)
    if not as_float.is_integer():
        raise Invalid("must be an integer")
    _bounds(f, as_float)
    if abs(as_float) > MAX_INT:
        raise Invalid(f"must be at most {MAX_INT}")
    return int(as_float)


def _bool(f: F.Field, value: Any) -> bool:
    if not isinstance(value, bool):
        raise Invalid("must be true or false")
    return value


def _enum(f: F.Field, value: Any) -> str:
    if not isinstance(value, str) or value not in f.choices:
        raise Invalid("must be one of: " + ", ".join(f.choices))
    return value


def _ref(f: F.Field, value: Any) -> str:
    return _string(f, value)


def _distinct_strings(value: Any, max_count: int, max_length: int, what: str) -> list[str]:
    if not isinstance(value, list):
        raise Invalid("must be a list")
    if len(value) > max_count:
        raise Invalid(f"at most {max_count} {what}s")
    seen: set[str] = set()
    for i, item in enumerate(value):
        if not isinstance(item, str) or not item.strip():
            raise Invalid(f"{what} {i + 1}: must be a non-empty string")
        if len(item) > max_length:
            raise Invalid(f"{what} {i + 1}: at most {max_length} characters")
        if "\x00" in item:
            raise Invalid(f"{what} {i + 1}: must not contain NUL characters")
        if item in seen:
            raise Invalid(f"{what} {i + 1}: {item!r} is repeated")
        seen.add(item)
    return list(value)


def _tags(f: F.Field, value: Any) -> list[str]:
    return _distinct_strings(value, F.TAGS_MAX_COUNT, F.TAG_MAX_LENGTH, "tag")


def _list(f: F.Field, value: Any) -> list[Any]:
    if f.item in (F.ITEM_USER, F.ITEM_STRING):
        return _distinct_strings(value, F.LIST_MAX_COUNT, 64, "item")
    if not isinstance(value, list):
        raise Invalid("must be a list")
    if len(value) > F.LIST_MAX_COUNT:
        raise Invalid(f"at most {F.LIST_MAX_COUNT} items")
    check = _answer if f.item == F.ITEM_ANSWER else _question
    out: list[Any] = []
    ids: set[str] = set()
    key = "question_id" if f.item == F.ITEM_ANSWER else "id"
    for i, item in enumerate(value):
        try:
            cleaned = check(item, knockout=f.item == F.ITEM_KNOCKOUT)
        except Invalid as exc:
            raise Invalid(f"item {i + 1}: {exc}") from None
        if cleaned[key] in ids:
            raise Invalid(f"item {i + 1}: {key} {cleaned[key]!r} is repeated")
        ids.add(cleaned[key])
        out.append(cleaned)
    return out


def _short_text(value: Any, name: str, max_length: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise Invalid(f"{name} must be a non-empty string")
    if len(value) > max_length:
        raise Invalid(f"{name} must be at most {max_length} characters")
    if "\x00" in value:
        raise Invalid(f"{name} must not contain NUL characters")
    return value


def _question(item: Any, knockout: bool = False) -> dict[str, Any]:
    """Section 8: {"id", "label", "type", "choices", "required"} (+ "reject_if")."""
    if not isinstance(item, dict):
        raise Invalid("must be an object")
    allowed = {"id", "label", "type", "choices", "required"} | (
        {"reject_if"} if knockout else set()
    )
    unknown = sorted(set(item) - allowed)
    if unknown:
        raise Invalid("unknown key " + ", ".join(unknown))
    q: dict[str, Any] = {
        "id": _short_text(item.get("id"), "id", QUESTION_ID_MAX),
        "label": _short_text(item.get("label"), "label", QUESTION_LABEL_MAX),
    }
    qtype = item.get("type")
    if qtype not in F.QUESTION_TYPES:
        raise Invalid("type must be one of: " + ", ".join(F.QUESTION_TYPES))
    q["type"] = qtype
    choices = item.get("choices")
    if qtype == "choice":
        if not choices:
            raise Invalid("choices are required for a choice question")
        q["choices"] = _distinct_strings(choices, F.LIST_MAX_COUNT, CHOICE_MAX, "choice")
    elif choices not in (None, []):
        raise Invalid("choices are only for choice questions")
    else:
        q["choices"] = []
    required = item.get("required", False)
    if not isinstance(required, bool):
        raise Invalid("required must be true or false")
    q["required"] = required
    if knockout:
        q["reject_if"] = _reject_if(q, item.get("reject_if"))
    return q


def _reject_if(q: dict[str, Any], rule: Any) -> Any:
    """The disqualifying answer: yes_no a boolean; choice a choice or a list of
    them; number {"lt": n} and/or {"gt": n}; text a string (case-insensitive)."""
    if rule is None:
        raise Invalid("reject_if is required for a knockout question")
    if q["type"] == "yes_no":
        if not isinstance(rule, bool):
            raise Invalid("reject_if must be true or false for a yes_no question")
        return rule
    if q["type"] == "choice":
        picked = rule if isinstance(rule, list) else [rule]
        if not picked or any(c not in q["choices"] for c in picked):
            raise Invalid("reject_if must be one or more of the question's choices")
        return rule
    if q["type"] == "number":
        if not isinstance(rule, dict) or not rule or set(rule) - {"lt", "gt"}:
            raise Invalid('reject_if must be an object with "lt" and/or "gt"')
        return {k: _finite(v) for k, v in rule.items()}
    return _short_text(rule, "reject_if", ANSWER_TEXT_MAX)


def _answer(item: Any, knockout: bool = False) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise Invalid("must be an object")
    unknown = sorted(set(item) - {"question_id", "value"})
    if unknown:
        raise Invalid("unknown key " + ", ".join(unknown))
    value = item.get("value")
    if isinstance(value, str):
        if len(value) > ANSWER_TEXT_MAX:
            raise Invalid(f"value must be at most {ANSWER_TEXT_MAX} characters")
        if "\x00" in value:
            raise Invalid("value must not contain NUL characters")
    elif isinstance(value, int) and not isinstance(value, bool) and abs(value) <= MAX_INT:
        pass  # a whole number stays one (12, not 12.0)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        value = _finite(value)
    elif value is not None and not isinstance(value, bool):
        raise Invalid("value must be a string, number, boolean or null")
    return {
        "question_id": _short_text(item.get("question_id"), "question_id", QUESTION_ID_MAX),
        "value": value,
    }


def check_answer_against(question: dict[str, Any], value: Any) -> str | None:
    """Whether an answer's value fits its question's type; None when it does."""
    if value is None:
        return None
    qtype = question["type"]
    if qtype == "yes_no" and not isinstance(value, bool):
        return "must be true or false"
    if qtype == "number" and (isinstance(value, bool) or not isinstance(value, int | float)):
        return "must be a number"
    if qtype == "text" and not isinstance(value, str):
        return "must be a string"
    if qtype == "choice" and value not in question.get("choices", []):
        return "must be one of the question's choices"
    return None


def parse_datetime(value: str) -> datetime:
    """ISO 8601 to naive UTC; a value without an offset is taken as UTC."""
    parsed = datetime.fromisoformat(value.strip())
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def _datetime(f: F.Field, value: Any) -> datetime:
    if not isinstance(value, str):
        raise Invalid("must be an ISO 8601 date-time string")
    if len(value) > F.DATETIME_MAX_LENGTH:
        raise Invalid(f"at most {F.DATETIME_MAX_LENGTH} characters")
    try:
        return parse_datetime(value)
    except (ValueError, OverflowError):
        raise Invalid("must be an ISO 8601 date-time, e.g. 2026-11-23T09:15:00Z") from None


def _date(f: F.Field, value: Any) -> date:
    if not isinstance(value, str):
        raise Invalid("must be a date string")
    if len(value) > F.DATETIME_MAX_LENGTH:
        raise Invalid(f"at most {F.DATETIME_MAX_LENGTH} characters")
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise Invalid("must be a date, YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise Invalid("must be a date, YYYY-MM-DD") from None


_CHECKERS = {
    F.STRING: _string,
    F.URL: _url,
    F.EMAIL: _email,
    F.NUMBER: _number,
    F.INTEGER: _integer,
    F.BOOL: _bool,
    F.ENUM: _enum,
    F.REF: _ref,
    F.TAGS: _tags,
    F.LIST: _list,
    F.DATETIME: _datetime,
    F.DATE: _date,
}


def to_json(f: F.Field, value: Any) -> Any:
    """A stored value as the API shows it."""
    if value is None:
        return None
    if f.type == F.DATETIME:
        return format_datetime(value)
    if f.type == F.DATE:
        return value.isoformat()
    return value


def format_datetime(value: datetime) -> str:
    """A stored (naive UTC) date-time as the API shows it, always with four year
    digits: strftime's %Y drops the zeros of a year before 1000 ("94-10-07T..."),
    which is no date-time (found by bench/fuzz.py)."""
    return value.isoformat(timespec="microseconds") + "Z"
