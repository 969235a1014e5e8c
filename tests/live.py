"""A real server for tests that need one: gunicorn on a free port with its own
database (SQLite file or PostgreSQL database, see tests/databases.py) and data
directory, started and stopped by the fixtures that use it.

Operator commands (`flask --app app ...`) run against the same database."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from tests import databases

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (gunicorn's workers), from /proc."""
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        if f"\nPPid:\t{pid}\n" in text:
            found.append(int(status.parent.name))
    return found


def flask(env: dict[str, str], *args: str, timeout: float | None = 60) -> str:
    """Run an operator command (`flask --app app ...`) with ``env``; its stdout."""
    done = subprocess.run(
        [BIN / "flask", "--app", "app", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=timeout,
    )
    return done.stdout


def start_gunicorn(
    env: dict[str, str], log_path: Path, timeout: float = 30
) -> subprocess.Popen[bytes]:
    """Start the server as `make run` does: ``flask db upgrade``, then gunicorn with
    ats/gunicorn_conf.py (which reads ``ATS_HOST``, ``ATS_PORT``, ``ATS_WORKERS``...
    from ``env``), its output to ``log_path``. Returns once /healthz answers; if it
    does not within ``timeout`` seconds, stops it and raises with the log."""
    flask(env, "db", "upgrade")
    log = open(log_path, "w")  # noqa: SIM115 - the server writes it until stopped
    proc = subprocess.Popen(
        [BIN / "gunicorn", "-c", "python:ats.gunicorn_conf", "app:app"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()  # the child holds its own descriptor
    health = f"http://{env['ATS_HOST']}:{env['ATS_PORT']}/healthz"
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(health, timeout=2):  # noqa: S310 - loopback
                return proc
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                stop_gunicorn(proc)
                raise RuntimeError(log_path.read_text()) from None
            time.sleep(0.2)


def stop_gunicorn(proc: subprocess.Popen[bytes], grace: float = 10) -> None:
    """SIGTERM, and after ``grace`` seconds SIGKILL for gunicorn and its workers."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        # A worker forked just as the master got SIGTERM inherits the
        # master's handlers and misses the signal; gunicorn would wait
        # its 30 s graceful timeout for it. We are done with it: kill them.
        for pid in children(proc.pid):
            os.kill(pid, signal.SIGKILL)
        proc.kill()
        proc.wait(timeout=10)


class LiveServer:
    def __init__(self, tmp: Path, workers: int = 2, **env: str) -> None:
        self.tmp = tmp
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp / "server.log"
        self.env = {
            **os.environ,
            "ATS_DATABASE_URL": databases.active(tmp).empty(tmp),
            "ATS_SECRET_KEY": "live-test",
            "ATS_DATA_DIR": str(tmp / "data"),
            "ATS_HOST": "127.0.0.1",
            "ATS_PORT": str(self.port),
            "ATS_WORKERS": str(workers),
            **env,
        }
        self.proc: subprocess.Popen[bytes] | None = None

    def url(self, path: str) -> str:
        return self.base + path

    def flask(self, *args: str) -> str:
        """Run an operator command against this server's database; its stdout."""
        return flask(self.env, *args)

    def admin_token(self, email: str = "ops@example.com", scopes: str = "*") -> str:
        """A user (made on first use) and a new token of theirs with these scopes."""
        try:
            self.flask("users", "create", "--email", email, "--password", "s3cret-pw!", "--admin")
        except subprocess.CalledProcessError as exc:
            if "exists" not in exc.stderr:
                raise
        return self.flask("tokens", "create", "--email", email, "--scopes", scopes).split()[-1]

    def api(self, token: str, method: str, path: str, body: dict | None = None) -> Any:
        """Call xapi2 with a bearer token; the decoded JSON answer (raises on 4xx/5xx)."""
        req = urllib.request.Request(
            self.url("/xapi2" + path),
            data=json.dumps(body).encode() if body is not None else None,
            method=method,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310 - loopback
            return json.loads(resp.read() or b"null")

    def request(
        self, token: str, method: str, path: str, body: dict | None = None
    ) -> tuple[int, Any]:
        """Like api(), but (status, body) for errors too."""
        try:
            return 200, self.api(token, method, path, body)
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")

    def start(self) -> LiveServer:
        self.proc = start_gunicorn(self.env, self.log_path)
        return self

    def stop(self) -> str:
        """Stop the server; its log."""
        if self.proc is not None:
            stop_gunicorn(self.proc)
        return self.log_path.read_text() if self.log_path.exists() else ""
