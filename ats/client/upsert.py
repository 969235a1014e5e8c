"""Create-or-update import: each row updates the object whose unique field
equals the row's value, or creates one.

Existing objects are looked up in batches (the unique field repeated as a
filter, as many values as one URL and one page hold), never one request per
row. Rows whose value already appears in the running batch wait for the next
one, so a file that names the same object twice applies both rows in order.
Writes of a batch go out on ``workers`` threads over keep-alive connections;
each row stands alone: a bad row is reported and written to the reject file,
the others go on.
"""

from __future__ import annotations

import csv
import json
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TextIO
from urllib.parse import quote_plus

import click

from .http import ApiFailure, Client
from .output import escape_cell, unescape_cell
from .values import BadValue, as_text, key_of, parse, same

# server-managed columns that an exported file carries: read past, not an error
ENVELOPE = ("id", "object", "status", "is_archived", "owned_by", "created_by")
ENVELOPE += ("created_at", "updated_at")
REJECT_COLUMNS = ("_row", "_error")  # what a reject file adds; fed back, ignored
MAX_QUERY_BYTES = 3000  # gunicorn refuses request lines over 4094 bytes


@dataclass
class Row:
    number: int  # 1-based data row (CSV: not counting the header)
    raw: dict[str, Any]  # as read, for the reject file
    body: dict[str, Any] = field(default_factory=dict)
    key: str = ""
    error: str | None = None


@dataclass
class Summary:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejects: list[Row] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failed(self) -> int:
        return len(self.rejects)

    @property
    def total(self) -> int:
        return self.created + self.updated + self.unchanged + self.failed


class Columns:
    """What each input column means, decided once from the model's schema."""

    def __init__(self, schema: dict[str, Any]) -> None:
        self.fields = {f["name"]: f for f in schema["fields"]}
        self.writable = {n for n, f in self.fields.items() if f["create"] or f["patch"]}

    def check_header(self, header: list[str]) -> list[str]:
        """The columns read past (server-managed); unknown ones stop the import."""
        seen: set[str] = set()
        unknown, ignored = [], []
        for name in header:
            if name in seen:
                raise click.UsageError(f"the column {name!r} appears twice in the header")
            seen.add(name)
            if name in self.writable:
                continue
            if name in self.fields or name in ENVELOPE or name in REJECT_COLUMNS:
                ignored.append(name)
            else:
                unknown.append(name or "(empty)")
        if unknown:
            raise click.UsageError(
                f"unknown column(s) {', '.join(unknown)}; the writable fields are: "
                + ", ".join(sorted(self.writable))
            )
        return ignored

    def from_cells(self, row: Row) -> None:
        """CSV cells are text; an empty cell leaves the field alone."""
        if None in row.raw:  # DictReader puts surplus cells under None
            row.error = "more cells than the header has columns"
            return
        problems = []
        for name, text in row.raw.items():
            if name not in self.writable or text is None or text == "":
                continue
            try:
                row.body[name] = parse(self.fields[name], unescape_cell(text))
            except BadValue as exc:
                problems.append(f"{name}: {exc}")
        if problems:
            row.error = "; ".join(problems)

    def from_object(self, row: Row) -> None:
        """NDJSON lines hold typed values, or whole objects as `list` prints them."""
        data = row.raw
        if isinstance(data.get("data"), dict) and "object" in data:
            data = data["data"]
        unknown = [k for k in data if k not in self.fields and k not in ENVELOPE + REJECT_COLUMNS]
        if unknown:
            row.error = "unknown field(s): " + ", ".join(unknown)
            return
        row.body = {k: v for k, v in data.items() if k in self.writable}


def read_csv(fh: TextIO, columns: Columns) -> tuple[list[str], list[str], Iterator[Row]]:
    """(header, ignored columns, rows) of a CSV file with a header line."""
    try:  # csv needs newline="": a CR inside a quoted cell is data, not a line end
        fh.reconfigure(newline="")
    except (AttributeError, ValueError, OSError):
        pass  # not a text file of ours (or read already): as it is
    reader = csv.DictReader(fh)
    header = list(reader.fieldnames or [])
    if not header:
        raise click.UsageError("the CSV file is empty: it needs a header line of field names")
    ignored = columns.check_header(header)

    def rows() -> Iterator[Row]:
        for number, raw in enumerate(reader, start=1):
            row = Row(number, raw)
            columns.from_cells(row)
            yield row

    return header, ignored, rows()


def read_ndjson(fh: TextIO, columns: Columns) -> Iterator[Row]:
    for number, line in enumerate(fh, start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except ValueError as exc:
            yield Row(number, {"_line": line.rstrip("\n")}, error=f"not valid JSON: {exc}")
            continue
        if not isinstance(raw, dict):
            yield Row(number, {"_line": line.rstrip("\n")}, error="not a JSON object")
            continue
        row = Row(number, raw)
        columns.from_object(row)
        yield row


class Upsert:
    def __init__(
        self,
        client: Client,
        schema: dict[str, Any],
        unique: str,
        workers: int = 4,
        dry_run: bool = False,
    ) -> None:
        self.client = client
        self.model = schema["model"]
        self.page = int(schema["max_page"])
        self.columns = Columns(schema)
        self.workers = max(1, workers)
        self.dry_run = dry_run
        self.unique = unique
        if unique not in schema["filters"]:
            raise click.UsageError(
                f"--unique {unique}: not a filter key of {self.model}; "
                f"use one of: {', '.join(schema['filters'])}"
            )
        self.key_field = self.columns.fields.get(unique)
        if self.key_field is None or not self.key_field["create"]:
            raise click.UsageError(f"--unique {unique}: not a field a new {self.model} can set")
        if self.key_field["type"] in ("tags", "list"):
            raise click.UsageError(f"--unique {unique}: a list cannot identify one object")

    def run(self, rows: Iterable[Row], progress: Callable[[int], None]) -> Summary:
        summary = Summary()
        started = time.monotonic()
        waiting: deque[Row] = deque()  # rows whose key was taken in the running batch
        source = iter(rows)
        with ThreadPoolExecutor(self.workers) as pool:
            while True:
                batch = self._next_batch(source, waiting, summary, progress)
                if not batch:
                    break
                matches = self._lookup(batch)
                jobs = []
                for row in batch:
                    plan = self._plan(row, matches.get(row.key, []))
                    if plan is None:
                        summary.unchanged += 1
                        progress(1)
                    elif row.error:
                        summary.rejects.append(row)
                        progress(1)
                    elif self.dry_run:
                        summary.created += plan[0] is None
                        summary.updated += plan[0] is not None
                        progress(1)
                    else:
                        jobs.append((row, plan, pool.submit(self._write, *plan)))
                for row, (obj_id, _body), future in jobs:
                    try:
                        future.result()
                    except ApiFailure as exc:
                        row.error = exc.one_line()
                        summary.rejects.append(row)
                    else:
                        if obj_id is None:
                            summary.created += 1
                        else:
                            summary.updated += 1
                    progress(1)
        summary.seconds = time.monotonic() - started
        summary.rejects.sort(key=lambda r: r.number)
        return summary

    def _next_batch(
        self,
        source: Iterator[Row],
        waiting: deque[Row],
        summary: Summary,
        progress: Callable[[int], None],
    ) -> list[Row]:
        """Rows with distinct keys, as many as one lookup request can carry."""
        batch: list[Row] = []
        keys: set[str] = set()
        size = 0
        later: deque[Row] = deque()
        while len(batch) < self.page and size < MAX_QUERY_BYTES:
            row = waiting.popleft() if waiting else next(source, None)
            if row is None:
                break
            if row.error is None and not row.key:
                value = row.body.get(self.unique)
                if value is None:
                    row.error = f"no value for the --unique field {self.unique}"
                else:
                    row.key = key_of(self.key_field, value)
            if row.error:
                summary.rejects.append(row)
                progress(1)
                continue
            if row.key in keys:
                later.append(row)  # same object twice: apply in order, next batch
                continue
            keys.add(row.key)
            batch.append(row)
            size += len(self.unique) + 2 + len(quote_plus(as_text(row.body[self.unique])))
        waiting.extendleft(reversed(later))
        return batch

    def _lookup(self, batch: list[Row]) -> dict[str, list[dict[str, Any]]]:
        """Existing objects by key, archived ones included, in as few requests as pages."""
        params = [(self.unique, as_text(row.body[self.unique])) for row in batch]
        params += [("is_archived", "true"), ("is_archived", "false")]
        found: dict[str, list[dict[str, Any]]] = {}
        for obj in self.client.walk(self.model, params, self.page, None):
            value = (obj.get("data") or {}).get(self.unique)
            found.setdefault(key_of(self.key_field, value), []).append(obj)
        return found

    def _plan(
        self, row: Row, matches: list[dict[str, Any]]
    ) -> tuple[str | None, dict[str, Any]] | None:
        """(id, changes) to update, (None, body) to create, None when nothing would
        change; on a problem ``row.error`` is set."""
        if len(matches) > 1:
            ids = ", ".join(m["id"] for m in matches[:5])
            row.error = (
                f"{self.unique} {as_text(row.body[self.unique])!r} matches {len(matches)} "
                f"objects ({ids}); it must identify one"
            )
            return "", {}
        if not matches:
            return None, row.body
        existing = matches[0]
        data = existing.get("data") or {}
        changes = {}
        frozen = []
        for name, value in row.body.items():
            spec = self.columns.fields[name]
            if same(spec, value, data.get(name)):
                continue
            if spec["patch"]:
                changes[name] = value
            else:
                frozen.append(name)
        if frozen:
            row.error = f"{', '.join(frozen)} cannot change after creation ({existing['id']})"
            return existing["id"], {}
        if not changes:
            return None
        return existing["id"], changes

    def _write(self, obj_id: str | None, body: dict[str, Any]) -> dict[str, Any]:
        if obj_id is None:
            return self.client.create(self.model, body)
        return self.client.update(self.model, obj_id, body)


def write_rejects(path: str, rejects: list[Row], header: list[str] | None, fmt: str) -> None:
    """Failed rows as they were read, with their row number and reason."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        if fmt == "csv":
            names = [h for h in header or [] if h not in REJECT_COLUMNS] + list(REJECT_COLUMNS)
            writer = csv.DictWriter(fh, fieldnames=names, extrasaction="ignore")
            writer.writeheader()
            for row in rejects:
                # as read, but never a live formula (an escaped cell stays escaped)
                cells = {k: escape_cell(unescape_cell(v)) if isinstance(v, str) else v
                         for k, v in row.raw.items()}  # fmt: skip
                writer.writerow({**cells, "_row": row.number, "_error": row.error})
        else:
            for row in rejects:
                record = {**row.raw, "_row": row.number, "_error": row.error}
                fh.write(json.dumps(record, ensure_ascii=False) + "\n")
