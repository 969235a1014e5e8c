"""Writers for objects and lists that stream: one page in memory at a time.

- ``table``: aligned columns for people; widths fixed from the first page.
- ``json``: a JSON array written item by item (one object for ``get``).
- ``ndjson``: one compact object per line, flushed per page.
- ``csv``: ``id``, every data field, ``created_at``, ``updated_at``; lists of
  plain strings as ``a,b``, other lists as JSON; ``atscli M upsert --csv``
  reads the same shape back.

CSV cells that a spreadsheet would run as a formula (text starting with
``=``, ``+``, ``-``, ``@``, a tab or a carriage return: CSV injection, see
OWASP) are written with a leading ``'``, which spreadsheets show as text and
drop when they save; negative numbers too, as OWASP advises (``-1+1`` is a
formula). ``unescape_cell`` undoes it, so an exported file imported again
gives back the same values: text that already started with quotes and then a
formula character gets one quote more, so the escape is reversible.
"""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any, TextIO

from .values import as_text

FORMATS = ("table", "json", "ndjson", "csv")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
ENVELOPE_TAIL = ("created_at", "updated_at")
MAX_CELL = 40


def flat(obj: dict[str, Any]) -> dict[str, Any]:
    """One row: the id, the data fields, then the envelope's timestamps."""
    row: dict[str, Any] = {"id": obj.get("id")}
    row.update(obj.get("data") or {})
    for key in ENVELOPE_TAIL:
        row.setdefault(key, obj.get(key))
    if obj.get("is_archived"):
        row["is_archived"] = True
    return row


def write_objects(
    items: Iterable[dict[str, Any]],
    fmt: str,
    out: TextIO,
    columns: list[str] | None = None,
) -> int:
    """Write every item in ``fmt``; the number written."""
    if fmt == "ndjson":
        count = 0
        for item in items:
            out.write(json.dumps(item, ensure_ascii=False) + "\n")
            count += 1
            if count % 100 == 0:
                out.flush()
        return count
    if fmt == "json":
        count = 0
        out.write("[")
        for item in items:
            out.write(("," if count else "") + "\n  " + json.dumps(item, ensure_ascii=False))
            count += 1
        out.write("\n]\n" if count else "]\n")
        return count
    if fmt == "csv":
        return _csv(items, out, columns)
    return _table(items, out, columns)


def escape_cell(text: str) -> str:
    """A CSV cell a spreadsheet shows as text: ``'`` before a formula character.

    Also before text that is quotes then a formula character, so that
    ``unescape_cell`` can tell an added quote from one that was there.
    """
    if text.lstrip("'").startswith(FORMULA_STARTS):
        return "'" + text
    return text


def unescape_cell(text: str) -> str:
    """What ``escape_cell`` was given (reading a file it wrote, or one typed by hand)."""
    if text.startswith("'") and text.lstrip("'").startswith(FORMULA_STARTS):
        return text[1:]
    return text


def _csv(items: Iterable[dict[str, Any]], out: TextIO, columns: list[str] | None) -> int:
    writer = None
    count = 0
    for item in items:
        row = flat(item)
        if writer is None:
            names = columns or [k for k in row if k != "is_archived"]
            writer = csv.DictWriter(out, fieldnames=names, extrasaction="ignore")
            writer.writeheader()
        writer.writerow({k: escape_cell(as_text(v)) for k, v in row.items()})
        count += 1
    return count


def _table(items: Iterable[dict[str, Any]], out: TextIO, columns: list[str] | None) -> int:
    stream: Iterator[dict[str, Any]] = (flat(item) for item in items)
    first = list(islice(stream, 50))  # widths from what is at hand, then stream
    if not first:
        out.write("(no objects)\n")
        return 0
    names = columns or _fitting_columns(first)
    widths = {n: min(MAX_CELL, max(len(n), *(len(_cell(r.get(n))) for r in first))) for n in names}
    out.write("  ".join(n.upper().ljust(widths[n]) for n in names).rstrip() + "\n")
    count = 0
    for row in _chain(first, stream):
        cells = [_clip(_cell(row.get(n)), widths[n]).ljust(widths[n]) for n in names]
        out.write("  ".join(cells).rstrip() + "\n")
        count += 1
    return count


def _chain(first: list[dict[str, Any]], rest: Iterator[dict[str, Any]]) -> Iterator[Any]:
    yield from first
    yield from rest


def _fitting_columns(rows: list[dict[str, Any]]) -> list[str]:
    """The id and as many non-empty fields, in schema order, as fit the terminal."""
    width = shutil.get_terminal_size((120, 24)).columns
    names = ["id"]
    used = max(len(_cell(r["id"])) for r in rows)
    for name in rows[0]:
        if name in names or name in ENVELOPE_TAIL:
            continue
        if not any(r.get(name) not in (None, "", []) for r in rows):
            continue
        size = min(MAX_CELL, max(len(name), *(len(_cell(r.get(name))) for r in rows)))
        if used + 2 + size > width:
            break
        names.append(name)
        used += 2 + size
    return names


def _cell(value: Any) -> str:
    return as_text(value).replace("\n", " ")


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def write_object(obj: dict[str, Any], fmt: str, out: TextIO) -> None:
    """One object: pretty JSON, one NDJSON line, a CSV row, or field: value lines."""
    if fmt == "json":
        out.write(json.dumps(obj, indent=2, ensure_ascii=False) + "\n")
    elif fmt in ("ndjson", "csv"):
        write_objects([obj], fmt, out)
    else:
        row = flat(obj)
        width = max(len(k) for k in row)
        for key, value in row.items():
            out.write(f"{key.ljust(width)}  {as_text(value)}\n")
