"""An independent check that ``ats/fields.py`` says what section 6 of the contract says.

The markdown field tables of ``shared/spec/xapi2.md`` are parsed here, without
help from the application, and every row is compared with the field definition
the code uses: names, types, max lengths, R/C/P flags, enum choices, defaults,
ranges, references, the ``Filters:``/``Sorts:`` lines, page caps and default
sorts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ats import fields as F

SPEC_PATH = Path(__file__).resolve().parents[2] / "shared/spec/xapi2.md"

if not SPEC_PATH.is_file():
    pytest.skip(
        f"the xapi2 contract is not at {SPEC_PATH} (clone the shared/ repository beside main/)",
        allow_module_level=True,
    )


# --- parsing the contract ------------------------------------------------------


@dataclass
class SpecRow:
    model: str
    name: str
    type: str
    constraints: str
    create: bool
    patch: bool
    line: int

    @property
    def tokens(self) -> list[str]:
        """The constraints cell split on commas and semicolons, stripped."""
        return [t.strip() for t in re.split(r"[,;]", self.constraints) if t.strip()]

    @property
    def required(self) -> bool:
        return "R" in self.tokens

    @property
    def max_length(self) -> int | None:
        m = re.search(r"\bmax (\d[\d,]*)", self.constraints)
        return int(m.group(1).replace(",", "")) if m else None

    @property
    def choices(self) -> list[str]:
        """For enum rows: the comma list before any ``;`` (``R`` is a flag, not a choice)."""
        head = self.constraints.split(";")[0]
        return [t.strip() for t in head.split(",") if t.strip() and t.strip() != "R"]

    @property
    def default(self) -> str | None:
        m = re.search(r"\bdefault (\w+)", self.constraints)
        return m.group(1) if m else None


@dataclass
class SpecModel:
    name: str
    heading: str
    rows: list[SpecRow] = field(default_factory=list)
    filters: list[str] | None = None
    sorts: list[str] | None = None

    @property
    def max_page(self) -> int | None:
        m = re.search(r"max page (\d+)", self.heading)
        return int(m.group(1)) if m else None

    @property
    def default_sort(self) -> str | None:
        m = re.search(r"default sort `(\w+)`", self.heading)
        return m.group(1) if m else None


def _key_list(text: str) -> list[str]:
    """``title, status (+ system keys).`` -> ``["title", "status"]``."""
    text = re.sub(r"\([^)]*\)", " ", text)  # "(+ system keys)", "(matches ...)"
    text = " ".join(text.split()).strip().rstrip(".").strip()
    if text == "system keys only" or not text:
        return []
    return [k.strip() for k in text.split(",") if k.strip()]


def parse_spec(text: str) -> dict[str, SpecModel]:
    start = text.index("## 6. Per-model fields")
    end = text.find("\n## ", start + 1)
    lines = text[start : end if end != -1 else len(text)].splitlines()
    first_line = text[:start].count("\n") + 1
    models: dict[str, SpecModel] = {}
    current: SpecModel | None = None
    body: list[str] = []

    def finish() -> None:
        if current is None:
            return
        section = "\n".join(body)
        m = re.search(r"Filters:(.*?)(?=Sorts:|\n\s*\n|\Z)", section, re.S)
        current.filters = _key_list(m.group(1)) if m else None
        m = re.search(r"Sorts:(.*?)(?=\n\s*\n|\Z)", section, re.S)
        current.sorts = _key_list(m.group(1)) if m else None

    for offset, line in enumerate(lines):
        heading = re.match(r"### (\w+)\s*(.*)$", line)
        if heading:
            finish()
            current = SpecModel(heading.group(1), heading.group(2))
            models[current.name] = current
            body = []
            continue
        if current is None:
            continue
        body.append(line)
        if not line.startswith("|"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells[0] == "field" or set(line.replace("|", "").strip()) <= {"-", " "}:
            continue  # header and separator rows
        assert len(cells) == 5, f"{current.name}: table row with {len(cells)} cells: {line!r}"
        names, ftype, constraints, c_flag, p_flag = cells
        assert c_flag in ("", "C") and p_flag in ("", "P"), f"{current.name}: bad flags {line!r}"
        for name in (n.strip() for n in names.split(",")):
            current.rows.append(
                SpecRow(
                    model=current.name,
                    name=name,
                    type=ftype,
                    constraints=constraints,
                    create=c_flag == "C",
                    patch=p_flag == "P",
                    line=first_line + offset,
                )
            )
    finish()
    return models


SPEC = parse_spec(SPEC_PATH.read_text(encoding="utf-8"))
ROWS = [row for m in SPEC.values() for row in m.rows]


def _row_id(row: SpecRow) -> str:
    return f"{row.model}.{row.name}"


def _field(row: SpecRow) -> F.Field:
    mdef = F.MODELS.get(row.model)
    assert mdef is not None, (
        f"spec model {row.model!r} (line {row.line}) is not in ats.fields.MODELS"
    )
    f = mdef.by_name.get(row.name)
    assert f is not None, (
        f"{row.model}.{row.name} (spec line {row.line}) is missing from ats.fields.{row.model}"
    )
    return f


# --- the parser itself reads what the contract holds -----------------------------------


def test_parser_sees_all_tables():
    assert set(SPEC) == {
        "job",
        "application",
        "interview",
        "application_note",
        "company_profile",
        "candidate",
        "source",
    }
    counts = {name: len(m.rows) for name, m in SPEC.items()}
    # salary_min, salary_max is one row naming two fields
    assert counts == {
        "job": 34,
        "application": 20,
        "interview": 15,
        "application_note": 5,
        "company_profile": 17,
        "candidate": 7,
        "source": 2,
    }
    assert SPEC["job"].filters and SPEC["job"].sorts
    assert SPEC["company_profile"].filters == []


# --- models ---------------------------------------------------------------------------


def test_same_models():
    assert set(F.MODELS) == set(SPEC), (
        f"models only in code: {sorted(set(F.MODELS) - set(SPEC))}; "
        f"only in spec: {sorted(set(SPEC) - set(F.MODELS))}"
    )


@pytest.mark.parametrize("model", sorted(SPEC))
def test_same_field_set(model):
    spec_names = {r.name for r in SPEC[model].rows}
    code_names = {f.name for f in F.MODELS[model].fields}
    assert code_names == spec_names, (
        f"{model}: fields only in code: {sorted(code_names - spec_names)}; "
        f"only in spec: {sorted(spec_names - code_names)}"
    )
    assert len(F.MODELS[model].fields) == len(code_names), f"{model}: a field is defined twice"


@pytest.mark.parametrize("model", sorted(SPEC))
def test_page_cap_and_default_sort(model):
    spec, mdef = SPEC[model], F.MODELS[model]
    assert spec.max_page is not None, f"{model}: no 'max page N' in heading {spec.heading!r}"
    assert mdef.max_page == spec.max_page, (
        f"{model}: max page is {mdef.max_page} in code, {spec.max_page} in the spec"
    )
    if spec.default_sort is not None:
        assert mdef.default_sort == spec.default_sort, (
            f"{model}: default sort is {mdef.default_sort!r} in code, "
            f"{spec.default_sort!r} in the spec"
        )
    # whatever the default, it must be a sort the model offers
    assert mdef.default_sort in set(mdef.sorts) | set(F.ENVELOPE_SORTS), (
        f"{model}: default sort {mdef.default_sort!r} is not one of its sorts"
    )
    if "exactly one row" in spec.heading:
        assert mdef.singleton, f"{model}: the spec says exactly one row; code is not a singleton"
    else:
        assert not mdef.singleton, f"{model}: a singleton in code, not in the spec"


@pytest.mark.parametrize("model", sorted(SPEC))
def test_filters(model):
    spec_filters = SPEC[model].filters
    assert spec_filters is not None, f"{model}: no 'Filters:' line in the spec section"
    code = set(F.MODELS[model].filters)
    assert code == set(spec_filters), (
        f"{model}: filters only in code: {sorted(code - set(spec_filters))}; "
        f"only in spec: {sorted(set(spec_filters) - code)}"
    )


@pytest.mark.parametrize("model", sorted(SPEC))
def test_sorts(model):
    spec_sorts = SPEC[model].sorts
    assert spec_sorts is not None, f"{model}: no 'Sorts:' line in the spec section"
    code = set(F.MODELS[model].sorts)
    assert code == set(spec_sorts), (
        f"{model}: sorts only in code: {sorted(code - set(spec_sorts))}; "
        f"only in spec: {sorted(set(spec_sorts) - code)}"
    )


@pytest.mark.parametrize("model", sorted(SPEC))
def test_filter_and_sort_keys_are_fields_or_envelope(model):
    mdef = F.MODELS[model]
    for key in mdef.filters:
        assert key in mdef.by_name, f"{model}: filter {key!r} is not a field"
    for key in mdef.sorts:
        assert key in mdef.by_name or key in F.ENVELOPE_SORTS, (
            f"{model}: sort {key!r} is neither a field nor an envelope timestamp"
        )


# --- rows -----------------------------------------------------------------------------


@pytest.mark.parametrize("row", ROWS, ids=_row_id)
def test_flags(row):
    f = _field(row)
    where = f"{row.model}.{row.name} (spec line {row.line})"
    assert f.create == row.create, f"{where}: C is {row.create} in the spec, create={f.create}"
    assert f.patch == row.patch, f"{where}: P is {row.patch} in the spec, patch={f.patch}"
    assert f.required == row.required, (
        f"{where}: R is {row.required} in the spec, required={f.required}"
    )
    if not row.create and not row.patch:
        assert f.server_managed and not f.create and not f.patch, (
            f"{where}: server-managed in the spec (blank C and P) but create={f.create}, "
            f"patch={f.patch}"
        )
        assert not f.required, f"{where}: server-managed fields cannot be required"


@pytest.mark.parametrize("row", ROWS, ids=_row_id)
def test_max_length(row):
    f = _field(row)
    where = f"{row.model}.{row.name} (spec line {row.line})"
    if row.max_length is not None:
        assert f.max_length == row.max_length, (
            f"{where}: max {row.max_length} in the spec, max_length={f.max_length} in code"
        )
    elif row.type in ("string", "url"):
        pytest.fail(f"{where}: a {row.type} row without 'max N' in the spec")
    else:
        # tags, lists, numbers, enums, bools have no length of their own
        assert f.max_length is None, f"{where}: no max in the spec, max_length={f.max_length}"


def _expected_types(row: SpecRow) -> set[str]:
    c = row.constraints
    if row.type == "string":
        if "ref ->" in c:
            return {F.REF}
        if "date-time" in c or row.name.endswith("_at"):
            # section 4 lists scheduled_at, applied_at, opened_at, ... as date-time strings
            return {F.DATETIME}
        if re.search(r"\ba date\b", c):
            return {F.DATE}
        if "valid address" in c or row.name == "email":
            return {F.STRING, F.EMAIL}
        return {F.STRING}
    return {
        "url": {F.URL},
        "number": {F.INTEGER} if "integer" in c else {F.NUMBER, F.INTEGER},
        "bool": {F.BOOL},
        "enum": {F.ENUM},
        "tags": {F.TAGS},
        "list": {F.LIST},
    }[row.type]


@pytest.mark.parametrize("row", ROWS, ids=_row_id)
def test_type(row):
    f = _field(row)
    where = f"{row.model}.{row.name} (spec line {row.line})"
    assert row.type in ("string", "url", "number", "bool", "enum", "tags", "list"), (
        f"{where}: unknown spec type {row.type!r}"
    )
    expected = _expected_types(row)
    assert f.type in expected, (
        f"{where}: spec type {row.type!r} ({row.constraints!r}) should be one of "
        f"{sorted(expected)}, code has {f.type!r}"
    )
    m = re.search(r"ref -> (\w+)", row.constraints)
    if m:
        assert f.ref == m.group(1), f"{where}: ref -> {m.group(1)} in the spec, ref={f.ref!r}"
        assert m.group(1) in F.MODELS, f"{where}: ref target {m.group(1)!r} is no model"
    else:
        assert f.ref is None, f"{where}: no 'ref ->' in the spec, ref={f.ref!r} in code"


@pytest.mark.parametrize("row", [r for r in ROWS if r.type == "enum"], ids=_row_id)
def test_enum_choices(row):
    f = _field(row)
    where = f"{row.model}.{row.name} (spec line {row.line})"
    assert row.choices, f"{where}: an enum row without choices"
    assert list(f.choices) == row.choices, (
        f"{where}: choices {row.choices} in the spec, {list(f.choices)} in code"
    )


@pytest.mark.parametrize("row", [r for r in ROWS if r.type != "enum"], ids=_row_id)
def test_no_choices_outside_enums(row):
    f = _field(row)
    assert f.choices == (), f"{row.model}.{row.name}: choices on a {row.type} field"


@pytest.mark.parametrize("row", [r for r in ROWS if r.type in ("enum", "bool")], ids=_row_id)
def test_defaults(row):
    f = _field(row)
    where = f"{row.model}.{row.name} (spec line {row.line})"
    if row.default is None:
        if row.type == "enum":
            assert f.default is None, f"{where}: no default in the spec, default={f.default!r}"
        else:  # bools are never null (docs/api.md): an unset bool is false
            assert f.default is False, f"{where}: bool default should be false, is {f.default!r}"
        return
    expected = {"true": True, "false": False}.get(row.default, row.default)
    assert f.default == expected, f"{where}: default {expected!r} in the spec, {f.default!r}"
    if row.type == "enum":
        assert f.default in f.choices, f"{where}: default {f.default!r} is not a choice"


@pytest.mark.parametrize("row", [r for r in ROWS if r.type == "number"], ids=_row_id)
def test_number_ranges(row):
    f = _field(row)
    where = f"{row.model}.{row.name} (spec line {row.line})"
    c = row.constraints
    lo = hi = None
    if m := re.search(r">= (\d+)", c):
        lo = float(m.group(1))
    if m := re.search(r"\b(\d+)-(\d+)\b", c):
        lo, hi = float(m.group(1)), float(m.group(2))
    assert f.minimum == lo, f"{where}: minimum {lo} per the spec ({c!r}), code has {f.minimum}"
    assert f.maximum == hi, f"{where}: maximum {hi} per the spec ({c!r}), code has {f.maximum}"


@pytest.mark.parametrize("row", ROWS, ids=_row_id)
def test_uniqueness(row):
    f = _field(row)
    where = f"{row.model}.{row.name} (spec line {row.line})"
    if "unique (case-insensitive)" in row.constraints:
        assert f.unique_ci, f"{where}: unique case-insensitively in the spec"
    elif "unique" in row.tokens:
        assert f.unique, f"{where}: unique in the spec, unique={f.unique}"
    else:
        assert not (f.unique or f.unique_ci), f"{where}: unique in code, not in the spec"


@pytest.mark.parametrize("row", [r for r in ROWS if r.type == "list"], ids=_row_id)
def test_list_items(row):
    f = _field(row)
    where = f"{row.model}.{row.name} (spec line {row.line})"
    if "user ids" in row.constraints:
        assert f.item == F.ITEM_USER, f"{where}: a list of user ids, item={f.item!r}"
    elif "section 8" in row.constraints:
        expected = (
            F.ITEM_ANSWER
            if row.name == "answers"
            else F.ITEM_KNOCKOUT
            if row.name.startswith("knockout")
            else F.ITEM_QUESTION
        )
        assert f.item == expected, f"{where}: section 8 items should be {expected!r}: {f.item!r}"
    else:
        pytest.fail(f"{where}: the spec does not say what the list holds: {row.constraints!r}")


def test_slug_pattern_is_the_spec_character_class():
    f = F.JOB["slug"]
    assert f.pattern is not None, "job.slug: the spec restricts it to [a-z0-9-]"
    for good in ("senor-dev", "a", "dev-2", "0-9"):
        assert re.fullmatch(f.pattern, good), f"job.slug pattern rejects {good!r}"
    for bad in ("Senor", "a_b", "a b", "ñ", "a.b", ""):
        assert not re.fullmatch(f.pattern, bad), f"job.slug pattern accepts {bad!r}"


@pytest.mark.parametrize("row", ROWS, ids=_row_id)
def test_no_required_without_create(row):
    f = _field(row)
    if f.required:
        assert f.create, f"{row.model}.{row.name}: required but not read from POST"
