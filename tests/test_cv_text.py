"""CV text extraction (ats/services/cv_text.py).

Pins: text comes out of real PDFs (pypdf) and DOCX files (python-docx: body,
tables and header) made here; a legacy .doc, a scan without text, a
password-protected, broken or oversized file gives no text and a reason,
never an exception; the work is bounded (pages, characters, DOCX sizes, a
child process with a time limit)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from ats.services import cv_text
from tests.cvfiles import make_docx, make_pdf

LINES = ["Ada Lovelace", "Führungserfahrung und Python-Kenntnisse (5 Jahre)", "Kubernetes, k8s"]


def test_pdf_text_is_extracted_with_umlauts():
    got = cv_text.extract(make_pdf([LINES, ["Seite zwei: PostgreSQL"]]), "pdf")
    assert got.readable and got.problem is None
    for line in [*LINES, "Seite zwei: PostgreSQL"]:
        assert line in got.text


def test_docx_text_from_body_tables_and_header():
    data = make_docx(
        ["Ada Lovelace, engineer", "Python since 2015"],
        table=[["Skills", "Kubernetes, Terraform"], ["Sprachen", "Deutsch, Englisch"]],
        header="Kontakt: ada@example.org",
    )
    got = cv_text.extract(data, "docx")
    assert got.readable
    for text in ("Ada Lovelace", "Python since 2015", "Kubernetes, Terraform", "Deutsch"):
        assert text in got.text
    assert "ada@example.org" in got.text


def test_legacy_doc_is_unsupported():
    got = cv_text.extract(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, "doc")
    assert got == cv_text.CvText("", cv_text.UNSUPPORTED)


@pytest.mark.parametrize(
    ("data", "kind", "problem"),
    [
        (make_pdf([[]]), "pdf", cv_text.NO_TEXT),  # a scan: pages without a text layer
        (make_pdf([["x"]]), "pdf", cv_text.NO_TEXT),  # next to nothing
        (make_pdf([LINES], user_password="secret"), "pdf", cv_text.ENCRYPTED),
        (b"%PDF-1.7\n" + b"\xff" * 2000, "pdf", cv_text.BROKEN),
        (b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n", "pdf", cv_text.BROKEN),
        (b"PK\x03\x04 not really a zip", "docx", cv_text.BROKEN),
        (make_docx([]), "docx", cv_text.NO_TEXT),
        (b"anything", "exe", cv_text.UNSUPPORTED),
    ],
)
def test_unreadable_files_give_a_reason_not_an_exception(data, kind, problem):
    got = cv_text.extract(data, kind)
    assert got.text == "" and got.problem == problem and not got.readable


def test_truncated_pdf_is_unreadable_or_partial_never_an_error():
    data = make_pdf([LINES, LINES, LINES])
    got = cv_text.extract(data[: len(data) // 2], "pdf")
    assert got.problem in (None, cv_text.BROKEN, cv_text.NO_TEXT)


def test_pdf_with_an_empty_user_password_opens():
    got = cv_text.extract(make_pdf([LINES], user_password=""), "pdf")
    assert got.readable and "Ada Lovelace" in got.text


def test_pages_and_characters_are_bounded(monkeypatch):
    pages = [[f"Page {i} lists Python, Kubernetes and PostgreSQL skills"] for i in range(8)]
    monkeypatch.setattr(cv_text, "MAX_PAGES", 3)
    got = cv_text.extract(make_pdf(pages), "pdf")
    assert "Page 2 " in got.text and "Page 3 " not in got.text
    monkeypatch.setattr(cv_text, "MAX_CHARS", 100)
    got = cv_text.extract(make_pdf(pages), "pdf")
    assert 30 <= len(got.text) <= 100


def test_docx_archives_are_checked_before_they_are_unpacked(monkeypatch):
    data = make_docx(["Python " * 2000])
    assert cv_text.extract(data, "docx").readable
    monkeypatch.setattr(cv_text, "DOCX_MAX_DOCUMENT", 1000)  # a "zip bomb" for this test
    assert cv_text.extract(data, "docx").problem == cv_text.BROKEN
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/other.xml", "<x/>")
    assert cv_text.extract(buf.getvalue(), "docx").problem == cv_text.BROKEN


def test_text_is_tidied():
    assert cv_text.tidy("a\x00b \t\u00a0 c\r\n\n\n\n d  ") == "a b c\n\nd"


def test_extract_file_runs_in_a_child_process(tmp_path: Path):
    pdf = tmp_path / "cv.pdf"
    pdf.write_bytes(make_pdf([LINES]))
    got = cv_text.extract_file(pdf, "pdf")
    assert got.readable and "Python-Kenntnisse" in got.text
    docx = tmp_path / "cv.docx"
    docx.write_bytes(make_docx(["Grace Hopper, COBOL and compilers since 1952"]))
    assert "COBOL" in cv_text.extract_file(docx, "docx").text
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.7\n" + b"\xff" * 2000)
    assert cv_text.extract_file(broken, "pdf").problem == cv_text.BROKEN


def test_extract_file_stops_a_slow_child(tmp_path: Path):
    pdf = tmp_path / "cv.pdf"
    pdf.write_bytes(make_pdf([LINES]))
    assert cv_text.extract_file(pdf, "pdf", timeout=0.001).problem == cv_text.TOO_SLOW


def test_extract_file_missing_and_doc(tmp_path: Path):
    assert cv_text.extract_file(tmp_path / "gone.pdf", "pdf").problem == cv_text.MISSING
    doc = tmp_path / "old.doc"
    doc.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")
    assert cv_text.extract_file(doc, "doc").problem == cv_text.UNSUPPORTED
