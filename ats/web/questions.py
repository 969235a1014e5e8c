"""The screening and knockout question editor of the job form.

Each question is a row of inputs named ``<list>-<n>-<key>``; this module turns
the rows into the section-8 objects the job validation checks, and back. Rows
without a label are ignored, so a blank row at the end costs nothing.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, abort, render_template, request
from werkzeug.datastructures import MultiDict

from .. import fields as F
from .access import STAFF, roles

bp = Blueprint("questions", __name__, url_prefix="/jobs/questions")

LISTS = ("screening_questions", "knockout_questions")
_ROW = re.compile(r"^(screening_questions|knockout_questions)-(\d{1,3})-(\w+)$")


def _rows(form: MultiDict) -> dict[str, dict[int, dict[str, str]]]:
    rows: dict[str, dict[int, dict[str, str]]] = {name: {} for name in LISTS}
    for key in form:
        m = _ROW.match(key)
        if m:
            rows[m.group(1)].setdefault(int(m.group(2)), {})[m.group(3)] = form.get(key, "")
    return rows


def _reject_if(qtype: str, raw: str) -> Any:
    """Text typed in the "reject if" box, read by the question's type."""
    raw = raw.strip()
    if qtype == "yes_no":
        return {"yes": True, "no": False}.get(raw.lower(), raw or None)
    if qtype == "choice":
        picked = [c.strip() for c in raw.split(",") if c.strip()]
        return picked if len(picked) != 1 else picked[0]
    if qtype == "number":
        rule: dict[str, Any] = {}
        for part in raw.split(","):
            m = re.fullmatch(r"\s*([<>])\s*(-?\d+(?:\.\d+)?)\s*", part)
            if not m:
                return raw or None  # validation names the problem
            rule["lt" if m.group(1) == "<" else "gt"] = float(m.group(2))
        return rule
    return raw or None


def from_form(form: MultiDict) -> tuple[dict[str, list[dict]], dict[str, str]]:
    """The question lists as the API would receive them."""
    values: dict[str, list[dict]] = {}
    for name, rows in _rows(form).items():
        if not any(f"{name}-" in key for key in form):
            continue
        questions = []
        for n in sorted(rows):
            row = rows[n]
            label = row.get("label", "").strip()
            if not label:
                continue
            qtype = row.get("type", "text")
            q: dict[str, Any] = {
                "id": row.get("id", "").strip() or f"{name[0]}{n + 1}",
                "label": label,
                "type": qtype,
                "required": row.get("required") in ("y", "on", "true"),
            }
            if qtype == "choice":
                q["choices"] = [c.strip() for c in row.get("choices", "").split(",") if c.strip()]
            if name == "knockout_questions":
                q["reject_if"] = _reject_if(qtype, row.get("reject_if", ""))
            questions.append(q)
        values[name] = questions
    return values, {}


def from_form_for_display(form: MultiDict) -> dict[str, list[dict]]:
    """The rows as typed, to show the form again after an error."""
    values, _ = from_form(form)
    return {name: values.get(name, []) for name in LISTS}


def reject_text(q: dict[str, Any]) -> str:
    """A stored ``reject_if`` as the editor shows it."""
    rule = q.get("reject_if")
    if rule is None:
        return ""
    if isinstance(rule, bool):
        return "yes" if rule else "no"
    if isinstance(rule, list):
        return ", ".join(rule)
    if isinstance(rule, dict):
        parts = []
        if "lt" in rule:
            parts.append(f"< {rule['lt']:g}")
        if "gt" in rule:
            parts.append(f"> {rule['gt']:g}")
        return ", ".join(parts)
    return str(rule)


@bp.get("/row")
@roles(*STAFF)
def row() -> Any:
    """One blank question row, for the "Add question" button."""
    name = request.args.get("list", "")
    try:
        index = int(request.args.get("index", "0"))
    except ValueError:
        abort(400)
    if name not in LISTS or not 0 <= index < F.LIST_MAX_COUNT:
        abort(400)
    return render_template(
        "jobs/_question_row.html", list_name=name, index=index, q={}, types=F.QUESTION_TYPES
    )


def register(app: Any) -> None:
    app.jinja_env.globals["reject_text"] = reject_text
    app.jinja_env.globals["question_types"] = F.QUESTION_TYPES
