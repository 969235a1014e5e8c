"""``flask --app app backup PATH`` and ``restore PATH`` (ats/services/backup.py).

Pins: a backup of a running install taken while client processes write is a
consistent snapshot (every write acknowledged before it started is in it,
nothing that started after it ended is) holding the uploaded files; writers
are not held up while it runs; restored into a new install it has the same
rows and files, and the app serves them. Restore refuses a running or
non-empty install without ``--force``; with it, it replaces the data under a
running server, which then serves the backup's data. A damaged, truncated or
incomplete backup is refused with a message and a non-zero exit, never a
traceback, and nothing is changed. A backup from an older schema is migrated.
Each runs on SQLite and (``--db=postgres``) PostgreSQL."""

from __future__ import annotations

import io
import json
import shutil
import signal
import sqlite3
import tarfile
import time
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from ats import create_app
from ats.extensions import db
from ats.services import backup, files
from tests import databases as databases_module
from tests.live import LiveServer
from tests.load import Client, admin_token, entries, run_writers

PDF = b"%PDF-1.4\n% a CV\n"


def _app_for(env: dict[str, str]) -> Flask:
    """The app as ``flask --app app`` would build it for this install."""
    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": env["ATS_DATABASE_URL"],
            "SECRET_KEY": env["ATS_SECRET_KEY"],
            "DATA_DIR": env["ATS_DATA_DIR"],
        }
    )


def _invoke(app: Flask, *args: str) -> Any:
    result = app.test_cli_runner().invoke(args=list(args))
    with app.app_context():
        db.engine.dispose()
    return result


def _rows(url: str, sql: str) -> list[tuple]:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql))]
    finally:
        engine.dispose()


def _files(data_dir: Path) -> dict[str, bytes]:
    root = data_dir / "cv"
    return {p.name: p.read_bytes() for p in sorted(root.iterdir())} if root.is_dir() else {}


def _acked(folder: Path, model: str, before: float | None = None, after: float | None = None):
    """Ids of acknowledged creates whose request ended before / started after a time."""
    out = set()
    for e in entries(folder):
        if e.get("op") != "create" or e.get("model") != model or "id" not in e:
            continue
        if before is not None and e["t"] + e["ms"] / 1000 < before:
            out.add(e["id"])
        if after is not None and e["t"] > after:
            out.add(e["id"])
    return out


def test_backup_under_load_restores_into_a_new_install(tmp_path: Path, databases) -> None:
    (tmp_path / "a").mkdir()
    live = LiveServer(tmp_path / "a", workers=2).start()
    try:
        token = admin_token(live.env)
        jobs = [live.api(token, "POST", "/data/job", {"title": f"Job {i}"})["id"] for i in (1, 2)]
        source = _app_for(live.env)
        with source.app_context():  # uploaded CVs, as the upload form stores them
            blobs = [files.store_cv(io.BytesIO(PDF + bytes([i]) * 100)).id for i in range(3)]
        cand = live.api(token, "POST", "/data/candidate", {"name": "With CV"})
        app_id = live.api(
            token,
            "POST",
            "/data/application",
            {"job_id": jobs[0], "candidate_id": cand["id"], "cv_blob_id": blobs[0]},
        )["id"]

        load, stop = tmp_path / "load", tmp_path / "stop"
        load.mkdir()
        writers = run_writers(live.base, token, jobs, 60, load, 2, stop_path=stop)
        deadline = time.monotonic() + 30
        while sum(1 for e in entries(load) if e.get("status") in (200, 201)) < 40:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        started = time.time()
        result = _invoke(source, "backup", str(tmp_path / "backup.tar.gz"))
        ended = time.time()
        time.sleep(0.3)
        stop.touch()
        for proc in writers:
            proc.join(30)
        assert result.exit_code == 0 and "backed up" in result.output, result.output

        # the writers wrote before, while and after it ran, and never failed
        # (how long a write waits during a backup: bench/stress.py --backup)
        assert any(e["t"] < started for e in entries(load))
        assert any(e["t"] > ended for e in entries(load))
        assert all(e.get("status") in (200, 201) for e in entries(load))

        # a new install: empty database and data folder, the same secret key
        (tmp_path / "b").mkdir()
        new_env = {
            **live.env,
            "ATS_DATABASE_URL": databases_module.active(tmp_path).empty(tmp_path / "b"),
            "ATS_DATA_DIR": str(tmp_path / "b" / "data"),
        }
        target = _app_for(new_env)
        result = _invoke(target, "restore", str(tmp_path / "backup.tar.gz"))
        assert result.exit_code == 0, result.output
        assert "restored" in result.output and "warning" not in result.output

        url_a, url_b = live.env["ATS_DATABASE_URL"], new_env["ATS_DATABASE_URL"]
        restored = {r[0] for r in _rows(url_b, "SELECT id FROM candidate")}
        assert _acked(load, "candidate", before=started) <= restored  # all acknowledged ones
        assert not _acked(load, "candidate", after=ended) & restored  # nothing from later
        manifest = json.loads(
            tarfile.open(tmp_path / "backup.tar.gz").extractfile("manifest.json").read()
        )
        for table, count in manifest["counts"].items():
            assert _rows(url_b, f'SELECT count(*) FROM "{table}"') == [(count,)], table
        # rows the writers never change are the same in both
        for sql in (
            "SELECT id, name, email FROM candidate ORDER BY id",
            "SELECT id, parent_id, body FROM application_note ORDER BY id",
            "SELECT id, job_id, candidate_id, cv_blob_id FROM application ORDER BY id",
        ):
            rows_b = _rows(url_b, sql)
            assert rows_b and set(rows_b) <= set(_rows(url_a, sql))
        assert _files(tmp_path / "b" / "data") == _files(tmp_path / "a" / "data")
        assert len(_files(tmp_path / "b" / "data")) == 3

        # the app serves the restored data, CV included
        with target.app_context():
            db.engine.dispose()
        api = target.test_client()
        got = api.get(
            f"/xapi2/data/application/{app_id}", headers={"Authorization": f"Bearer {token}"}
        )
        assert got.status_code == 200 and got.get_json()["data"]["cv_blob_id"] == blobs[0]
        with target.app_context():
            assert files.find(blobs[0]).path.read_bytes() == PDF + bytes([0]) * 100
            db.engine.dispose()

        # over the running install: refused, then --force replaces the data under it
        running = _app_for(live.env)
        result = _invoke(running, "restore", str(tmp_path / "backup.tar.gz"))
        assert result.exit_code == 1 and "Traceback" not in result.output
        assert "another process has the database open" in result.output
        total = manifest["counts"]["candidate"]
        client = Client(live.base, token)
        assert client.request("GET", "/data/candidate?limit=1")[1]["total"] > total
        result = _invoke(running, "restore", "--force", str(tmp_path / "backup.tar.gz"))
        assert result.exit_code == 0, result.output
        assert client.request("GET", "/data/candidate?limit=1")[1]["total"] == total
        status, body, _ = client.request("POST", "/data/candidate", {"name": "After restore"})
        assert status == 201, body
        client.close()
    finally:
        if live.proc is not None and live.proc.poll() is None:
            live.proc.send_signal(signal.SIGINT)  # gunicorn's quick shutdown
        log = live.stop()
    assert "Traceback" not in log and "database is locked" not in log
    if url_a.startswith("sqlite"):
        with sqlite3.connect(url_a.removeprefix("sqlite:///")) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]


# --- damaged backups -------------------------------------------------------------------


@pytest.fixture
def made(app: Flask, api, tmp_path: Path) -> dict[str, Path]:
    """A small install (a job, an application with a CV) and its backup, both forms."""
    job = api.job()
    with app.app_context():
        blob = files.store_cv(io.BytesIO(PDF)).id
    api.application(job=job, cv_blob_id=blob)
    for name in ("ok", "ok.tar"):
        result = app.test_cli_runner().invoke(args=["backup", str(tmp_path / name)])
        assert result.exit_code == 0, result.output
    return {"dir": tmp_path / "ok", "tar": tmp_path / "ok.tar"}


def _damage(made: dict[str, Path], tmp_path: Path, how: str) -> Path:
    bad = tmp_path / "bad"
    if how == "truncated archive":
        data = made["tar"].read_bytes()
        bad = tmp_path / "bad.tar"
        bad.write_bytes(data[: len(data) // 2])
        return bad
    if how == "not an archive":
        bad = tmp_path / "bad.tar.gz"
        bad.write_bytes(b"hello")
        return bad
    shutil.copytree(made["dir"], bad)
    manifest = json.loads((bad / "manifest.json").read_text())
    database = bad / manifest["database"]["file"]
    if how == "flipped byte":
        data = bytearray(database.read_bytes())
        data[len(data) // 2] ^= 0xFF
        database.write_bytes(bytes(data))
    elif how == "missing file":
        next((bad / "files" / "cv").iterdir()).unlink()
    elif how == "no manifest":
        (bad / "manifest.json").unlink()
    elif how == "unsafe manifest":
        manifest["files"]["../../etc/passwd"] = {"bytes": 1, "sha256": "0"}
        (bad / "manifest.json").write_text(json.dumps(manifest))
    elif how == "corrupt database, checksum fixed":
        data = bytearray(database.read_bytes())
        middle = len(data) // 2 // 4096 * 4096
        data[middle : middle + 8192] = b"\x00" * 8192  # two SQLite pages, or the dump's data
        database.write_bytes(bytes(data))
        manifest["files"][database.name] = {
            "bytes": len(data),
            "sha256": backup._sha256_file(database)[0],
        }
        (bad / "manifest.json").write_text(json.dumps(manifest))
    return bad


DAMAGE = {
    "truncated archive": "truncated",
    "not an archive": "not a backup archive",
    "flipped byte": "the backup is damaged: database",
    "missing file": "the backup is incomplete: files/cv/blob_",
    "no manifest": "is not an ATS backup: it has no manifest.json",
    "unsafe manifest": "unsafe path",
    "corrupt database, checksum fixed": "",  # SQLite's check or pg_restore's, below
}


@pytest.mark.parametrize("how", DAMAGE)
def test_a_damaged_backup_is_refused_and_nothing_changes(app, made, tmp_path, how) -> None:
    bad = _damage(made, tmp_path, how)
    data_dir = Path(app.config["DATA_DIR"])
    before = _files(data_dir)
    for args in (["restore", str(bad)], ["restore", "--check", str(bad)]):
        result = app.test_cli_runner().invoke(args=args)
        assert result.exit_code == 1, result.output
        assert "Traceback" not in result.output and result.output.startswith(
            "Error: restore failed"
        )
        sqlite = made["dir"].joinpath("database.sqlite3").exists()
        expected = DAMAGE[how] or ("the backup's database" if sqlite else "pg_restore")
        assert expected in result.output
    assert _files(data_dir) == before
    assert not list(data_dir.glob(".restore-*"))  # the staging area is gone
    assert not (tmp_path.parent / "passwd").exists()


def test_bad_paths_say_what_is_wrong(app, made, tmp_path) -> None:
    cases = [
        (["backup", str(made["dir"])], "exists: name a new file or directory"),
        (["backup", str(tmp_path / "no" / "such" / "dir")], "is not a directory"),
        (["restore", str(tmp_path / "nothing-here")], "does not exist"),
    ]
    for args, message in cases:
        result = app.test_cli_runner().invoke(args=args)
        assert result.exit_code == 1 and message in result.output, result.output
        assert "Traceback" not in result.output


def test_check_reads_a_good_backup_and_a_non_empty_install_is_refused(app, made) -> None:
    result = app.test_cli_runner().invoke(args=["restore", "--check", str(made["tar"])])
    assert result.exit_code == 0 and "is complete" in result.output, result.output
    result = app.test_cli_runner().invoke(args=["restore", str(made["dir"])])
    assert result.exit_code == 1
    assert "not empty" in result.output or "another process" in result.output


def test_a_backup_from_an_older_schema_is_migrated(tmp_path: Path, databases) -> None:
    from flask_migrate import upgrade

    from ats import MIGRATIONS

    older, head = [r.revision for r in backup._script().walk_revisions()][1::-1]
    envs = []
    for name in ("old", "new"):
        (tmp_path / name).mkdir()
        url = databases_module.active(tmp_path).empty(tmp_path / name)
        envs.append(
            {
                "ATS_DATABASE_URL": url,
                "ATS_SECRET_KEY": "k",
                "ATS_DATA_DIR": str(tmp_path / name / "data"),
            }
        )
    old = _app_for(envs[0])
    with old.app_context():
        upgrade(directory=MIGRATIONS, revision=older)
        db.engine.dispose()
    result = _invoke(old, "backup", str(tmp_path / "old.tar"))
    assert result.exit_code == 0, result.output
    assert f"revision {older}" in result.output
    result = _invoke(_app_for(envs[1]), "restore", str(tmp_path / "old.tar"))
    assert result.exit_code == 0, result.output
    assert f"migrated the schema from {older} to {head}" in result.output
    assert _rows(envs[1]["ATS_DATABASE_URL"], "SELECT version_num FROM alembic_version") == [
        (head,)
    ]


def test_the_generated_secret_key_travels_with_the_backup(app, made, tmp_path, monkeypatch):
    """API token hashes are keyed with SECRET_KEY: a backup of an install that
    generated its key holds it, and restore puts it back (instance/secret_key)."""
    key_file = tmp_path / "instance" / "secret_key"
    key_file.parent.mkdir()
    key_file.write_text(app.config["SECRET_KEY"])
    monkeypatch.setattr(backup, "_secret_path", lambda: key_file)
    monkeypatch.delenv("ATS_SECRET_KEY", raising=False)
    result = app.test_cli_runner().invoke(args=["backup", str(tmp_path / "with-key")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "with-key" / "secret_key").read_text() == app.config["SECRET_KEY"]
    manifest = json.loads((tmp_path / "with-key" / "manifest.json").read_text())
    assert manifest["secret_key_id"] == backup.key_id(app.config["SECRET_KEY"])
    assert app.config["SECRET_KEY"] not in json.dumps(manifest)
    key_file.write_text("another key")
    with app.app_context():
        stage = tmp_path / "with-key"
        assert backup._restore_secret(stage, backup.Manifest.from_json(manifest)) == "restored"
    assert key_file.read_text() == app.config["SECRET_KEY"]
