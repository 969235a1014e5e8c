"""Backups of a running install, and their restore: ``flask --app app backup|restore PATH``.

A backup is a directory (or the same directory as one ``.tar``, ``.tar.gz`` or
``.tgz`` file, when PATH ends so) holding:

- ``database.sqlite3``: SQLite's online backup (``Connection.backup``) in one
  step. In WAL mode that is a read transaction: writers go on while it copies
  (a copy in steps would start again whenever another process commits, and
  might never end under steady writing). Or ``database.dump``: PostgreSQL's
  ``pg_dump --format=custom``, run on a snapshot this module exports, so the
  counts and file list in the manifest are of exactly the dumped data.
- ``files/cv/...``: the uploaded CVs (``ATS_DATA_DIR/cv``), copied after the
  database snapshot. Uploaded files are never changed, only added and removed,
  so every file the snapshot names is there; if one was deleted in between
  (its application deleted after the snapshot), the backup starts again.
- ``secret_key``: when the app keeps its key in ``instance/secret_key``.
- ``manifest.json``: format, app version, Alembic revision, time, row counts
  per table, and the size and SHA-256 of every file above.

A backup is written under a temporary name and renamed when complete, so PATH
never holds half a backup. Restore checks everything before it changes
anything (the manifest, every checksum, SQLite's ``PRAGMA integrity_check``,
the row counts), refuses a non-empty or running target without ``--force``,
replaces the database in one transaction (SQLite's backup API into the target,
``pg_restore --single-transaction``) and the files directory by a rename, and
runs the migrations when the backup is older than the code.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
import re
import shutil
import socket
import sqlite3
import struct
import subprocess
import tarfile
import tempfile
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import IO, Any

from flask import current_app
from sqlalchemy.engine import URL

from . import files

FORMAT = "ats-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SQLITE_FILE = "database.sqlite3"
PG_FILE = "database.dump"
FILES = "files"
SECRET = "secret_key"  # noqa: S105 - a file name
ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz")
ATTEMPTS = 3  # snapshots tried when files vanish between the snapshot and their copy
CHUNK = 1 << 20
# SQLite's unix VFS: every connection to a WAL database holds a read lock on
# this byte of the -shm file while it is open ("DMS", UNIX_SHM_BASE + 8).
_SHM_DMS_BYTE = 128


class BackupError(Exception):
    """Something the operator can fix; the message says what (never a traceback)."""


@dataclass
class Manifest:
    dialect: str
    database_file: str
    revision: str | None
    counts: dict[str, int]
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    created_at: str = ""
    app_version: str = ""
    host: str = ""
    seconds: float = 0.0
    key_id: str = ""  # which SECRET_KEY the data was made with (not the key)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "app_version": self.app_version,
            "created_at": self.created_at,
            "host": self.host,
            "database": {
                "dialect": self.dialect,
                "file": self.database_file,
                "alembic_revision": self.revision,
            },
            "secret_key_id": self.key_id,
            "counts": self.counts,
            "files": self.files,
            "seconds": round(self.seconds, 3),
        }

    @classmethod
    def from_json(cls, data: Any) -> Manifest:
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise BackupError("not an ATS backup: manifest.json is not ours")
        if data.get("format_version") != FORMAT_VERSION:
            raise BackupError(
                f"backup format {data.get('format_version')!r} is not one this version "
                f"reads ({FORMAT_VERSION}): restore it with the version that made it"
            )
        try:
            database = data["database"]
            files = data["files"]
            counts = data["counts"]
            if database["file"] not in files:
                raise KeyError(database["file"])
            for name, info in files.items():
                _safe_name(name)
                int(info["bytes"]), str(info["sha256"])
            return cls(
                dialect=str(database["dialect"]),
                database_file=str(database["file"]),
                revision=database.get("alembic_revision"),
                counts={str(k): int(v) for k, v in counts.items()},
                files=files,
                created_at=str(data.get("created_at", "")),
                app_version=str(data.get("app_version", "")),
                host=str(data.get("host", "")),
                key_id=str(data.get("secret_key_id", "")),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise BackupError(f"manifest.json is damaged: missing or wrong {exc}") from None

    @property
    def rows(self) -> int:
        return sum(n for table, n in self.counts.items() if table != "alembic_version")

    @property
    def uploads(self) -> list[str]:
        return sorted(name for name in self.files if name.startswith(FILES + "/"))

    def describe(self) -> str:
        size = sum(int(info["bytes"]) for info in self.files.values())
        return (
            f"{self.dialect} database at revision {self.revision or '(none)'}, "
            f"{self.rows} rows in {len(self.counts) - ('alembic_version' in self.counts)} "
            f"tables, {len(self.uploads)} uploaded files, {_size(size)}"
        )


def key_id(secret_key: str | bytes) -> str:
    """A fingerprint of the secret key: the same key, the same id; the key
    cannot be found from it. API token hashes (and two-factor secrets) are keyed
    with SECRET_KEY, so a restore has to run with the key the backup was made with."""
    key = secret_key.encode() if isinstance(secret_key, str) else secret_key
    return hmac.new(key, b"ats backup: which secret key", hashlib.sha256).hexdigest()[:16]


def _size(n: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} bytes"  # pragma: no cover


def _safe_name(name: str) -> str:
    """A member name of ours: relative, no ``..``, no odd characters."""
    parts = name.split("/")
    if (
        not name
        or name.startswith("/")
        or any(p in ("", ".", "..") for p in parts)
        or not re.fullmatch(r"[A-Za-z0-9_./-]+", name)
    ):
        raise BackupError(f"manifest.json names an unsafe path {name!r}")
    return name


def _is_archive(path: Path) -> bool:
    return path.name.endswith(ARCHIVE_SUFFIXES)


def _sha256_copy(src: IO[bytes], dst: IO[bytes]) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    while chunk := src.read(CHUNK):
        digest.update(chunk)
        dst.write(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def _sha256_file(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _fsync_file(path: Path) -> None:
    with path.open("rb+") as fh:
        os.fsync(fh.fileno())


# --- where things are ---------------------------------------------------------------


def _engine_url() -> URL:
    from ..extensions import db

    return db.engine.url


def _sqlite_path(url: URL) -> Path:
    if not url.database or url.database == ":memory:" or url.database.startswith("file:"):
        raise BackupError(f"cannot back up the SQLite database {url.database or ':memory:'!r}")
    return Path(url.database)


def _cv_root() -> Path:
    return Path(current_app.config["DATA_DIR"]) / "cv"


def _secret_path() -> Path:
    return Path(current_app.instance_path) / "secret_key"


def _script() -> Any:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from .. import MIGRATIONS

    config = Config()
    config.set_main_option("script_location", MIGRATIONS)
    return ScriptDirectory.from_config(config)


def _known_revisions() -> list[str]:
    """This code's migrations, newest first."""
    script = _script()
    return [rev.revision for rev in script.walk_revisions()]


def _app_version() -> str:
    try:
        return metadata.version("ats")
    except metadata.PackageNotFoundError:  # pragma: no cover - always installed
        return "unknown"


def _app_tables() -> list[str]:
    from ..extensions import db

    return [table.name for table in db.metadata.sorted_tables]


# --- backup ---------------------------------------------------------------------------


def create(path: Path) -> Manifest:
    """Back up this install (its database and uploaded files) to ``path``."""
    path = Path(path)
    if path.exists() or path.is_symlink():
        raise BackupError(f"{path} exists: name a new file or directory")
    parent = path.parent.resolve()
    if not parent.is_dir():
        raise BackupError(f"{path.parent} is not a directory")
    if not os.access(parent, os.W_OK):
        raise BackupError(f"cannot write to {path.parent}")
    url = _engine_url()
    started = time.monotonic()
    stage = Path(tempfile.mkdtemp(dir=parent, prefix=f".{path.name}.partial-"))
    try:
        for attempt in range(1, ATTEMPTS + 1):
            for child in stage.iterdir():  # a previous attempt's leftovers
                if child.is_dir():
                    shutil.rmtree(child)
                else:
                    child.unlink()
            if url.get_backend_name() == "sqlite":
                manifest, referenced = _snapshot_sqlite(_sqlite_path(url), stage / SQLITE_FILE)
            elif url.get_backend_name() == "postgresql":
                manifest, referenced = _snapshot_postgres(url, stage / PG_FILE)
            else:
                raise BackupError(f"cannot back up a {url.get_backend_name()} database")
            copied = _copy_uploads(stage, manifest)
            missing = referenced - copied
            if not missing:
                break
            if attempt == ATTEMPTS:
                raise BackupError(
                    f"uploaded files named by the database are missing from {_cv_root()}: "
                    + ", ".join(sorted(missing)[:5])
                )
        _copy_secret(stage, manifest)
        manifest.created_at = datetime.now(UTC).isoformat(timespec="seconds")
        manifest.app_version = _app_version()
        manifest.host = socket.gethostname()
        manifest.key_id = key_id(current_app.config["SECRET_KEY"])
        manifest.seconds = time.monotonic() - started
        _write_manifest(stage, manifest)
        if _is_archive(path):
            _pack(stage, path, manifest)
        else:
            files.fsync_dir(stage)
            os.rename(stage, path)
            files.fsync_dir(parent)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return manifest


def _snapshot_sqlite(source: Path, target: Path) -> tuple[Manifest, set[str]]:
    if not source.is_file():
        raise BackupError(f"no database at {source}: nothing to back up")
    timeout = current_app.config.get("SQLITE_BUSY_TIMEOUT_MS", 10000) / 1000
    src = sqlite3.connect(source, timeout=timeout)  # read-write: WAL readers need the -shm
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)  # one step: a read transaction, writers go on
    finally:
        src.close()
    try:
        dst.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
        check = dst.execute("PRAGMA integrity_check").fetchall()
        if check != [("ok",)]:
            raise BackupError(f"the copy failed PRAGMA integrity_check: {check[:5]}")
        counts, revision, referenced = _read_sqlite(dst)
    finally:
        dst.close()
    digest, size = _sha256_file(target)
    manifest = Manifest("sqlite", SQLITE_FILE, revision, counts)
    manifest.files[SQLITE_FILE] = {"bytes": size, "sha256": digest}
    return manifest, referenced


def _read_sqlite(conn: sqlite3.Connection) -> tuple[dict[str, int], str | None, set[str]]:
    present = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    counts = {
        t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]  # noqa: S608 - our names
        for t in [*_app_tables(), "alembic_version"]
        if t in present
    }
    revision = None
    if "alembic_version" in present:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        revision = row[0] if row else None
    referenced: set[str] = set()
    if "application" in present:
        referenced = {
            r[0]
            for r in conn.execute(
                "SELECT DISTINCT cv_blob_id FROM application WHERE cv_blob_id IS NOT NULL"
            )
        }
    return counts, revision, referenced


def _libpq(url: URL) -> tuple[str, dict[str, str]]:
    """The URL as libpq takes it, and the environment with the password."""
    env = {**os.environ}
    if url.password is not None:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _pg_tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(
            f"{name} not found: install PostgreSQL's client programs (Debian: apt install "
            "postgresql-client, the server's major version or newer) or follow the "
            "pg_dump steps in the README (Backups)"
        )
    return found


def _run(args: list[str], env: dict[str, str], what: str) -> str:
    try:
        done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=24 * 3600)  # noqa: S603
    except OSError as exc:
        raise BackupError(f"{what}: {exc}") from None
    if done.returncode != 0:
        message = " ".join(done.stderr.split())[:1500] or f"exit status {done.returncode}"
        raise BackupError(f"{what} failed: {message}")
    return done.stdout


def _snapshot_postgres(url: URL, target: Path) -> tuple[Manifest, set[str]]:
    pg_dump = _pg_tool("pg_dump")
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
            libpq, env = _libpq(url)
            _run(
                [pg_dump, "--format=custom", f"--snapshot={snapshot}", f"--file={target}", libpq],
                env,
                "pg_dump",
            )
            present = set(
                conn.scalars(
                    text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
                )
            )
            counts = {
                t: conn.execute(text(f'SELECT count(*) FROM "{t}"')).scalar_one()  # noqa: S608
                for t in [*_app_tables(), "alembic_version"]
                if t in present
            }
            revision = None
            if "alembic_version" in present:
                revision = conn.scalar(text("SELECT version_num FROM alembic_version"))
            referenced: set[str] = set()
            if "application" in present:
                referenced = set(
                    conn.scalars(
                        text(
                            "SELECT DISTINCT cv_blob_id FROM application "
                            "WHERE cv_blob_id IS NOT NULL"
                        )
                    )
                )
            conn.exec_driver_sql("COMMIT")
    finally:
        engine.dispose()
    digest, size = _sha256_file(target)
    manifest = Manifest("postgresql", PG_FILE, revision, counts)
    manifest.files[PG_FILE] = {"bytes": size, "sha256": digest}
    return manifest, referenced


def _copy_uploads(stage: Path, manifest: Manifest) -> set[str]:
    """Copy every uploaded file into the stage; the blob ids copied."""
    root = _cv_root()
    copied: set[str] = set()
    if not root.is_dir():
        return copied
    target = stage / FILES / "cv"
    target.mkdir(parents=True, exist_ok=True)
    for entry in sorted(root.iterdir()):
        if not files.BLOB_FILE.fullmatch(entry.name):
            continue  # an upload being written (.upload-...), or not ours
        try:
            src = entry.open("rb")
        except FileNotFoundError:
            continue  # deleted since the listing
        with src, (target / entry.name).open("wb") as dst:
            digest, size = _sha256_copy(src, dst)
            dst.flush()
            os.fsync(dst.fileno())
        manifest.files[f"{FILES}/cv/{entry.name}"] = {"bytes": size, "sha256": digest}
        copied.add(entry.name.split(".")[0])
    files.fsync_dir(target)
    return copied


def _copy_secret(stage: Path, manifest: Manifest) -> None:
    """The generated key, when the app uses it (else ``ATS_SECRET_KEY`` is the key)."""
    path = _secret_path()
    try:
        key = path.read_text().strip()
    except (FileNotFoundError, PermissionError):
        return
    if key and key == current_app.config.get("SECRET_KEY"):
        (stage / SECRET).write_text(key)
        os.chmod(stage / SECRET, 0o600)
        digest, size = _sha256_file(stage / SECRET)
        manifest.files[SECRET] = {"bytes": size, "sha256": digest}


def _write_manifest(stage: Path, manifest: Manifest) -> None:
    with (stage / MANIFEST).open("w") as fh:
        json.dump(manifest.to_json(), fh, indent=1, sort_keys=False)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())


def _pack(stage: Path, path: Path, manifest: Manifest) -> None:
    """One archive, the manifest first (restore reads it before anything else)."""
    mode = "w:gz" if path.name.endswith((".gz", ".tgz")) else "w"
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.partial-")
    os.close(fd)
    try:
        with tarfile.open(tmp, mode) as tar:
            tar.add(stage / MANIFEST, arcname=MANIFEST, recursive=False)
            for name in sorted(manifest.files):
                tar.add(stage / name, arcname=name, recursive=False)
        _fsync_file(Path(tmp))
        os.rename(tmp, path)
        files.fsync_dir(path.parent)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# --- reading a backup -------------------------------------------------------------------


def _unpack(path: Path, stage: Path) -> Manifest:
    """Copy the backup's files into ``stage``, checking each against the manifest."""
    if not path.exists():
        raise BackupError(f"{path} does not exist")
    if path.is_dir():
        try:
            manifest = Manifest.from_json(json.loads((path / MANIFEST).read_text()))
        except FileNotFoundError:
            raise BackupError(f"{path} is not an ATS backup: it has no {MANIFEST}") from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise BackupError(f"{MANIFEST} is damaged: {exc}") from None
        for name in manifest.files:
            source = path / name
            if not source.is_file():
                raise BackupError(f"the backup is incomplete: {name} is missing")
            with source.open("rb") as src:
                _take(name, src, stage, manifest)
        return manifest
    try:
        tar = tarfile.open(path, "r:*")
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise BackupError(f"{path} is not a backup archive ({exc})") from None
    try:
        with tar:
            first = tar.next()
            if first is None or first.name != MANIFEST or not first.isfile():
                raise BackupError(f"{path} is not an ATS backup: {MANIFEST} does not come first")
            try:
                raw = tar.extractfile(first).read()  # type: ignore[union-attr]
                manifest = Manifest.from_json(json.loads(raw))
            except (ValueError, UnicodeDecodeError) as exc:
                raise BackupError(f"{MANIFEST} is damaged: {exc}") from None
            seen: set[str] = set()
            for member in tar:  # from the start again: the manifest is read
                if member.offset == first.offset:
                    continue
                if member.name not in manifest.files or member.name in seen:
                    raise BackupError(f"the archive holds {member.name!r}, not in its manifest")
                if not member.isfile():
                    raise BackupError(f"the archive's {member.name!r} is not a file")
                _take(member.name, tar.extractfile(member), stage, manifest)  # type: ignore[arg-type]
                seen.add(member.name)
    except (tarfile.TarError, EOFError, zlib.error) as exc:
        raise BackupError(f"the archive is damaged or truncated ({exc})") from None
    missing = sorted(set(manifest.files) - seen)
    if missing:
        raise BackupError(f"the archive is incomplete: {', '.join(missing[:5])} missing")
    return manifest


def _take(name: str, src: IO[bytes], stage: Path, manifest: Manifest) -> None:
    target = stage / name
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("wb") as dst:
        digest, size = _sha256_copy(src, dst)
        dst.flush()
        os.fsync(dst.fileno())
    expected = manifest.files[name]
    if size != int(expected["bytes"]) or digest != expected["sha256"]:
        raise BackupError(
            f"the backup is damaged: {name} has {size} bytes and SHA-256 {digest[:12]}..., "
            f"the manifest says {expected['bytes']} bytes and {str(expected['sha256'])[:12]}..."
        )


# --- restore ----------------------------------------------------------------------------


@dataclass
class Restored:
    manifest: Manifest
    upgraded_from: str | None  # the backup's revision, when the migrations ran
    revision: str | None  # the schema's revision now
    replaced: bool  # whether a database with tables was overwritten
    secret_key: str  # "restored", "none" (not in the backup), "env" (ATS_SECRET_KEY rules)
    key_matches: bool  # whether this install now runs with the backup's secret key


def check(path: Path) -> Manifest:
    """Read and verify a backup completely (checksums, integrity); change nothing."""
    data_dir = Path(current_app.config["DATA_DIR"])
    with _stage(data_dir) as stage:
        manifest = _unpack(Path(path), stage)
        _check_revision(manifest)
        if manifest.dialect == "sqlite":
            _check_sqlite_copy(stage / SQLITE_FILE, manifest)
        else:
            _read_dump(stage / PG_FILE)
    return manifest


@contextmanager
def _stage(data_dir: Path) -> Iterator[Path]:
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        stage = Path(tempfile.mkdtemp(dir=data_dir, prefix=".restore-"))
    except OSError as exc:
        raise BackupError(f"cannot write to ATS_DATA_DIR {data_dir}: {exc}") from None
    try:
        yield stage
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _read_dump(path: Path) -> None:
    """Read the whole dump as a restore would (every data block decompressed)."""
    _run(
        [_pg_tool("pg_restore"), f"--file={os.devnull}", str(path)],
        dict(os.environ),
        "reading the dump (pg_restore)",
    )


def _check_revision(manifest: Manifest) -> None:
    known = _known_revisions()
    if manifest.revision is not None and manifest.revision not in known:
        raise BackupError(
            f"the backup's schema revision {manifest.revision} is unknown to this version of "
            f"the app (newest {known[0] if known else 'none'}): it was made by a newer "
            "version; restore it with that version"
        )


def _check_sqlite_copy(path: Path, manifest: Manifest) -> None:
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            result = conn.execute("PRAGMA integrity_check").fetchall()
            if result != [("ok",)]:
                raise BackupError(
                    f"the backup's database fails PRAGMA integrity_check: {result[:3]}"
                )
            counts, revision, _ = _read_sqlite(conn)
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"the backup's database cannot be read: {exc}") from None
    if revision != manifest.revision or any(counts.get(t) != n for t, n in manifest.counts.items()):
        raise BackupError("the backup's database does not match its manifest (counts, revision)")


def restore(path: Path, force: bool = False) -> Restored:
    """Put a backup in place of this install's database and uploaded files."""
    from ..extensions import db

    url = _engine_url()
    dialect = url.get_backend_name()
    data_dir = Path(current_app.config["DATA_DIR"])
    db.session.remove()
    db.engine.dispose()  # no connection of ours open while we look for others'
    with _stage(data_dir) as stage:
        manifest = _unpack(Path(path), stage)
        if manifest.dialect != dialect:
            raise BackupError(
                f"this is a backup of a {manifest.dialect} database; this install uses "
                f"{dialect} (ATS_DATABASE_URL)"
            )
        _check_revision(manifest)
        cv_root = data_dir / "cv"
        files_there = cv_root.is_dir() and any(cv_root.iterdir())
        if dialect == "sqlite":
            target = _sqlite_path(url)
            _check_sqlite_copy(stage / SQLITE_FILE, manifest)
            rows, in_use = _sqlite_target(target)
            _refuse(rows, files_there, in_use, force)
            _restore_sqlite(stage / SQLITE_FILE, target)
            replaced = rows is not None
        else:
            pg_restore = _pg_tool("pg_restore")
            libpq, env = _libpq(url)
            _read_dump(stage / PG_FILE)
            rows, in_use, revision = _postgres_target(url)
            _refuse(rows, files_there, in_use, force)
            if rows is not None and revision != manifest.revision:
                raise BackupError(
                    f"the target database has tables at schema revision {revision}, the backup "
                    f"is at {manifest.revision}: restore into a new, empty database "
                    "(createdb; see the README, Backups)"
                )
            args = [pg_restore, "--no-owner", "--no-privileges", "--single-transaction"]
            args += ["--exit-on-error", f"--dbname={libpq}", str(stage / PG_FILE)]
            if rows is not None:
                args[1:1] = ["--clean", "--if-exists"]
            _run(args, env, "pg_restore")
            _check_postgres_counts(url, manifest)
            replaced = rows is not None
        _swap_uploads(stage, cv_root)
        secret = _restore_secret(stage, manifest)
    db.engine.dispose()
    upgraded_from = None
    known = _known_revisions()
    head = known[0] if known else None
    if manifest.revision != head:
        from flask_migrate import upgrade

        from .. import MIGRATIONS

        try:
            upgrade(directory=MIGRATIONS)
        except Exception as exc:  # noqa: BLE001 - said to the operator, who runs it again
            raise BackupError(
                f"the backup is restored, but migrating it from {manifest.revision} failed "
                f"({type(exc).__name__}: {exc}); run flask --app app db upgrade to see why"
            ) from None
        upgraded_from = manifest.revision
    now = current_app.config["SECRET_KEY"]
    if secret == "restored":  # noqa: S105 - the next start reads instance/secret_key
        now = _secret_path().read_text().strip()
    matches = not manifest.key_id or key_id(now) == manifest.key_id
    return Restored(manifest, upgraded_from, head, replaced, secret, matches)


def _refuse(rows: int | None, files_there: bool, in_use: int, force: bool) -> None:
    if force:
        return
    if in_use:
        raise BackupError(
            "another process has the database open (the app or its worker is running?): "
            "stop them first, or add --force to replace it under them"
        )
    if rows or files_there:
        what = [f"{rows} rows"] if rows else []
        what += ["uploaded files"] if files_there else []
        raise BackupError(
            f"the target install is not empty ({' and '.join(what)}): restore into a new "
            "install, or add --force to replace everything in it"
        )


def _sqlite_in_use(path: Path) -> int:
    """Whether another process has this WAL database open (1) or not (0).

    Every SQLite connection to a WAL database holds a read lock on one byte of
    the ``-shm`` file for as long as it is open; a write lock on that byte is
    then refused. Asking (``F_GETLK``) takes no lock.
    """
    shm = Path(f"{path}-shm")
    try:
        fd = os.open(shm, os.O_RDWR)
    except FileNotFoundError:
        return 0
    try:
        query = struct.pack("hhqqi4x", fcntl.F_WRLCK, os.SEEK_SET, _SHM_DMS_BYTE, 1, 0)
        answer = fcntl.fcntl(fd, fcntl.F_GETLK, query)
        return 0 if struct.unpack("hhqqi4x", answer)[0] == fcntl.F_UNLCK else 1
    finally:
        os.close(fd)


def _sqlite_target(path: Path) -> tuple[int | None, int]:
    """``(rows in the app's tables or None without tables, processes using it)``."""
    if not path.exists():
        return None, 0
    in_use = _sqlite_in_use(path)
    try:
        conn = sqlite3.connect(path, timeout=10)
        try:
            present = {
                r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            }
            tables = [t for t in _app_tables() if t in present]
            if not tables:
                return None, in_use
            rows = sum(
                conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]  # noqa: S608
                for t in tables
            )
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"the target database {path} cannot be read: {exc}") from None
    return rows, in_use


def _restore_sqlite(source: Path, target: Path) -> None:
    """SQLite's backup API into the target: one write transaction, so the target
    holds either its old content or all of the backup, also for processes that
    have it open, and the WAL files stay consistent."""
    target.parent.mkdir(parents=True, exist_ok=True)
    timeout = current_app.config.get("SQLITE_BUSY_TIMEOUT_MS", 10000) / 1000
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(target, timeout=timeout)
    try:
        src.backup(dst)
        dst.execute("PRAGMA journal_mode = WAL")  # the copied header says DELETE
        check = dst.execute("PRAGMA quick_check").fetchall()
        if check != [("ok",)]:  # pragma: no cover - the source passed integrity_check
            raise BackupError(f"the restored database fails PRAGMA quick_check: {check[:3]}")
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"could not write the database {target}: {exc}") from None
    finally:
        src.close()
        dst.close()


def _postgres_target(url: URL) -> tuple[int | None, int, str | None]:
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            in_use = conn.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
                )
            )
            present = set(
                conn.scalars(
                    text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
                )
            )
            tables = [t for t in _app_tables() if t in present]
            revision = None
            if "alembic_version" in present:
                revision = conn.scalar(text("SELECT version_num FROM alembic_version"))
            if not tables and not present:
                return None, in_use or 0, revision
            rows = sum(
                conn.execute(text(f'SELECT count(*) FROM "{t}"')).scalar_one()  # noqa: S608
                for t in tables
            )
    except Exception as exc:  # noqa: BLE001 - shown to the operator
        raise BackupError(f"cannot read the target database: {exc}") from None
    finally:
        engine.dispose()
    return rows, in_use or 0, revision


def _check_postgres_counts(url: URL, manifest: Manifest) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            wrong = {
                t: n
                for t, n in manifest.counts.items()
                if conn.execute(text(f'SELECT count(*) FROM "{t}"')).scalar_one() != n  # noqa: S608
            }
    finally:
        engine.dispose()
    if wrong:
        raise BackupError(f"the restored database's row counts differ from the manifest: {wrong}")


def _swap_uploads(stage: Path, cv_root: Path) -> None:
    """The backup's files take the place of ``cv/`` by renames in one directory."""
    new = stage / FILES / "cv"
    new.mkdir(parents=True, exist_ok=True)
    files.fsync_dir(new)
    old = None
    if cv_root.exists():
        old = stage / "cv.replaced"
        os.rename(cv_root, old)
    try:
        os.rename(new, cv_root)
    except BaseException:
        if old is not None:
            os.rename(old, cv_root)
        raise
    files.fsync_dir(cv_root.parent)


def _restore_secret(stage: Path, manifest: Manifest) -> str:
    """The backup's generated key replaces this install's (whose sessions are
    the ones of an empty or replaced install), unless ``ATS_SECRET_KEY`` is set."""
    if SECRET not in manifest.files:
        return "none"
    if os.environ.get("ATS_SECRET_KEY"):
        return "env"
    target = _secret_path()
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".secret_key-")
    with os.fdopen(fd, "w") as fh:
        fh.write((stage / SECRET).read_text().strip())
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, target)
    return "restored"
