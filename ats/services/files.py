"""Uploaded files (CVs): checked by content, stored under a random id.

A file is accepted when its bytes say it is a PDF, a Word 97-2003 document
or a Word document (DOCX: a ZIP holding ``word/document.xml``), whatever its
name says. It is stored as ``<ATS_DATA_DIR>/cv/<blob id>.<kind>``, never
under the uploaded name, written to a temporary file, flushed to disk and
renamed (the directory flushed too), so a crash leaves either the whole file
or none, and a file a committed row names survives a power cut.
"""

from __future__ import annotations

import io
import os
import re
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from flask import current_app

from ..errors import ValidationFailed
from ..ids import new_id

BLOB_PREFIX = "blob"
_BLOB_ID = re.compile(r"blob_[0-9A-Z]{26}")
KINDS = {
    "pdf": "application/pdf",
    "doc": "application/msword",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}
# a stored CV's file name: <blob id>.<kind>
BLOB_FILE = re.compile(rf"({_BLOB_ID.pattern})\.({'|'.join(KINDS)})")
DEFAULT_MAX_CV_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True)
class Blob:
    id: str
    kind: str
    path: Path

    @property
    def mimetype(self) -> str:
        return KINDS[self.kind]


def human_size(n: int) -> str:
    """``10485760`` → ``"10 MB"``; ``2048`` → ``"2 KB"``."""
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):g} MB"
    return f"{max(1, n // 1024)} KB"


def max_cv_bytes() -> int:
    return int(current_app.config.get("MAX_CV_BYTES", DEFAULT_MAX_CV_BYTES))


def _root() -> Path:
    root = Path(current_app.config["DATA_DIR"]) / "cv"
    root.mkdir(parents=True, exist_ok=True)
    return root


def sniff(head: bytes, data: bytes | None = None) -> str | None:
    """The kind of document these bytes are, or None."""
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return "doc"
    if head.startswith(b"PK\x03\x04") and data is not None:
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                names = set(archive.namelist())
        except (zipfile.BadZipFile, ValueError):
            return None
        if "word/document.xml" in names and "[Content_Types].xml" in names:
            return "docx"
    return None


def store_cv(stream: IO[bytes], field: str = "cv") -> Blob:
    """Check and keep an uploaded CV; ``ValidationFailed`` names ``field`` when refused."""
    limit = max_cv_bytes()
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise ValidationFailed({field: f"the file is larger than {human_size(limit)}"})
    if not data:
        raise ValidationFailed({field: "the file is empty"})
    kind = sniff(data[:8], data)
    if kind is None:
        raise ValidationFailed({field: "only PDF, DOC or DOCX files are accepted"})
    blob_id = new_id(BLOB_PREFIX)
    root = _root()
    fd, tmp = tempfile.mkstemp(dir=root, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        final = root / f"{blob_id}.{kind}"
        os.replace(tmp, final)
        fsync_dir(root)  # the rename too, before a row may name the file
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Blob(blob_id, kind, final)


def fsync_dir(path: Path) -> None:
    """Make a rename in ``path`` durable: without it a power cut after the
    database commit (``synchronous=FULL``) could keep the row and lose the file."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def find(blob_id: str | None) -> Blob | None:
    """The stored file for an id, or None (also for anything that is not a blob id)."""
    if not blob_id or not _BLOB_ID.fullmatch(blob_id):
        return None
    root = _root()
    for kind in KINDS:
        path = root / f"{blob_id}.{kind}"
        if path.is_file():
            return Blob(blob_id, kind, path)
    return None


def delete(blob_ids: list[str | None]) -> None:
    """Remove stored files (after the rows that named them are gone)."""
    for blob_id in blob_ids:
        blob = find(blob_id)
        if blob is not None:
            blob.path.unlink(missing_ok=True)


# An upload interrupted by a crash leaves its temporary file; an upload whose
# application was never made (the form failed after the file was kept) leaves
# a CV no row names. Neither is ever served; the daily retention run removes
# them once they are old enough that no request can still be using them.
TEMP_MAX_AGE = 3600  # seconds: an upload is written in far less
UNNAMED_MAX_AGE = 86400  # seconds: a stored CV gets its application in the same request


def sweep(named: set[str], now: float | None = None) -> int:
    """Remove interrupted uploads and CVs that no application names; how many went.

    ``named`` holds every blob id the database refers to, read before the call:
    a file is only removed when it is older than that read could have missed.
    """
    now = time.time() if now is None else now
    removed = 0
    for path in _root().iterdir():
        try:
            age = now - path.stat().st_mtime
        except FileNotFoundError:
            continue
        if path.name.startswith(".upload-"):
            stale = age > TEMP_MAX_AGE
        else:
            stale = (
                path.stem not in named
                and age > UNNAMED_MAX_AGE
                and bool(_BLOB_ID.fullmatch(path.stem))
            )
        if stale and path.is_file():
            path.unlink(missing_ok=True)
            removed += 1
    return removed
