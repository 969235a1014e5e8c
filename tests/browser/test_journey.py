"""A recruiter's first day, in a real browser against a real server: first-run
setup, a job with screening questions, candidates moving across the kanban by
mouse and by keyboard, a rejection with its reason, all surviving a reload."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

ADMIN = {"email": "ann@acme.example", "password": "correct horse 1"}


def test_first_run_setup(page, server):
    page.goto(server.url("/"))
    expect(page).to_have_url(re.compile(r"/setup$"))
    page.get_by_label("Company name").fill("Acme Robotics")
    page.get_by_label("Your name").fill("Ann Admin")
    page.get_by_label("E-mail").fill(ADMIN["email"])
    page.get_by_label("Password").fill(ADMIN["password"])
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    expect(page.locator(".brand")).to_have_text("Acme Robotics")


def test_create_a_job_with_questions(page, server):
    page.get_by_role("link", name="Jobs", exact=True).click()
    page.get_by_role("link", name="New job").click()
    page.get_by_label("Title").fill("Robotics Engineer")
    page.get_by_label("Status").select_option("open")
    page.get_by_label("Department").fill("Engineering")
    page.get_by_label("Tags").fill("ros, c++")
    page.get_by_label("Salary min").fill("60000")
    page.get_by_label("Salary max").fill("50000")  # wrong on purpose
    page.locator("#screening_questions").get_by_label("Question").fill("Years of C++?")
    page.locator("#screening_questions").get_by_label("Answer type").select_option("number")
    page.locator("#screening_questions").get_by_role("button", name="Add question").click()
    expect(page.locator("#screening_questions fieldset.question")).to_have_count(2)
    page.get_by_role("button", name="Save job").click()
    # refused, with the reason next to the field and nothing typed lost
    expect(page.locator(".has-error .error")).to_contain_text("must not exceed")
    expect(page.get_by_label("Title")).to_have_value("Robotics Engineer")
    expect(page.locator("#screening_questions").get_by_label("Question").first).to_have_value(
        "Years of C++?"
    )
    page.get_by_label("Salary max").fill("80000")
    page.get_by_role("button", name="Save job").click()
    expect(page.get_by_role("heading", name=re.compile("Robotics Engineer"))).to_be_visible()
    expect(page.locator(".column")).to_have_count(8)


@pytest.fixture(scope="module")
def seeded(server):
    """Candidates arrive (as they would from the careers page) through the API."""
    server.flask(
        "users", "create", "--email", "bot@acme.example", "--password", "velvet-harbour-42"
    )
    token = server.flask(
        "tokens", "create", "--email", "bot@acme.example", "--scopes", "*"
    ).splitlines()[-1]
    jobs = server.api(token, "GET", "/data/job?title=Robotics%20Engineer")["items"]
    job = jobs[0]
    names = ["Grace Hopper", "Alan Turing", "Katherine Johnson"]
    for i, name in enumerate(names):
        cand = server.api(token, "POST", "/data/candidate", {"name": name, "tags": [f"t{i}"]})
        server.api(
            token,
            "POST",
            "/data/application",
            {"job_id": job["id"], "candidate_id": cand["id"], "fit_score": 90 - 20 * i},
        )
    return job


def _column(page, stage):
    return page.locator(f'.cards[data-stage="{stage}"]')


def _drag(page, card, target):
    """Press, move in small steps, release: how a hand drags (SortableJS needs the moves)."""
    box = card.locator(".meta").bounding_box()
    goal = target.bounding_box()
    page.mouse.move(box["x"] + 10, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + 30, box["y"] + box["height"] / 2 + 10, steps=5)
    page.mouse.move(goal["x"] + goal["width"] / 2, goal["y"] + 20, steps=15)
    page.mouse.move(goal["x"] + goal["width"] / 2, goal["y"] + 24, steps=3)
    page.mouse.up()


def test_drag_a_card_to_another_column(page, server, seeded, screenshot):
    page.goto(server.url(f"/jobs/{seeded['id']}"))
    expect(_column(page, "new").locator(".kcard")).to_have_count(3)
    card = _column(page, "new").locator(".kcard", has_text="Alan Turing")
    _drag(page, card, _column(page, "screening"))
    expect(_column(page, "screening").locator(".kcard")).to_have_count(1)
    expect(page.locator("#count-screening")).to_have_text("1")
    expect(page.locator("#count-new")).to_have_text("2")
    page.reload()
    expect(_column(page, "screening").locator(".kcard")).to_have_text(re.compile("Alan Turing"))
    screenshot(page, "kanban")


def test_keyboard_move_dialog(page, server, seeded):
    page.goto(server.url(f"/jobs/{seeded['id']}"))
    button = _column(page, "new").locator(".kcard", has_text="Grace Hopper").locator(".move-open")
    button.focus()
    page.keyboard.press("Enter")
    dialog = page.locator("#move-dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_label("Stage").select_option("offer")
    dialog.get_by_role("button", name="Move").click()
    expect(_column(page, "offer").locator(".kcard")).to_have_text(re.compile("Grace Hopper"))
    expect(page.locator("#count-offer")).to_have_text("1")
    page.reload()
    expect(_column(page, "offer").locator(".kcard")).to_have_count(1)


def test_reject_asks_for_a_reason(page, server, seeded):
    page.goto(server.url(f"/jobs/{seeded['id']}"))
    card = _column(page, "new").locator(".kcard", has_text="Katherine Johnson")
    _drag(page, card, _column(page, "rejected"))
    dialog = page.locator("#reject-dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_label("Reason").select_option("salary_mismatch")
    dialog.get_by_label("Note (optional)").fill("Above the band")
    dialog.get_by_role("button", name="Reject").click()
    expect(page.locator("#count-rejected")).to_have_text("1")
    page.reload()
    expect(_column(page, "rejected").locator(".kcard")).to_have_text(
        re.compile("Katherine Johnson")
    )


def test_filter_cards(page, server, seeded):
    page.goto(server.url(f"/jobs/{seeded['id']}"))
    page.get_by_label("Filter cards").fill("turing")
    expect(page.locator(".kcard:visible")).to_have_count(1)
    page.get_by_label("Filter cards").fill("")
    expect(page.locator(".kcard:visible")).to_have_count(3)


def test_dashboard_shows_the_pipeline(page, server, seeded, screenshot):
    page.goto(server.url("/"))
    row = page.locator("tr", has_text="Robotics Engineer")
    expect(row).to_be_visible()
    screenshot(page, "dashboard")


def test_add_a_candidate_to_the_job_by_hand(page, server, seeded):
    page.goto(server.url(f"/jobs/{seeded['id']}"))
    page.get_by_role("link", name="Add candidate").click()
    page.get_by_label("Name").fill("Ada Lovelace")
    page.get_by_label("Email").fill("ada@example.org")
    page.get_by_label("Tags").fill("math")
    page.get_by_role("button", name="Add candidate").click()
    expect(page.get_by_role("heading", name=re.compile("Ada Lovelace"))).to_be_visible()
    page.goto(server.url(f"/jobs/{seeded['id']}"))
    expect(_column(page, "new").locator(".kcard", has_text="Ada Lovelace")).to_be_visible()


def test_pinned_note_and_an_interview_on_the_application(page, server, seeded, screenshot):
    page.goto(server.url(f"/jobs/{seeded['id']}"))
    page.locator(".kcard", has_text="Alan Turing").get_by_role("link", name="Alan Turing").click()
    expect(page.get_by_role("heading", name=re.compile("Alan Turing"))).to_be_visible()
    notes = page.locator("section.notes")
    body = "Strong **systems** background.\n\n<script>alert(1)</script>"
    notes.get_by_label("New note").fill(body)
    notes.get_by_label("Pin").check()
    notes.get_by_role("button", name="Add note").click()
    note = page.locator(".note.pinned")
    expect(note.locator("strong", has_text="systems")).to_be_visible()
    assert page.locator("section.notes script").count() == 0
    page.get_by_role("link", name="Schedule an interview").click()
    page.get_by_label("Kind").select_option("video")
    page.get_by_label("Date and time").fill("2031-03-04T10:30")
    page.get_by_label("Duration (minutes)").fill("45")
    page.get_by_label("Meeting URL").fill("https://meet.example.org/alan")
    page.get_by_role("button", name="Schedule interview").click()
    expect(page.locator("#interviews")).to_contain_text("10:30")
    page.reload()
    expect(page.locator(".note.pinned")).to_contain_text("background")
    screenshot(page, "application")


def test_change_the_company_profile(page, server, screenshot):
    page.goto(server.url("/settings/company"))
    page.get_by_label("Display name").fill("Acme Robotics GmbH")
    page.get_by_label("Accent color").fill("#zzz")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".has-error .error")).to_contain_text("must match")
    expect(page.get_by_label("Display name")).to_have_value("Acme Robotics GmbH")
    page.get_by_label("Accent color").fill("#1f7a5a")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".brand")).to_have_text("Acme Robotics GmbH")
    screenshot(page, "settings")


def test_publish_from_the_ui_and_apply_in_german(page, server, screenshot):
    """Careers page switched on in Settings, the job made public and German in its
    form: it appears on /careers, and a candidate applies in German with a CV."""
    page.goto(server.url("/settings/company"))
    page.get_by_label("Public careers enabled").check()
    page.get_by_label("Privacy URL").fill("https://acme.example/privacy")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".flash-success")).to_be_visible()
    page.goto(server.url("/jobs"))
    page.get_by_role("link", name="Robotics Engineer").click()
    page.get_by_role("link", name="Edit job").click()
    page.get_by_label("Public").check()
    page.get_by_label("Language").fill("de")
    page.get_by_role("button", name="Save job").click()
    expect(page.get_by_role("heading", name=re.compile("Robotics Engineer"))).to_be_visible()

    visitor = page.context.browser.new_context(locale="de-DE")
    v = visitor.new_page()
    v.goto(server.url("/careers"))
    v.get_by_role("link", name="Robotics Engineer").click()
    expect(v.locator("html")).to_have_attribute("lang", "de")
    screenshot(v, "careers-job")
    v.get_by_role("link", name="Jetzt bewerben").click()
    expect(v.get_by_role("heading", name="Bewerbung als Robotics Engineer")).to_be_visible()
    v.get_by_label("Vollständiger Name").fill("Emmy Noether")
    v.get_by_label("E-Mail").fill("emmy@example.org")
    v.locator("input[type=file]").set_input_files(
        {"name": "emmy.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4\n%%EOF\n"}
    )
    v.get_by_label("Years of C++?").fill("9")
    v.get_by_label(re.compile("Ich bin damit einverstanden")).check()
    v.get_by_role("button", name="Bewerbung absenden").click()
    expect(v.get_by_role("heading", name="Vielen Dank, Emmy Noether!")).to_be_visible()
    visitor.close()

    page.goto(server.url("/jobs"))
    page.get_by_role("link", name="Robotics Engineer").click()
    expect(_column(page, "new").locator(".kcard", has_text="Emmy Noether")).to_be_visible()


def test_log_out_and_back_in(page, server):
    page.goto(server.url("/"))
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    page.goto(server.url("/jobs"))
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.get_by_label("E-mail").fill(ADMIN["email"])
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("Wrong e-mail or password")
    expect(page.get_by_label("E-mail")).to_have_value(ADMIN["email"])
    page.get_by_label("Password").fill(ADMIN["password"])
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/jobs$"))
    expect(page.get_by_role("link", name="Robotics Engineer")).to_be_visible()
