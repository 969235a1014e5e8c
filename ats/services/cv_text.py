"""The text of a stored CV, for fit scoring (and later search).

PDF is read with pypdf, DOCX with python-docx. A legacy Word file (.doc), a
scan without a text layer, an encrypted or broken file all give no text and a
``problem`` instead: the scorer then flags ``cv_unreadable`` and a person
reads the file. Nothing here raises on bad input.

A CV is a file from a stranger, so the work is bounded twice: in the parser
(at most ``MAX_PAGES`` pages, ``MAX_CHARS`` characters, DOCX archives checked
for size before they are opened, pypdf's own decompression limits) and around
it: ``extract_file`` parses in a child process with a CPU, memory and
wall-clock limit, so even a file that sends a parser into a loop costs a few
seconds of one process and never hangs the worker or a web request.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import time
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

MAX_PAGES = 30  # a CV has a handful; the rest of a 500-page "CV" is not read
MAX_CHARS = 100_000  # what is kept; a long CV has about 20,000
MIN_LETTERS = 30  # fewer letters than this: a scan, or an empty page
TIME_BUDGET = 10.0  # seconds of parsing before the rest of the pages is skipped
CHILD_TIMEOUT = 20.0  # wall-clock seconds for the child process
CHILD_MEMORY = 1024 * 1024 * 1024  # address space of the child process, bytes
DOCX_MAX_ENTRIES = 2000
DOCX_MAX_UNPACKED = 100 * 1024 * 1024  # all parts, unpacked
DOCX_MAX_DOCUMENT = 20 * 1024 * 1024  # word/document.xml, unpacked

ROOT = Path(__file__).resolve().parent.parent.parent  # holds the ``ats`` package

# problem codes (what the scorer explains)
UNSUPPORTED = "unsupported"  # legacy .doc: no text extraction for it
NO_TEXT = "no_text"  # image-only or empty
ENCRYPTED = "encrypted"
BROKEN = "broken"
TOO_SLOW = "too_slow"
MISSING = "missing"  # the stored file is gone


@dataclass(frozen=True)
class CvText:
    """Extracted text, or ``problem`` saying why there is none."""

    text: str
    problem: str | None = None

    @property
    def readable(self) -> bool:
        return self.problem is None


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SPACES = re.compile(r"[ \t\u00a0]+")
_BLANK_LINES = re.compile(r"\n{3,}")


def tidy(text: str) -> str:
    """Control characters out, runs of spaces and blank lines collapsed, capped."""
    text = _CONTROL.sub(" ", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = _SPACES.sub(" ", text)
    text = "\n".join(line.strip() for line in text.split("\n"))
    return _BLANK_LINES.sub("\n\n", text).strip()[:MAX_CHARS]


def _result(text: str) -> CvText:
    text = tidy(text)
    if sum(ch.isalpha() for ch in text[:5000]) < MIN_LETTERS:
        return CvText("", NO_TEXT)
    return CvText(text)


def _pdf(data: bytes) -> CvText:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    reader = PdfReader(io.BytesIO(data), strict=False)
    if reader.is_encrypted:
        try:  # many "protected" CVs only forbid editing and open with an empty password
            if not reader.decrypt(""):
                return CvText("", ENCRYPTED)
        except (PdfReadError, NotImplementedError, ImportError):
            return CvText("", ENCRYPTED)
    deadline = time.monotonic() + TIME_BUDGET
    parts: list[str] = []
    size = 0
    for index, page in enumerate(reader.pages):
        if index >= MAX_PAGES or size >= MAX_CHARS or time.monotonic() > deadline:
            break
        text = page.extract_text() or ""
        parts.append(text)
        size += len(text)
    return _result("\n".join(parts))


def _docx_is_sane(data: bytes) -> bool:
    """Refuse zip bombs before python-docx unpacks every part into memory."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, ValueError):
        return False
    if len(infos) > DOCX_MAX_ENTRIES:
        return False
    if sum(i.file_size for i in infos) > DOCX_MAX_UNPACKED:
        return False
    document = next((i for i in infos if i.filename == "word/document.xml"), None)
    return document is not None and document.file_size <= DOCX_MAX_DOCUMENT


def _docx(data: bytes) -> CvText:
    if not _docx_is_sane(data):
        return CvText("", BROKEN)
    import docx
    from docx.oxml.ns import qn
    from docx.text.paragraph import Paragraph

    document = docx.Document(io.BytesIO(data))
    lines: list[str] = []
    size = 0

    def take(element: object, parent: object) -> bool:
        nonlocal size
        # every paragraph, also those inside tables and text boxes (CVs love tables)
        for p in element.iter(qn("w:p")):  # type: ignore[attr-defined]
            text = Paragraph(p, parent).text  # type: ignore[arg-type]
            lines.append(text)
            size += len(text) + 1
            if size >= MAX_CHARS:
                return False
        return True

    seen: set[int] = set()
    for section in document.sections:  # name and contact details often sit in the header
        header = section.header
        if not header.is_linked_to_previous and id(header.part) not in seen:
            seen.add(id(header.part))
            take(header._element, header)
    take(document.element.body, document)
    return _result("\n".join(lines))


def extract(data: bytes, kind: str) -> CvText:
    """The text of a CV's bytes; never raises. ``kind`` is ``files.sniff``'s answer."""
    if kind == "doc":
        return CvText("", UNSUPPORTED)
    if kind not in ("pdf", "docx"):
        return CvText("", UNSUPPORTED)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # malformed files make parsers chatty
            return _pdf(data) if kind == "pdf" else _docx(data)
    except RecursionError:
        return CvText("", BROKEN)
    except MemoryError:
        return CvText("", BROKEN)
    except Exception:  # noqa: BLE001 - any parser error on a stranger's file means "unreadable"
        return CvText("", BROKEN)


def extract_file(path: Path, kind: str, timeout: float = CHILD_TIMEOUT) -> CvText:
    """``extract`` in a child process with CPU, memory and time limits.

    The child costs about a quarter of a second (starting Python and the
    parser); it runs in the background worker, or once for a Rescore click.
    """
    if kind == "doc":
        return CvText("", UNSUPPORTED)
    if not path.is_file():
        return CvText("", MISSING)
    try:
        done = subprocess.run(  # noqa: S603 - our own interpreter and module, no shell
            [sys.executable, "-m", "ats.services.cv_text", kind, str(path)],
            cwd=ROOT,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return CvText("", TOO_SLOW)
    except OSError:
        return CvText("", BROKEN)
    if done.returncode != 0:
        return CvText("", BROKEN)  # killed by a limit, or crashed
    try:
        answer = json.loads(done.stdout)
        text, problem = answer["text"], answer["problem"]
    except (ValueError, KeyError, TypeError):
        return CvText("", BROKEN)
    if not isinstance(text, str) or problem not in (None, UNSUPPORTED, NO_TEXT, ENCRYPTED, BROKEN):
        return CvText("", BROKEN)
    return CvText(text[:MAX_CHARS], problem)


def _child(argv: list[str]) -> int:
    """``python -m ats.services.cv_text KIND PATH``: print the result as JSON."""
    import resource

    if len(argv) != 2:
        print("usage: python -m ats.services.cv_text pdf|docx PATH", file=sys.stderr)
        return 2
    cpu = int(CHILD_TIMEOUT)
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_AS, (CHILD_MEMORY, CHILD_MEMORY))
    kind, path = argv
    try:
        data = Path(path).read_bytes()
    except OSError:
        result = CvText("", MISSING)
    else:
        result = extract(data, kind)
    sys.stdout.write(json.dumps({"text": result.text, "problem": result.problem}))
    return 0


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1:]))
