"""Jobs pages and the kanban: forms from the field tables, moves that persist,
rejections that need a reason, and a board whose query count does not grow."""

from __future__ import annotations

import re

from sqlalchemy import event

from ats.extensions import db

HX = {"HX-Request": "true"}


def _errors(html: str) -> list[str]:
    return re.findall(r'class="error"[^>]*>([^<]+)<', html)


def test_job_list_filters_and_search(login, api):
    api.job(title="Backend Engineer", department="Engineering", status="open")
    api.job(title="Sales Lead", department="Sales", status="draft")
    client = login("recruiter")
    html = client.get("/jobs").get_data(as_text=True)
    assert "Backend Engineer" in html and "Sales Lead" in html
    html = client.get("/jobs?status=open").get_data(as_text=True)
    assert "Backend Engineer" in html and "Sales Lead" not in html
    html = client.get("/jobs?department=Sales").get_data(as_text=True)
    assert "Sales Lead" in html and "Backend Engineer" not in html
    r = client.get("/jobs?q=backend%20eng", headers=HX)
    fragment = r.get_data(as_text=True)
    assert "Backend Engineer" in fragment and "Sales Lead" not in fragment
    assert "<html" not in fragment and "HX-Request" in r.headers.get("Vary", "")


def test_create_job_with_questions(login):
    client = login("recruiter")
    r = client.post(
        "/jobs/new",
        data={
            "csrf_token": client.csrf,
            "title": "Data Engineer",
            "status": "open",
            "tags": "python, sql, python",
            "salary_min": "50000",
            "salary_max": "70000",
            "currency": "EUR",
            "screening_questions-0-label": "Years with SQL?",
            "screening_questions-0-type": "number",
            "screening_questions-0-required": "y",
            "screening_questions-1-label": "",
            "knockout_questions-0-label": "Work permit?",
            "knockout_questions-0-type": "yes_no",
            "knockout_questions-0-reject_if": "no",
        },
    )
    assert r.status_code == 303, _errors(r.get_data(as_text=True))
    job_id = r.headers["Location"].rsplit("/", 1)[1]
    job = client.get(f"/xapi2/data/job/{job_id}").get_json()["data"]
    assert job["tags"] == ["python", "sql"]
    assert job["slug"] == "data-engineer" and job["opened_at"]
    assert job["screening_questions"] == [
        {"id": "s1", "label": "Years with SQL?", "type": "number", "choices": [], "required": True}
    ]
    assert job["knockout_questions"][0]["reject_if"] is False
    edit = client.get(f"/jobs/{job_id}/edit").get_data(as_text=True)
    assert 'value="Work permit?"' in edit and 'value="no"' in edit


def test_invalid_job_keeps_what_was_typed(login, api):
    client = login("recruiter")
    before = api.get("/data/job").get_json()["total"]
    r = client.post(
        "/jobs/new",
        data={
            "csrf_token": client.csrf,
            "title": "",
            "department": "Platform <team>",
            "salary_min": "abc",
            "external_apply_url": "javascript:alert(1)",
        },
    )
    html = r.get_data(as_text=True)
    assert r.status_code == 400
    errors = _errors(html)
    assert "required" in errors and "must be a number" in errors
    assert "must be an absolute http or https URL" in errors
    assert 'value="Platform &lt;team&gt;"' in html and 'value="abc"' in html
    assert api.get("/data/job").get_json()["total"] == before


def test_same_rules_as_the_api(login, api):
    """A rule lives once: the page refuses what the API refuses, with the same words."""
    client = login("recruiter")
    form = client.post(
        "/jobs/new", data={"csrf_token": client.csrf, "title": "x", "headcount": "1.5"}
    )
    api_answer = api.post("/data/job", json={"title": "x", "headcount": 1.5}).get_json()
    assert api_answer["fields"]["headcount"] in _errors(form.get_data(as_text=True))


def test_interviewer_cannot_create_or_edit_jobs(login, api):
    job = api.job()
    client = login("interviewer")
    assert client.get("/jobs/new").status_code == 403
    assert (
        client.post("/jobs/new", data={"csrf_token": client.csrf, "title": "x"}).status_code == 403
    )
    assert client.get(f"/jobs/{job['id']}/edit").status_code == 403


def test_forms_need_csrf(login):
    client = login("recruiter")
    assert client.post("/jobs/new", data={"title": "No token"}).status_code == 400


def test_status_actions(login, api):
    job = api.job()
    client = login("recruiter")
    for action, expected in (("open", "open"), ("paused", "paused"), ("closed", "closed")):
        r = client.post(
            f"/jobs/{job['id']}/status", data={"csrf_token": client.csrf, "action": action}
        )
        assert r.status_code == 303
        assert api.get(f"/data/job/{job['id']}").get_json()["data"]["status"] == expected
    client.post(f"/jobs/{job['id']}/status", data={"csrf_token": client.csrf, "action": "archive"})
    assert api.get(f"/data/job/{job['id']}").get_json()["is_archived"] is True
    r = client.post(f"/jobs/{job['id']}/status", data={"csrf_token": client.csrf, "action": "x"})
    assert r.status_code == 400


def _board_apps(api, n):
    job = api.job(status="open")
    apps = [
        api.application(job=job, candidate=api.candidate(name=f"Person {i}", tags=[f"t{i}"]))
        for i in range(n)
    ]
    return job, apps


def test_board_shows_columns_cards_and_counts(login, api):
    job, apps = _board_apps(api, 3)
    api.patch(f"/data/application/{apps[2]['id']}", json={"stage": "review", "fit_score": 88})
    html = login("recruiter").get(f"/jobs/{job['id']}").get_data(as_text=True)
    assert re.search(r'id="count-new">2<', html) and re.search(r'id="count-review">1<', html)
    assert html.index("Person 0") < html.index("Person 1")  # position order
    assert 'title="Fit score">88<' in html


def test_board_query_count_does_not_grow_with_cards(app, login, api):
    client = login("recruiter")

    def queries_for(job_id):
        seen = []
        with app.app_context():
            engine = db.engine
            listener = lambda *a: seen.append(1)  # noqa: E731
            event.listen(engine, "before_cursor_execute", listener)
            try:
                assert client.get(f"/jobs/{job_id}").status_code == 200
            finally:
                event.remove(engine, "before_cursor_execute", listener)
        return len(seen)

    small, _ = _board_apps(api, 2)
    big, _ = _board_apps(api, 12)
    assert queries_for(small["id"]) == queries_for(big["id"])


def test_drag_within_and_between_columns_persists(login, api):
    job, apps = _board_apps(api, 3)
    a, b, c = (x["id"] for x in apps)
    client = login("recruiter")
    # drag c between a and b in the same column
    r = client.post(
        f"/applications/{c}/move",
        data={"csrf_token": client.csrf, "stage": "new", "after_id": a, "before_id": b},
        headers=HX,
    )
    assert r.status_code == 200
    order = api.get(f"/data/application?job_id={job['id']}&stage=new&sort=position").get_json()
    assert [x["id"] for x in order["items"]] == [a, c, b]
    # drag b to review: counts come back out of band
    r = client.post(
        f"/applications/{b}/move",
        data={"csrf_token": client.csrf, "stage": "review"},
        headers=HX,
    )
    html = r.get_data(as_text=True)
    assert 'id="count-new" hx-swap-oob="true">2<' in html
    assert 'id="count-review" hx-swap-oob="true">1<' in html
    moved = api.get(f"/data/application/{b}").get_json()["data"]
    assert moved["stage"] == "review" and moved["previous_stage"] == "new"
    # the reload shows the same thing
    page = client.get(f"/jobs/{job['id']}").get_data(as_text=True)
    assert re.search(r'id="count-review">1<', page)


def test_rejecting_needs_a_reason(login, api):
    _job, apps = _board_apps(api, 1)
    app_id = apps[0]["id"]
    client = login("recruiter")
    r = client.post(
        f"/applications/{app_id}/move",
        data={"csrf_token": client.csrf, "stage": "rejected"},
        headers=HX,
    )
    assert r.status_code == 422 and "say why" in r.get_data(as_text=True)
    assert api.get(f"/data/application/{app_id}").get_json()["data"]["stage"] == "new"
    r = client.post(
        f"/applications/{app_id}/move",
        data={
            "csrf_token": client.csrf,
            "stage": "rejected",
            "rejected_reason": "salary_mismatch",
            "rejected_note": "Asked for twice the budget",
        },
        headers=HX,
    )
    assert r.status_code == 200
    data = api.get(f"/data/application/{app_id}").get_json()["data"]
    assert data["stage"] == "rejected" and data["rejected_reason"] == "salary_mismatch"
    assert data["rejected_note"] == "Asked for twice the budget"


def test_keyboard_menu_returns_the_board_and_plain_form_redirects(login, api):
    job, apps = _board_apps(api, 2)
    client = login("recruiter")
    r = client.post(
        f"/applications/{apps[0]['id']}/move",
        data={"csrf_token": client.csrf, "stage": "offer", "view": "board"},
        headers=HX,
    )
    html = r.get_data(as_text=True)
    assert html.lstrip().startswith('<div class="board"') and re.search(
        r'id="count-offer">1<', html
    )
    r = client.post(
        f"/applications/{apps[1]['id']}/move", data={"csrf_token": client.csrf, "stage": "hired"}
    )
    assert r.status_code == 303 and r.headers["Location"] == f"/jobs/{job['id']}"


def test_move_refuses_bad_input(login, api):
    _job, apps = _board_apps(api, 1)
    client = login("recruiter")
    url = f"/applications/{apps[0]['id']}/move"
    r = client.post(url, data={"csrf_token": client.csrf, "stage": "nowhere"}, headers=HX)
    assert r.status_code == 422
    r = client.post(
        url, data={"csrf_token": client.csrf, "stage": "new", "after_id": "app_nope"}, headers=HX
    )
    assert r.status_code == 422
    assert client.post(url, data={"stage": "review"}, headers=HX).status_code == 400  # no CSRF
    r = client.post("/applications/app_missing/move", data={"csrf_token": client.csrf})
    assert r.status_code == 404


def test_dashboard_lists_open_jobs_with_stage_counts(login, api):
    job, apps = _board_apps(api, 2)
    api.patch(f"/data/application/{apps[0]['id']}", json={"stage": "screening"})
    html = login("recruiter").get("/").get_data(as_text=True)
    assert "Backend Engineer" in html and "Person 1" in html
    table = html[html.index('id="h-jobs"') :]
    row = table[
        table.index("Backend Engineer") : table.index("</tr>", table.index("Backend Engineer"))
    ]
    assert re.findall(r"<td>(\d*)</td>", row) == ["1", "", "1", "", "", "", "", ""]
