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


def _children(pid: int) -> list[int]:
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
        done = subprocess.run(
            [BIN / "flask", "--app", "app", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        return done.stdout

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
        self.flask("db", "upgrade")
        log = open(self.log_path, "w")  # noqa: SIM115 - the server writes it until stop()
        self.proc = subprocess.Popen(
            [BIN / "gunicorn", "-c", "python:ats.gunicorn_conf", "app:app"],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()  # the child holds its own descriptor
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(self.url("/healthz"), timeout=2):  # noqa: S310
                    return self
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(self.log_path.read_text()) from None
                time.sleep(0.2)

    def stop(self) -> str:
        """Stop the server; its log."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                # A worker forked just as the master got SIGTERM inherits the
                # master's handlers and misses the signal; gunicorn would wait
                # its 30 s graceful timeout for it. The test is over: kill them.
                for pid in _children(self.proc.pid):
                    os.kill(pid, signal.SIGKILL)
                self.proc.kill()
                self.proc.wait(timeout=10)
        return self.log_path.read_text() if self.log_path.exists() else ""
