"""CSV formula injection (issue 8): cells a spreadsheet would run are data.

A CSV import through ``atscli M upsert --csv`` stores ``=cmd|' /C calc'!A0``,
``+1``, ``-1+1``, ``@SUM(1)`` and tab- or CR-led cells exactly as given; the
CSV export (``atscli M list -o csv``) writes them with a leading ``'`` (OWASP's
advice), so a spreadsheet shows text; and that export imported again changes
nothing. The reject file escapes too. The server writes no CSV of its own.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from ats import create_app
from ats.client.main import cli
from ats.client.output import FORMULA_STARTS, escape_cell, unescape_cell, write_objects
from ats.extensions import db
from ats.services import auth
from tests.conftest import PASSWORD
from tests.live import LiveServer

FORMULAS = [
    "=cmd|' /C calc'!A0",
    '=HYPERLINK("https://evil.example","x")',
    "+1",
    "-1+1",
    "@SUM(1)",
    "\t=1+1",
    "\r=1+1",
    "'=already quoted",
]


@pytest.mark.parametrize(
    ("stored", "written"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-1+1", "'-1+1"),
        ("@SUM(1)", "'@SUM(1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("'=1", "''=1"),  # a quote that was there stays, one is added
        ("-1", "'-1"),  # numbers too: "-1+1" is one character away
        ("'-1", "''-1"),
        ("Ada", "Ada"),
        ("'quoted'", "'quoted'"),
        ("", ""),
        ("a=b", "a=b"),
    ],
)
def test_escape_cell(stored, written):
    assert escape_cell(stored) == written
    assert unescape_cell(written) == stored


@given(st.text(alphabet=st.sampled_from(["'", "=", "+", "-", "@", "\t", "\r", "1", "a", " "])))
def test_escaping_is_reversible_and_leaves_no_formula(text):
    out = escape_cell(text)
    assert unescape_cell(out) == text
    assert not out.startswith(FORMULA_STARTS)


def test_the_csv_writer_escapes_every_cell():
    items = [{"id": "cand_1", "data": {"name": f, "tags": [f, "b"]}} for f in FORMULAS]
    out = io.StringIO()
    write_objects(items, "csv", out)
    rows = list(csv.DictReader(io.StringIO(out.getvalue(), newline="")))
    for row, formula in zip(rows, FORMULAS, strict=True):
        assert unescape_cell(row["name"]) == formula
        for cell in row.values():
            assert not cell.startswith(FORMULA_STARTS), cell


# --- through atscli and a real server -------------------------------------------------


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory):
    server = LiveServer(tmp_path_factory.mktemp("csv"), workers=1).start()
    # the admin and their token made here, not by two more `flask` processes (seconds each)
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": server.env["ATS_DATABASE_URL"],
            "SECRET_KEY": server.env["ATS_SECRET_KEY"],
            "DATA_DIR": server.env["ATS_DATA_DIR"],
        }
    )
    with app.app_context():
        user = auth.create_user("csv@example.com", PASSWORD, "CSV", "admin")
        server.token = auth.create_token(user, ["*"])[1]
        db.engine.dispose()
    yield server
    log = server.stop()
    assert "Traceback" not in log, log[-4000:]


def _run(live: LiveServer, tmp_path: Path, *args: str, code: int = 0) -> str:
    env = {
        "ATSCLI_CONFIG": str(tmp_path / "atscli.ini"),
        "ATS_URL": live.base,
        "ATS_TOKEN": live.token,
        "ATSCLI_PROFILE": "",
    }
    result = CliRunner(env=env).invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result.stdout


def test_formulas_are_stored_as_given_exported_escaped_and_imported_back(live, tmp_path):
    path = tmp_path / "people.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["email", "name", "phone", "location"])
        for n, formula in enumerate(FORMULAS):
            writer.writerow([f"f{n}@example.com", formula, formula[:64], formula])
        writer.writerow(["not an address", "=bad()", "", ""])  # refused: into the reject file
    out = _run(
        live, tmp_path, "candidate", "upsert", "--unique", "email", "--csv", str(path), code=1
    )
    assert "created    8" in out and "failed     1" in out

    # stored as given: they are data (the escape was the file's, and "'=..." is a value)
    for n, formula in enumerate(FORMULAS):
        found = live.api(live.token, "GET", f"/data/candidate?email=f{n}@example.com")
        data = found["items"][0]["data"]
        expected = formula[1:] if formula.startswith("'=") else formula  # a quoted cell: its text
        assert (data["name"], data["location"]) == (expected, expected)

    # exported: no cell starts like a formula
    exported = tmp_path / "export.csv"
    text = _run(live, tmp_path, "candidate", "list", "--all", "--sort", "created_at", "-o", "csv")
    exported.write_text(text, encoding="utf-8", newline="")
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert len(rows) == 8
    for row in rows:
        for name, cell in row.items():
            assert not cell.startswith(FORMULA_STARTS), (name, cell)
    names = {r["name"] for r in rows}
    assert names >= {"'=cmd|' /C calc'!A0", "'+1", "'-1+1", "'@SUM(1)", "'\t=1+1", "'\r=1+1"}

    # imported again: the same values, nothing changed
    again = _run(live, tmp_path, "candidate", "upsert", "--unique", "email", "--csv", str(exported))
    assert "unchanged  8" in again and "updated    0" in again

    # the reject file holds the refused row, its formula escaped
    with (tmp_path / "people.rejects.csv").open(newline="", encoding="utf-8") as fh:
        rejects = list(csv.DictReader(fh))
    assert [r["name"] for r in rejects] == ["'=bad()"]


def test_the_server_writes_no_csv():
    """Exports happen in atscli (the API answers JSON). A CSV written by the server
    would need ``escape_cell`` too: this fails when one appears, to say so."""
    root = Path(__file__).resolve().parents[2] / "ats"
    writers = [
        str(path.relative_to(root))
        for path in root.rglob("*.py")
        if "client" not in path.parts
        and re.search(r"^\s*(import csv|from csv import)|text/csv", path.read_text(), re.M)
    ]
    assert writers == [], f"server-side CSV in {writers}: escape its cells with escape_cell"
