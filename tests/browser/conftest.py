"""A real server (gunicorn, its own SQLite file) and Debian's Chromium driven by
Playwright. One server and one browser per module: the journey tests build on
each other the way a recruiter would."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.live import ROOT, LiveServer

CHROMIUM = os.environ.get("ATS_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = ROOT / "docs" / "screenshots"
# not third-party: data URLs and Chromium's own PDF viewer (the CV preview)
OWN = ("data:", "blob:", "chrome://", "chrome-extension://")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    srv = LiveServer(tmp_path_factory.mktemp("browser"), workers=2).start()
    yield srv
    text = srv.stop()
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
