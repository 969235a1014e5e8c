"""Static files under versioned URLs, cached for a year.

``url_for("static", filename=...)`` adds ``?v=`` and the first 10 hex digits of
the file's SHA-256, so a changed file gets a new URL. A request carrying the
file's current hash is answered ``public, max-age=31536000, immutable``; any
other (no ``v``, or one from before a deploy) keeps Flask's ``no-cache`` with
ETag and Last-Modified, so it is revalidated and never pinned to old content.

A file is hashed once and the hash kept while its size and modification time
stay the same: a ``stat`` per URL, no read; an edit during development shows
at the next page load.
"""

from __future__ import annotations

import hashlib
import os
import stat
from typing import Any

from flask import Flask, request
from werkzeug.security import safe_join

YEAR = 365 * 24 * 3600
HASH_CHARS = 10

# path -> ((mtime_ns, size), hash)
_hashes: dict[str, tuple[tuple[int, int], str]] = {}


def version(folder: str, filename: str) -> str | None:
    """The file's content hash, or None when it is not a file under ``folder``."""
    path = safe_join(folder, filename)
    if path is None:
        return None
    try:
        info = os.stat(path)
    except OSError:
        return None
    if not stat.S_ISREG(info.st_mode):
        return None
    key = (info.st_mtime_ns, info.st_size)
    cached = _hashes.get(path)
    if cached is not None and cached[0] == key:
        return cached[1]
    with open(path, "rb") as fh:
        digest = hashlib.file_digest(fh, "sha256").hexdigest()[:HASH_CHARS]
    _hashes[path] = (key, digest)
    return digest


def register(app: Flask) -> None:
    folder = app.static_folder
    if folder is None or "static" not in app.view_functions:
        return

    @app.url_defaults
    def _add_version(endpoint: str, values: dict[str, Any]) -> None:
        if endpoint == "static" and "v" not in values and "filename" in values:
            if digest := version(folder, values["filename"]):
                values["v"] = digest

    serve = app.view_functions["static"]

    def static(filename: str) -> Any:
        response = serve(filename=filename)
        asked = request.args.get("v")
        if asked and response.status_code in (200, 304) and asked == version(folder, filename):
            cache = response.cache_control
            cache.no_cache = None
            cache.public = True
            cache.max_age = YEAR
            cache.immutable = True
        return response

    app.view_functions["static"] = static
