"""A candidate applies in a real browser against a real server: the careers page
is switched on and a job published through the API, the candidate fills in the
form with a real PDF, is refused once (no privacy consent) without losing what
was typed, then succeeds; a recruiter sees the card on the kanban and the
answers and the CV on the application page."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
RECRUITER = {"email": "rita@acme.example", "password": "pw-velvet-12345"}


@pytest.fixture(scope="module")
def job(server):
    server.flask(
        "users",
        "create",
        "--email",
        "ops@acme.example",
        "--password",
        "velvet-harbour-42",
        "--admin",
    )
    server.flask(
        "users",
        "create",
        "--email",
        RECRUITER["email"],
        "--password",
        RECRUITER["password"],
        "--role",
        "recruiter",
    )
    token = server.flask(
        "tokens", "create", "--email", "ops@acme.example", "--scopes", "*"
    ).splitlines()[-1]
    server.api(
        token,
        "POST",
        "/data/company_profile",
        {
            "name": "Acme Robotics",
            "public_careers_enabled": True,
            "privacy_url": "https://acme.example/privacy",
        },
    )
    return server.api(
        token,
        "POST",
        "/data/job",
        {
            "title": "Robot Whisperer",
            "status": "open",
            "public": True,
            "screening_questions": [
                {"id": "years", "label": "Years with robots", "type": "number", "required": True},
                {"id": "shift", "label": "Shift", "type": "choice", "choices": ["Day", "Night"]},
            ],
            "knockout_questions": [
                {"id": "permit", "label": "Work permit?", "type": "yes_no", "reject_if": False}
            ],
        },
    )


def test_apply_with_a_pdf(page, server, job):
    page.goto(server.url(f"/careers/{job['data']['slug']}/apply"))
    expect(page.get_by_role("heading", name="Apply for Robot Whisperer")).to_be_visible()
    page.get_by_label("Full name").fill("Grace Hopper")
    page.get_by_label("E-mail").fill("grace@example.com")
    page.get_by_label("Phone").fill("+1 555 0100")
    page.get_by_label("CV").set_input_files(
        {"name": "grace.pdf", "mimeType": "application/pdf", "buffer": PDF}
    )
    page.get_by_label("Cover letter").fill("I debugged the first computer bug.")
    page.get_by_label("Years with robots").fill("12")
    page.get_by_label("Shift").select_option("Night")
    page.get_by_role("group", name="Work permit?").get_by_label("Yes").check()
    page.get_by_role("button", name="Send application").click()
    # no privacy consent: refused, with what was typed kept
    expect(page.locator("#privacy_consent-error")).to_have_text("required")
    expect(page.get_by_label("Full name")).to_have_value("Grace Hopper")
    expect(page.get_by_label("Years with robots")).to_have_value("12")
    expect(page.locator("#cv-error")).to_have_text("please choose the file again")
    page.get_by_label("CV").set_input_files(
        {"name": "grace.pdf", "mimeType": "application/pdf", "buffer": PDF}
    )
    page.get_by_label(re.compile("I agree that my data")).check()
    page.get_by_role("button", name="Send application").click()
    expect(page.get_by_role("heading", name="Thank you, Grace Hopper!")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/apply/thanks$"))


def test_the_recruiter_sees_the_application(page, server, job):
    page.goto(server.url(f"/jobs/{job['id']}"))
    page.get_by_label("E-mail").fill(RECRUITER["email"])
    page.get_by_label("Password").fill(RECRUITER["password"])
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name=re.compile("Robot Whisperer"))).to_be_visible()
    card = page.get_by_role("link", name="Grace Hopper")
    expect(card).to_be_visible()
    card.click()
    expect(page.get_by_text("I debugged the first computer bug.")).to_be_visible()
    answers = page.locator("section", has=page.get_by_role("heading", name="Answers"))
    expect(answers).to_contain_text("Years with robots")
    expect(answers).to_contain_text("Night")
    expect(answers).to_contain_text("Yes")
    expect(page.get_by_role("link", name=re.compile("Download CV"))).to_be_visible()
