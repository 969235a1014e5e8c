"""HTML forms derived from the field tables.

A form only renders inputs and turns what the browser sent into the values the
API would receive (numbers, booleans, lists, UTC date-times); the checking is
done by the same services and rules that serve xapi2, and their
``{field: message}`` errors are shown next to the inputs. So a page and the
API accept and refuse exactly the same things, with the same words.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    URLField,
)

from .. import fields as F
from ..errors import BadRequest, Conflict, ValidationFailed
from ..validation import clean, format_datetime

T = TypeVar("T")

TEXTAREA_FROM = 600  # longer strings get a text area


def user_zone() -> ZoneInfo:
    """The recruiter's own time zone (Settings), UTC until chosen."""
    name = getattr(current_user, "timezone", None) or "UTC"
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def options(pairs: list[tuple[str, str]]) -> list[SelectChoice]:
    """``(value, label)`` pairs as WTForms choices."""
    return [SelectChoice(value, label) for value, label in pairs]


def _wtf_field(f: F.Field, choices: dict[str, list[tuple[str, str]]] | None = None) -> Any:
    label = f.title
    kw: dict[str, Any] = {"render_kw": {}, "description": f.description}
    if f.max_length and f.type not in (F.TAGS, F.LIST):
        kw["render_kw"]["maxlength"] = f.max_length
    if f.required:
        kw["render_kw"]["required"] = True
    if f.pattern and f.type == F.STRING:
        kw["render_kw"]["pattern"] = f.pattern
    if f.type == F.BOOL:
        return BooleanField(label, **kw)
    if f.type == F.ENUM:
        opts = [(c, F.humanize(c)) for c in f.choices]
        if f.nullable:
            opts = [("", "—"), *opts]
        return SelectField(label, choices=options(opts), **kw)
    if choices and f.name in choices:
        if f.type == F.LIST:
            return SelectMultipleField(label, choices=options(choices[f.name]), **kw)
        return SelectField(label, choices=options([("", "—"), *choices[f.name]]), **kw)
    if f.type in (F.NUMBER, F.INTEGER):
        kw["render_kw"].update(
            type="number", step="1" if f.type == F.INTEGER else "any", inputmode="decimal"
        )
        for bound in ("min", "max"):
            value = getattr(f, "minimum" if bound == "min" else "maximum")
            if value is not None:
                kw["render_kw"][bound] = f"{value:g}"
        return StringField(label, **kw)
    if f.type == F.URL:
        return URLField(label, **kw)
    if f.type == F.EMAIL:
        return EmailField(label, **kw)
    if f.type == F.DATETIME:
        kw["render_kw"]["type"] = "datetime-local"
        return StringField(label, **kw)
    if f.type == F.DATE:
        kw["render_kw"]["type"] = "date"
        return StringField(label, **kw)
    if f.type == F.TAGS:
        kw["description"] = "Comma-separated"
        return StringField(label, **kw)
    if f.type == F.STRING and (f.max_length or 0) > TEXTAREA_FROM:
        return TextAreaField(label, **kw)
    return StringField(label, **kw)


def model_form(
    mdef: F.ModelDef,
    names: list[str],
    obj: Any = None,
    choices: dict[str, list[tuple[str, str]]] | None = None,
    **kwargs: Any,
) -> FlaskForm:
    """A form with one input per named field, filled from ``obj`` on GET."""
    attrs = {name: _wtf_field(mdef[name], choices) for name in names}
    form_cls = type(f"{mdef.name.title()}Form", (FlaskForm,), attrs)
    data = {name: to_input(mdef[name], getattr(obj, name)) for name in names} if obj else None
    return form_cls(data=data, **kwargs)


def to_input(f: F.Field, value: Any) -> Any:
    """A stored value as the input shows it."""
    if value is None:
        return None
    if f.type == F.TAGS:
        return ", ".join(value)
    if f.type == F.DATETIME:
        local = value.replace(tzinfo=ZoneInfo("UTC")).astimezone(user_zone())
        return local.strftime("%Y-%m-%dT%H:%M")
    if f.type == F.DATE:
        return value.isoformat()
    if f.type in (F.NUMBER, F.INTEGER):
        return f"{value:g}"
    return value


def form_values(
    mdef: F.ModelDef, form: FlaskForm, names: list[str], mode: str = "create"
) -> tuple[dict[str, Any], dict[str, str]]:
    """What the browser sent, as API values, and every error the field rules find.

    Errors come from parsing (a number that is not one) and from the same
    checks the API runs (``validation.clean``), so the form lists them all at
    once; rules that need the database follow when the service saves.
    """
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name in names:
        f = mdef[name]
        raw = form[name].data
        try:
            values[name] = _from_input(f, raw)
        except ValueError as exc:
            errors[name] = str(exc)
    _, rule_errors = clean(mdef, values, mode)
    # fields the form does not show (e.g. an id from the URL) are the view's business
    rule_errors = {k: v for k, v in rule_errors.items() if k in names}
    return values, {**rule_errors, **errors}


def _from_input(f: F.Field, raw: Any) -> Any:
    if f.type == F.BOOL:
        return bool(raw)
    if f.type == F.LIST and f.item in (F.ITEM_USER, F.ITEM_STRING):
        return list(raw or [])
    if isinstance(raw, str):
        raw = raw.strip()
    if raw in (None, ""):
        return None
    if f.type in (F.NUMBER, F.INTEGER):
        try:
            number = float(raw)
        except ValueError:
            raise ValueError("must be a number") from None
        return int(number) if f.type == F.INTEGER and number.is_integer() else number
    if f.type == F.TAGS:
        return list(dict.fromkeys(t.strip() for t in raw.split(",") if t.strip()))
    if f.type == F.DATETIME:
        try:
            local = datetime.fromisoformat(raw)
        except ValueError:
            raise ValueError("must be a date and time") from None
        if local.tzinfo is None:
            local = local.replace(tzinfo=user_zone())
        return format_datetime(local.astimezone(ZoneInfo("UTC")).replace(tzinfo=None))
    return raw


def show_errors(form: FlaskForm, errors: dict[str, str]) -> None:
    """Put ``{field: message}`` errors (from the services) next to the inputs."""
    for name, message in errors.items():
        if name in form:
            form[name].errors = [*form[name].errors, message]
        else:
            form.form_errors.append(f"{F.humanize(name)}: {message}")


def save(form: FlaskForm, errors: dict[str, str], write: Callable[[], T]) -> T | None:
    """``write()`` unless the form has errors already; a refusal goes onto the form.

    Returns what ``write`` returned, or None when the input was refused (400 or
    409): then the messages sit next to their fields (or above the form when
    no field is named) and the view shows the form again. Anything else a
    service raises (404, ...) is the app's error handlers' business.
    """
    try:
        if errors:
            raise ValidationFailed(errors)
        return write()
    except (ValidationFailed, BadRequest, Conflict) as exc:
        if exc.fields:
            show_errors(form, exc.fields)
        else:
            form.form_errors.append(exc.message)
        return None
