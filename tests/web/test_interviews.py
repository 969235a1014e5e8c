"""Interview pages: scheduling in the recruiter's own time zone (stored as UTC),
the API's field rules on the form, reschedule / cancel / outcome through the
services, the agenda grouped by local day with a "mine" filter, and the guards
(CSRF, role, unknown ids)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from flask import render_template
from flask_login import login_user
from sqlalchemy import event

from ats import fields as F
from ats.extensions import db
from ats.models import User
from ats.services import records
from ats.services.auth import actor_for_user
from ats.web.interviews import interviews_for_application

HX = {"HX-Request": "true"}
NEXT_YEAR = date.today().year + 1


def _errors(html: str) -> list[str]:
    return re.findall(r'class="error"[^>]*>([^<]+)<', html)


def _set_zone(app, user_id: str, zone: str) -> None:
    with app.app_context():
        db.session.get(User, user_id).timezone = zone
        db.session.commit()


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _interview(api, application, **data):
    return api.create("interview", application_id=application["id"], **data)


def _get(api, interview):
    return api.get(f"/data/interview/{interview['id']}").get_json()["data"]


@pytest.fixture
def recruiter(app, login):
    client = login("recruiter")
    _set_zone(app, client.user_id, "Europe/Berlin")
    return client


# --- scheduling ---------------------------------------------------------------


def test_schedule_stores_utc_from_the_users_zone(recruiter, api, make_user):
    panel = make_user("panel@example.com", "interviewer")
    application = api.application()
    url = f"/interviews/new?application_id={application['id']}"
    page = recruiter.get(url).get_data(as_text=True)
    assert 'type="datetime-local"' in page and "Europe/Berlin" in page
    assert "Ada Lovelace" in page and "Backend Engineer" in page
    assert 'name="send_invite"' in page and 'name="interviewer_ids"' in page

    r = recruiter.post(
        url,
        data={
            "csrf_token": recruiter.csrf,
            "kind": "video",
            "title": "Technical interview",
            "scheduled_at": f"{NEXT_YEAR}-11-10T10:00",
            "duration_minutes": "45",
            "interviewer_id": recruiter.user_id,
            "interviewer_ids": [panel],
            "location": "",
            "meeting_url": "https://meet.example.com/abc",
            "agenda": "System design\nQuestions",
            "send_invite": "y",
        },
    )
    assert r.status_code == 303, _errors(r.get_data(as_text=True))
    assert r.headers["Location"].endswith(f"/applications/{application['id']}")
    [stored] = api.get(f"/data/interview?application_id={application['id']}").get_json()["items"]
    data = stored["data"]
    # 10:00 in Berlin in November (CET, UTC+1) is 09:00 UTC
    assert data["scheduled_at"] == f"{NEXT_YEAR}-11-10T09:00:00.000000Z"
    assert data["status"] == "scheduled" and data["kind"] == "video"
    assert data["duration_minutes"] == 45 and data["send_invite"] is True
    assert data["interviewer_id"] == recruiter.user_id and data["interviewer_ids"] == [panel]
    assert data["candidate_id"] == application["data"]["candidate_id"]
    assert data["job_id"] == application["data"]["job_id"]
    assert data["location"] is None and data["agenda"] == "System design\nQuestions"

    # the application page lists it, shown back in Berlin time
    detail = recruiter.get(r.headers["Location"]).get_data(as_text=True)
    assert "Technical interview" in detail and "10:00 CET" in detail
    assert "panel" in detail  # the panel member's name


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("duration_minutes", "0", "must be at least 1"),
        ("meeting_url", "javascript:alert(1)", "must be an absolute http or https URL"),
        ("scheduled_at", "tomorrow-ish", "must be a date and time"),
    ],
)
def test_invalid_schedule_keeps_what_was_typed(recruiter, api, field, value, message):
    application = api.application()
    data = {
        "csrf_token": recruiter.csrf,
        "title": "Culture <fit>",
        "scheduled_at": f"{NEXT_YEAR}-11-10T10:00",
        "duration_minutes": "30",
        "meeting_url": "https://meet.example.com/x",
        field: value,
    }
    r = recruiter.post(f"/interviews/new?application_id={application['id']}", data=data)
    html = r.get_data(as_text=True)
    assert r.status_code == 400
    assert message in _errors(html)
    assert f'value="{value}"' in html and 'value="Culture &lt;fit&gt;"' in html
    assert api.get("/data/interview").get_json()["total"] == 0


def test_both_errors_at_once_and_same_words_as_the_api(recruiter, api):
    application = api.application()
    r = recruiter.post(
        f"/interviews/new?application_id={application['id']}",
        data={
            "csrf_token": recruiter.csrf,
            "duration_minutes": "0",
            "meeting_url": "javascript:alert(1)",
        },
    )
    from_api = api.post(
        "/data/interview",
        json={
            "application_id": application["id"],
            "duration_minutes": 0,
            "meeting_url": "javascript:alert(1)",
        },
    ).get_json()["fields"]
    errors = _errors(r.get_data(as_text=True))
    assert from_api["duration_minutes"] in errors and from_api["meeting_url"] in errors


def test_schedule_guards(login, recruiter, api):
    application = api.application()
    url = f"/interviews/new?application_id={application['id']}"
    # no CSRF token: 400, nothing stored
    assert recruiter.post(url, data={"title": "No token"}).status_code == 400
    # unknown or missing application: 404
    assert recruiter.get("/interviews/new?application_id=app_unknown").status_code == 404
    assert recruiter.get("/interviews/new").status_code == 404
    r = recruiter.post(
        "/interviews/new?application_id=app_01ARZ3NDEKTSV4RRFFQ69G5FAV",
        data={"csrf_token": recruiter.csrf},
    )
    assert r.status_code == 404
    # interviewers read interviews but may not write them
    interviewer = login("interviewer")
    assert interviewer.get(url).status_code == 403
    assert interviewer.post(url, data={"csrf_token": interviewer.csrf}).status_code == 403
    assert api.get("/data/interview").get_json()["total"] == 0


# --- reschedule, cancel, outcome ----------------------------------------------


def test_reschedule_sets_rescheduled_only_when_the_time_changes(recruiter, api):
    application = api.application()
    iv = _interview(
        api, application, scheduled_at=f"{NEXT_YEAR}-11-10T09:00:00Z", duration_minutes=30
    )
    url = f"/interviews/{iv['id']}/edit"
    page = recruiter.get(url).get_data(as_text=True)
    assert f'value="{NEXT_YEAR}-11-10T10:00"' in page  # shown in Berlin time

    # same time, new room: not a reschedule
    r = recruiter.post(
        url,
        data={
            "csrf_token": recruiter.csrf,
            "scheduled_at": f"{NEXT_YEAR}-11-10T10:00",
            "duration_minutes": "30",
            "location": "Room 4",
        },
    )
    assert r.status_code == 303
    data = _get(api, iv)
    assert data["status"] == "scheduled" and data["location"] == "Room 4"

    # a new time: rescheduled, stored in UTC
    r = recruiter.post(
        url,
        data={
            "csrf_token": recruiter.csrf,
            "scheduled_at": f"{NEXT_YEAR}-11-12T14:30",
            "duration_minutes": "60",
            "location": "Room 4",
            "meeting_url": "https://meet.example.com/new",
        },
    )
    assert r.status_code == 303
    assert r.headers["Location"].endswith(f"/applications/{application['id']}")
    data = _get(api, iv)
    assert data["status"] == "rescheduled"
    assert data["scheduled_at"] == f"{NEXT_YEAR}-11-12T13:30:00.000000Z"
    assert data["duration_minutes"] == 60 and data["meeting_url"] == "https://meet.example.com/new"


def test_reschedule_errors_keep_input_and_change_nothing(recruiter, api):
    iv = _interview(api, api.application(), scheduled_at=f"{NEXT_YEAR}-11-10T09:00:00Z")
    r = recruiter.post(
        f"/interviews/{iv['id']}/edit",
        data={
            "csrf_token": recruiter.csrf,
            "scheduled_at": f"{NEXT_YEAR}-11-12T14:30",
            "duration_minutes": "2000",
            "meeting_url": "javascript:alert(1)",
        },
    )
    html = r.get_data(as_text=True)
    assert r.status_code == 400
    assert "must be at most 1440" in _errors(html)
    assert 'value="javascript:alert(1)"' in html and f'value="{NEXT_YEAR}-11-12T14:30"' in html
    data = _get(api, iv)
    assert data["status"] == "scheduled" and data["scheduled_at"].startswith(f"{NEXT_YEAR}-11-10")


def test_cancel_asks_first(recruiter, api):
    application = api.application()
    iv = _interview(api, application, scheduled_at=f"{NEXT_YEAR}-11-10T09:00:00Z")
    url = f"/interviews/{iv['id']}/cancel"
    page = recruiter.get(url)
    assert page.status_code == 200 and 'name="confirm" value="yes"' in page.get_data(as_text=True)
    # a POST without the confirmation only asks again
    assert recruiter.post(url, data={"csrf_token": recruiter.csrf}).status_code == 200
    assert _get(api, iv)["status"] == "scheduled"
    assert recruiter.post(url, data={"confirm": "yes"}).status_code == 400  # no CSRF token
    assert _get(api, iv)["status"] == "scheduled"

    r = recruiter.post(url, data={"csrf_token": recruiter.csrf, "confirm": "yes"})
    assert r.status_code == 303
    assert r.headers["Location"].endswith(f"/applications/{application['id']}")
    assert _get(api, iv)["status"] == "cancelled"
    # a cancelled interview cannot be rescheduled or given an outcome
    recruiter.post(
        f"/interviews/{iv['id']}/edit",
        data={"csrf_token": recruiter.csrf, "scheduled_at": f"{NEXT_YEAR}-12-01T10:00"},
    )
    recruiter.post(
        f"/interviews/{iv['id']}/outcome",
        data={"csrf_token": recruiter.csrf, "status": "completed"},
    )
    data = _get(api, iv)
    assert data["status"] == "cancelled" and data["scheduled_at"].startswith(f"{NEXT_YEAR}-11-10")


def test_cancel_from_the_list_with_htmx_returns_the_list(recruiter, api):
    application = api.application()
    iv = _interview(api, application, title="Phone screen")
    r = recruiter.post(
        f"/interviews/{iv['id']}/cancel",
        data={"csrf_token": recruiter.csrf, "confirm": "yes"},
        headers=HX,
    )
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "<html" not in html
    assert html.lstrip().startswith('<div id="interviews">')
    assert "Interview cancelled." in html and "Phone screen" in html
    assert "HX-Request" in r.headers.get("Vary", "")
    assert _get(api, iv)["status"] == "cancelled"


def test_outcome_completed_and_no_show_with_notes(recruiter, api):
    application = api.application()
    done = _interview(api, application, scheduled_at="2020-01-10T09:00:00Z")
    missed = _interview(api, application, scheduled_at="2020-01-11T09:00:00Z", notes="Keep me")

    page = recruiter.get(f"/interviews/{done['id']}/outcome").get_data(as_text=True)
    assert 'name="notes"' in page and 'value="no_show"' in page
    r = recruiter.post(
        f"/interviews/{done['id']}/outcome",
        data={"csrf_token": recruiter.csrf, "status": "completed", "notes": "Strong on SQL"},
    )
    assert r.status_code == 303
    data = _get(api, done)
    assert data["status"] == "completed" and data["notes"] == "Strong on SQL"

    # the quick button in the list: status only, the notes stay
    r = recruiter.post(
        f"/interviews/{missed['id']}/outcome",
        data={"csrf_token": recruiter.csrf, "status": "no_show"},
        headers=HX,
    )
    assert r.status_code == 200 and "Interview marked no-show." in r.get_data(as_text=True)
    data = _get(api, missed)
    assert data["status"] == "no_show" and data["notes"] == "Keep me"

    # an unknown outcome, or one without CSRF, changes nothing
    bad = recruiter.post(
        f"/interviews/{missed['id']}/outcome",
        data={"csrf_token": recruiter.csrf, "status": "cancelled"},
    )
    assert bad.status_code == 400
    no_token = recruiter.post(f"/interviews/{missed['id']}/outcome", data={"status": "completed"})
    assert no_token.status_code == 400
    assert _get(api, missed)["status"] == "no_show"


def test_outcome_notes_too_long_keeps_input(recruiter, api):
    iv = _interview(api, api.application(), scheduled_at="2020-01-10T09:00:00Z")
    r = recruiter.post(
        f"/interviews/{iv['id']}/outcome",
        data={"csrf_token": recruiter.csrf, "status": "completed", "notes": "x" * 8001},
    )
    html = r.get_data(as_text=True)
    assert r.status_code == 400 and "at most 8000 characters" in _errors(html)
    assert "x" * 8001 in html
    assert _get(api, iv)["status"] == "scheduled"


def test_writes_need_the_role_and_an_existing_interview(login, api):
    iv = _interview(api, api.application(), scheduled_at=f"{NEXT_YEAR}-11-10T09:00:00Z")
    interviewer = login("interviewer")
    for path in ("edit", "cancel", "outcome"):
        assert interviewer.get(f"/interviews/{iv['id']}/{path}").status_code == 403
        r = interviewer.post(
            f"/interviews/{iv['id']}/{path}",
            data={"csrf_token": interviewer.csrf, "confirm": "yes", "status": "completed"},
        )
        assert r.status_code == 403
    assert _get(api, iv)["status"] == "scheduled"
    recruiter = login("recruiter")
    for path in ("edit", "cancel", "outcome"):
        assert recruiter.get(f"/interviews/int_unknown/{path}").status_code == 404


def test_list_partial_for_the_application_page(app, recruiter, api):
    """The contract of _list.html: ``interviews`` and ``application`` are enough."""
    application = api.application()
    later = _interview(api, application, title="Second", scheduled_at="2031-01-02T10:00:00Z")
    sooner = _interview(api, application, title="First", scheduled_at="2031-01-01T10:00:00Z")
    _interview(api, api.application(candidate=api.candidate(name="Other")), title="Elsewhere")
    with app.test_request_context():
        user = db.session.get(User, recruiter.user_id)
        login_user(user)
        rows = interviews_for_application(application["id"], actor_for_user(user))
        assert [r.id for r in rows] == [sooner["id"], later["id"]]
        html = render_template(
            "interviews/_list.html",
            interviews=rows,
            application=records.get(F.APPLICATION, application["id"], actor_for_user(user)),
        )
    assert html.index("First") < html.index("Second") and "Elsewhere" not in html
    assert f"/interviews/{sooner['id']}/edit" in html
    assert f"/interviews/new?application_id={application['id']}" in html


# --- the agenda ---------------------------------------------------------------


def _day_sections(html: str) -> list[tuple[str, str]]:
    """(heading, section html) per day on the agenda."""
    parts = re.split(r'<section class="card day"', html)[1:]
    return [(re.search(r"<h2[^>]*>(.*?)</h2>", p, re.S).group(1).strip(), p) for p in parts]


def test_agenda_groups_upcoming_by_local_day(recruiter, api):
    job = api.job(title="Data Engineer")
    grace = api.application(job=job, candidate=api.candidate(name="Grace Hopper"))
    alan = api.application(job=job, candidate=api.candidate(name="Alan Turing"))
    # 23:30 UTC on 1 March is 00:30 on 2 March in Berlin: the Berlin day counts
    _interview(api, grace, title="Late call", scheduled_at=f"{NEXT_YEAR}-03-01T23:30:00Z")
    _interview(api, alan, title="Morning", scheduled_at=f"{NEXT_YEAR}-03-02T08:00:00Z")
    _interview(api, alan, title="Day one", scheduled_at=f"{NEXT_YEAR}-03-01T08:00:00Z")
    _interview(
        api,
        alan,
        title="Called off",
        scheduled_at=f"{NEXT_YEAR}-03-01T10:00:00Z",
        status="cancelled",
    )
    _interview(api, alan, title="Long ago", scheduled_at="2020-03-01T08:00:00Z")

    html = recruiter.get("/interviews").get_data(as_text=True)
    days = _day_sections(html)
    assert [d for d, _ in days] == [
        date(NEXT_YEAR, 3, 1).strftime("%A, %d %B %Y"),
        date(NEXT_YEAR, 3, 2).strftime("%A, %d %B %Y"),
    ]
    first, second = days[0][1], days[1][1]
    assert "Day one" in first and "09:00" in first and "Late call" not in first
    assert second.index("Late call") < second.index("Morning")
    assert "00:30" in second and "Grace Hopper" in second and "Data Engineer" in second
    assert "Called off" not in html and "Long ago" not in html

    past = recruiter.get("/interviews?past=1").get_data(as_text=True)
    assert "Long ago" in past and "Day one" not in past


def test_agenda_mine_filter_and_interviewer_default(login, api):
    interviewer = login("interviewer")
    me = interviewer.user_id
    team_job = api.job(title="Team job", team_ids=[me])
    other_job = api.job(title="Other job")
    on_team = api.application(job=team_job, candidate=api.candidate(name="Team Candidate"))
    elsewhere = api.application(job=other_job, candidate=api.candidate(name="Other Candidate"))

    def at(day: int) -> str:
        return f"{NEXT_YEAR}-05-0{day}T09:00:00Z"

    _interview(api, elsewhere, title="I lead", scheduled_at=at(1), interviewer_id=me)
    _interview(api, on_team, title="On the panel", scheduled_at=at(2), interviewer_ids=[me])
    _interview(api, on_team, title="Team interview", scheduled_at=at(3))
    _interview(api, elsewhere, title="Not mine", scheduled_at=at(4))
    hidden_job = api.job(title="Hidden job")
    hidden = api.application(job=hidden_job, candidate=api.candidate(name="Hidden Candidate"))
    _interview(api, hidden, title="Unrelated", scheduled_at=at(5))

    # interviewers see their own by default (lead or panel) ...
    html = interviewer.get("/interviews").get_data(as_text=True)
    assert "I lead" in html and "On the panel" in html
    assert "Team interview" not in html and "Not mine" not in html
    assert "Reschedule" not in html  # ... cannot change them ...
    # ... and leading an interview puts them on that job: its names are shown
    assert "Team Candidate" in html and "Other Candidate" in html and "Other job" in html
    assert "Hidden Candidate" not in html and "Hidden job" not in html
    # everyone's: still only what their role may see (jobs they are on)
    html = interviewer.get("/interviews?mine=0").get_data(as_text=True)
    assert "Team interview" in html and "I lead" in html and "Not mine" in html
    assert "Unrelated" not in html

    recruiter = login("recruiter")
    html = recruiter.get("/interviews").get_data(as_text=True)
    assert all(
        t in html for t in ("I lead", "On the panel", "Team interview", "Not mine", "Unrelated")
    )
    assert "Other Candidate" in html and "Not shared with you" not in html
    r = recruiter.get("/interviews?mine=1", headers=HX)
    fragment = r.get_data(as_text=True)
    assert "<html" not in fragment and "HX-Request" in r.headers.get("Vary", "")
    assert "No upcoming interviews of yours." in fragment


def test_agenda_query_count_does_not_grow(app, recruiter, api):
    def queries() -> int:
        seen: list[int] = []
        with app.app_context():
            engine = db.engine
            listener = lambda *a: seen.append(1)  # noqa: E731
            event.listen(engine, "before_cursor_execute", listener)
            try:
                assert recruiter.get("/interviews").status_code == 200
            finally:
                event.remove(engine, "before_cursor_execute", listener)
        return len(seen)

    start = datetime.now(UTC) + timedelta(days=3)
    job = api.job()
    application = api.application(job=job)
    _interview(api, application, scheduled_at=_iso(start), interviewer_id=api.user_id)
    one = queries()
    for i in range(8):
        other = api.application(job=job, candidate=api.candidate(name=f"P{i}"))
        _interview(
            api, other, scheduled_at=_iso(start + timedelta(days=i)), interviewer_ids=[api.user_id]
        )
    assert queries() == one
