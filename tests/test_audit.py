"""`.ci/audit` against a local OSV-compatible service: it must fail on a known
vulnerability and name it, pass a clean lock, and report (not hide) an audit
that could not reach the database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
AUDIT = ROOT / ".ci" / "audit"

VULN = {
    "id": "GHSA-test-0001",
    "summary": "a test advisory",
    "affected": [
        {
            "package": {"name": "flask", "ecosystem": "PyPI"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "9.9"}]}],
        }
    ],
}


class _Osv(BaseHTTPRequestHandler):
    vulnerable: set[str] = set()
    asked: list[str] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        query = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        name = query["package"]["name"]
        type(self).asked.append(name)
        body = json.dumps({"vulns": [VULN]} if name in self.vulnerable else {}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def osv():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Osv)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Osv.vulnerable, _Osv.asked = set(), []
    yield f"http://127.0.0.1:{server.server_address[1]}/v1/query", _Osv
    server.shutdown()
    server.server_close()


def _audit(lock: Path, url: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    environ = {**os.environ, "ATS_AUDIT_OSV_URL": url, "XDG_CACHE_HOME": str(tmp_path), **env}
    return subprocess.run(
        [sys.executable, str(AUDIT), str(lock)], capture_output=True, text=True, env=environ
    )


@pytest.fixture
def lock(tmp_path: Path) -> Path:
    path = tmp_path / "requirements.lock"
    path.write_text("flask==3.1.0\nitsdangerous==2.2.0\n")
    return path


def test_a_known_vulnerability_fails_the_audit_and_is_named(osv, lock, tmp_path):
    url, service = osv
    service.vulnerable = {"flask"}
    done = _audit(lock, url, tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "VULNERABLE: flask 3.1.0: GHSA-test-0001 (fixed in 9.9)" in done.stdout
    assert sorted(service.asked) == ["flask", "itsdangerous"]


def test_a_clean_lock_passes_and_says_what_was_audited(osv, lock, tmp_path):
    url, _ = osv
    done = _audit(lock, url, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 of 2 locked packages audited, 0 known issues" in done.stdout


def test_an_unreachable_database_is_reported_and_fails_when_strict(lock, tmp_path):
    url = "http://127.0.0.1:9/v1/query"  # discard port: nothing listens
    done = _audit(lock, url, tmp_path)
    assert done.returncode == 0
    assert "NOT AUDITED" in done.stderr
    assert _audit(lock, url, tmp_path, ATS_AUDIT_STRICT="1").returncode == 1


def _needed(name: str, extras: tuple[str, ...] = ()) -> dict[str, str]:
    """The installed distributions ``name[extras]`` needs, transitively: name -> version."""
    from importlib.metadata import PackageNotFoundError, distribution

    from packaging.requirements import Requirement

    found: dict[str, str] = {}
    todo = [(name, extras)]
    while todo:
        current, wanted = todo.pop()
        try:
            dist = distribution(current)
        except PackageNotFoundError:
            continue  # an optional dependency for another platform or Python
        key = dist.metadata["Name"].lower().replace("_", "-")
        if key in found and not wanted:
            continue
        found[key] = dist.version
        for text in dist.requires or []:
            req = Requirement(text)
            envs = [{"extra": e} for e in wanted] or [{"extra": ""}]
            if req.marker is None or any(req.marker.evaluate(env) for env in envs):
                todo.append((req.name, tuple(req.extras)))
    return found


def test_the_lock_pins_every_installed_dependency():
    """requirements.lock is what CI audits and what `make` installs against: a
    dependency added without `make lock` would go unaudited."""
    pinned = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            pinned[name.lower().replace("_", "-")] = version
    needed = _needed("ats", ("test",))
    for tool in ("ats", "pip", "setuptools", "wheel"):  # the app and the venv's installers
        needed.pop(tool, None)
    wrong = {n: v for n, v in needed.items() if pinned.get(n) != v}
    assert not wrong, f"run `make lock`: not pinned at the installed version: {wrong}"
