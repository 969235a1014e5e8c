"""A real server (gunicorn, its own SQLite file) and Debian's Chromium driven by
Playwright. One server and one browser per module: the journey tests build on
each other the way a recruiter would."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
CHROMIUM = os.environ.get("ATS_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = ROOT / "docs" / "screenshots"
# not third-party: data URLs and Chromium's own PDF viewer (the CV preview)
OWN = ("data:", "blob:", "chrome://", "chrome-extension://")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, base: str, env: dict[str, str]) -> None:
        self.base = base
        self.env = env

    def url(self, path: str) -> str:
        return self.base + path

    def api(self, token: str, method: str, path: str, body: dict | None = None) -> Any:
        """Call xapi2 over HTTP with a bearer token; the decoded JSON answer."""
        req = urllib.request.Request(
            self.url("/xapi2" + path),
            data=json.dumps(body).encode() if body is not None else None,
            method=method,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - loopback
            return json.loads(resp.read() or b"null")

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


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("browser")
    port = _free_port()
    env = {
        **os.environ,
        "ATS_DATABASE_URL": f"sqlite:///{tmp / 'ats.sqlite3'}",
        "ATS_SECRET_KEY": "browser-test",
        "ATS_DATA_DIR": str(tmp / "data"),
        "ATS_HOST": "127.0.0.1",
        "ATS_PORT": str(port),
        "ATS_WORKERS": "2",
    }
    srv = Server(f"http://127.0.0.1:{port}", env)
    srv.flask("db", "upgrade")
    log = open(tmp / "server.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [BIN / "gunicorn", "-c", "python:ats.gunicorn_conf", "app:app"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(srv.url("/healthz"), timeout=2):  # noqa: S310
                break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                log.close()
                raise RuntimeError((tmp / "server.log").read_text()) from None
            time.sleep(0.2)
    yield srv
    proc.terminate()
    proc.wait(timeout=30)
    log.close()
    text = (tmp / "server.log").read_text()
    assert "Traceback" not in text, text[-4000:]


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing; .ci/run installs Debian's chromium")
        pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium (make test does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-background-networking", "--disable-gpu"],
        )
        yield b
        b.close()


@pytest.fixture(scope="module")
def page(browser, server):
    context = browser.new_context(viewport={"width": 1360, "height": 860}, locale="en-GB")
    p = context.new_page()
    p.set_default_timeout(10_000)
    errors: list[str] = []
    p.on("pageerror", lambda exc: errors.append(str(exc)))
    # 4xx answers to a refused form are expected (and logged by Chromium as
    # "Failed to load resource"); missing files and server errors are not
    p.on(
        "console",
        lambda msg: (
            errors.append(msg.text)
            if msg.type == "error" and not msg.text.startswith("Failed to load resource")
            else None
        ),
    )
    p.on(
        "response",
        lambda r: (
            errors.append(f"{r.status} {r.url}") if r.status == 404 or r.status >= 500 else None
        ),
    )
    p.on(
        "request",
        lambda req: (
            errors.append(f"third-party request {req.url}")
            if not req.url.startswith(OWN + (server.base,))
            else None
        ),
    )
    yield p
    context.close()
    assert errors == [], errors


def shot(page, name: str) -> None:
    """Keep a screenshot of the page for the README."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=False)


@pytest.fixture
def screenshot():
    return shot
