"""Interview invitations (ats/services/invitations.py).

Pins: an interview created with send_invite and a time ahead sends a
METHOD:REQUEST iCalendar to the candidate and every interviewer, one outbox
message each; a change of time, duration, place, link or interviewers sends a
REQUEST with the same UID and a higher SEQUENCE (removed interviewers get a
CANCEL); cancelling or deleting sends a CANCEL; other edits, past interviews,
interviews without send_invite and rolled-back writes send nothing; it works
the same through the API, the pages and plain ORM commits; the candidate's
language is the job's. End to end: the API call, a worker tick, and a real
SMTP server receiving the invitation, parsed back with ``icalendar``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import icalendar
import pytest
from sqlalchemy import func, select

from ats.database import writing
from ats.extensions import db
from ats.models import Interview, OutboxMessage, User, utcnow
from ats.services import invitations, mail, tasks
from tests.smtp import Inbox

WHEN = (datetime.now(UTC) + timedelta(days=7)).replace(hour=10, minute=0, second=0, microsecond=0)


def iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def inbox(app):
    server = Inbox().start()
    app.config["SMTP_URL"] = server.url()
    app.config["MAIL_FROM"] = "Acme Hiring <jobs@acme.example>"
    yield server
    server.stop()


@pytest.fixture
def people(app, api, make_user):
    """A company, a job, a candidate with an application, and two interviewers."""
    api.create("company_profile", name="Acme")
    lead = make_user("lead@acme.example", "interviewer")
    panel = make_user("panel@acme.example", "recruiter")
    with app.app_context():
        db.session.get(User, lead).timezone = "Europe/Berlin"
        db.session.commit()
    job = api.job(title="Backend Engineer")
    candidate = api.candidate(name="Ada Lovelace", email="ada@example.com")
    application = api.application(job=job, candidate=candidate)
    return {
        "api": api,
        "job": job,
        "candidate": candidate,
        "application": application,
        "lead": lead,
        "panel": panel,
    }


def schedule(people, **data):
    body = {
        "application_id": people["application"]["id"],
        "scheduled_at": iso(WHEN),
        "duration_minutes": 45,
        "interviewer_id": people["lead"],
        "interviewer_ids": [people["panel"]],
        "location": "Room 1",
        "meeting_url": "https://meet.example/abc",
        "send_invite": True,
        **data,
    }
    return people["api"].create("interview", **body)


def outbox(app, **where):
    with app.app_context():
        stmt = select(OutboxMessage).order_by(OutboxMessage.created_at, OutboxMessage.id)
        for key, value in where.items():
            stmt = stmt.where(getattr(OutboxMessage, key) == value)
        rows = db.session.scalars(stmt).all()
        db.session.expunge_all()
        return rows


def parse(ics: str) -> icalendar.Event:
    cal = icalendar.Calendar.from_ical(ics)
    events = list(cal.walk("VEVENT"))
    assert len(events) == 1
    return cal, events[0]


def attendees(event) -> set[str]:
    found = event.get("attendee")
    found = found if isinstance(found, list) else [found]
    return {str(a).removeprefix("mailto:") for a in found}


EVERYONE = {"ada@example.com", "lead@acme.example", "panel@acme.example"}


def test_end_to_end_an_api_interview_reaches_the_smtp_server_as_an_invitation(app, people, inbox):
    iv = schedule(people)
    rows = outbox(app)
    assert {m.to_email for m in rows} == EVERYONE
    assert {m.kind for m in rows} == {"interview_invite"} and {m.ics_method for m in rows} == {
        "REQUEST"
    }
    with app.app_context():
        tasks.tick("w1")  # the worker's round: its periodic hook delivers the outbox
    received = inbox.wait_for(3)
    assert len(received) == 3
    by_to = {m["To"].addresses[0].addr_spec: m for m in received}
    assert set(by_to) == EVERYONE
    ada = by_to["ada@example.com"]
    assert ada["Subject"] == "Interview invitation: Backend Engineer at Acme"
    assert ada["From"].addresses[0].addr_spec == "jobs@acme.example"
    body = ada.get_body(("plain",)).get_content()
    assert "Hello Ada Lovelace" in body and "Room 1" in body and "https://meet.example/abc" in body
    assert "45 minutes" in body
    # the calendar part that calendar clients act on, and the .ics file
    calendar_parts = [p for p in ada.walk() if p.get_content_type() == "text/calendar"]
    assert len(calendar_parts) == 1
    assert calendar_parts[0].get_param("method") == "REQUEST"
    files = [p for p in ada.walk() if p.get_filename() == "invite.ics"]
    assert len(files) == 1 and files[0].get_content_type() == "application/ics"
    cal, event = parse(calendar_parts[0].get_content())
    assert cal["method"] == "REQUEST"
    assert str(event["uid"]) == f"{iv['id']}@ats"
    assert event["sequence"] == 0
    assert event.decoded("dtstart") == WHEN
    assert event.decoded("dtend") == WHEN + timedelta(minutes=45)
    assert str(event["location"]) == "Room 1"
    assert str(event["url"]) == "https://meet.example/abc"
    assert str(event["organizer"]) == "mailto:jobs@acme.example"
    assert attendees(event) == EVERYONE
    assert "Backend Engineer" in str(event["summary"])
    # the interviewer's copy: their time zone, the candidate named in the calendar
    lead = by_to["lead@acme.example"]
    lead_body = lead.get_body(("plain",)).get_content()
    local = WHEN.astimezone(invitations.ZoneInfo("Europe/Berlin")).strftime("%H:%M")
    assert f"{local} (Europe/Berlin)" in lead_body and "Ada Lovelace" in lead_body
    lead_cal = next(p for p in lead.walk() if p.get_content_type() == "text/calendar")
    assert "Ada Lovelace" in str(parse(lead_cal.get_content())[1]["summary"])
    with app.app_context():
        assert db.session.scalar(select(func.count()).where(OutboxMessage.status == "sent")) == 3
        assert db.session.get(Interview, iv["id"]).ics_sequence == 0


def test_changes_raise_the_sequence_and_cancelling_sends_cancel(app, people):
    iv = schedule(people)
    api = people["api"]
    later = WHEN + timedelta(hours=2)
    r = api.patch(f"/data/interview/{iv['id']}", json={"scheduled_at": iso(later)})
    assert r.status_code == 200
    updates = outbox(app, kind="interview_update")
    assert {m.to_email for m in updates} == EVERYONE
    _cal, event = parse(updates[0].ics)
    assert str(event["uid"]) == f"{iv['id']}@ats" and event["sequence"] == 1
    assert event.decoded("dtstart") == later
    assert updates[0].subject == "Interview changed: Backend Engineer at Acme"

    # edits that do not change the invitation send nothing
    api.patch(f"/data/interview/{iv['id']}", json={"agenda": "Systems design", "notes": "x"})
    assert len(outbox(app)) == 6

    for field, value in (
        ("duration_minutes", 90),
        ("location", "Room 2"),
        ("meeting_url", "https://meet.example/xyz"),
    ):
        api.patch(f"/data/interview/{iv['id']}", json={field: value})
    sequences = [parse(m.ics)[1]["sequence"] for m in outbox(app, kind="interview_update")]
    assert sequences == [1] * 3 + [2] * 3 + [3] * 3 + [4] * 3

    api.patch(f"/data/interview/{iv['id']}", json={"status": "cancelled"})
    cancels = outbox(app, kind="interview_cancel")
    assert {m.to_email for m in cancels} == EVERYONE
    cal, event = parse(cancels[0].ics)
    assert cal["method"] == "CANCEL" and event["sequence"] == 5 and event["status"] == "CANCELLED"
    assert str(event["uid"]) == f"{iv['id']}@ats"
    assert {m.ics_method for m in cancels} == {"CANCEL"}
    with app.app_context():
        assert db.session.get(Interview, iv["id"]).ics_sequence == 5
    # already cancelled: cancelling again, or deleting it, sends nothing more
    api.patch(f"/data/interview/{iv['id']}", json={"status": "cancelled", "location": "Room 9"})
    api.delete(f"/data/interview/{iv['id']}")
    assert len(outbox(app, kind="interview_cancel")) == 3


def test_a_removed_interviewer_gets_a_cancel_the_others_an_update(app, people, make_user):
    iv = schedule(people)
    newcomer = make_user("new@acme.example", "interviewer")
    people["api"].patch(f"/data/interview/{iv['id']}", json={"interviewer_ids": [newcomer]})
    updates = outbox(app, kind="interview_update")
    assert {m.to_email for m in updates} == {
        "ada@example.com",
        "lead@acme.example",
        "new@acme.example",
    }
    assert attendees(parse(updates[0].ics)[1]) == {
        "ada@example.com",
        "lead@acme.example",
        "new@acme.example",
    }
    (cancel,) = outbox(app, kind="interview_cancel")
    assert cancel.to_email == "panel@acme.example"
    _cal, event = parse(cancel.ics)
    assert event["sequence"] == 1 and attendees(event) == {"panel@acme.example"}


@pytest.mark.parametrize(
    "data",
    [
        {"send_invite": False},
        {"scheduled_at": iso(datetime.now(UTC) - timedelta(days=1))},  # a past interview
        {"scheduled_at": None},
        {"status": "completed"},
    ],
)
def test_nothing_is_sent_without_a_live_invitation(app, people, data):
    schedule(people, **data)
    assert outbox(app) == []


def test_switching_send_invite_on_later_sends_the_first_invitation(app, people):
    iv = schedule(people, send_invite=False)
    people["api"].patch(f"/data/interview/{iv['id']}", json={"location": "Room 3"})
    assert outbox(app) == []
    people["api"].patch(f"/data/interview/{iv['id']}", json={"send_invite": True})
    rows = outbox(app)
    assert {m.kind for m in rows} == {"interview_invite"} and len(rows) == 3
    assert parse(rows[0].ics)[1]["sequence"] == 0


def test_deleting_an_invited_interview_sends_cancel(app, people):
    iv = schedule(people)
    assert people["api"].delete(f"/data/interview/{iv['id']}").status_code in (200, 204)
    cancels = outbox(app, kind="interview_cancel")
    assert {m.to_email for m in cancels} == EVERYONE
    cal, event = parse(cancels[0].ics)
    assert cal["method"] == "CANCEL" and event["sequence"] == 1


def test_erasing_the_candidate_cancels_for_the_interviewers_only(app, people):
    schedule(people)
    api = people["api"]
    r = api.delete(f"/data/candidate/{people['candidate']['id']}?cascade=true")
    assert r.status_code in (200, 204), r.get_json()
    cancels = outbox(app, kind="interview_cancel")
    assert {m.to_email for m in cancels} == {"lead@acme.example", "panel@acme.example"}
    assert all("Ada" not in m.body for m in cancels)


def test_the_candidate_reads_the_jobs_language(app, people):
    api = people["api"]
    job = api.job(title="Entwickler", language="de-DE")
    application = api.application(job=job, candidate=people["candidate"])
    schedule(people, application_id=application["id"])
    ada = outbox(app, to_email="ada@example.com")[0]
    assert ada.subject == "Einladung zum Gespräch: Entwickler bei Acme"
    assert "Hallo Ada Lovelace" in ada.body and "Dauer: 45 Minuten" in ada.body
    # the candidate sees the lead interviewer's time zone, in German
    local = WHEN.astimezone(invitations.ZoneInfo("Europe/Berlin"))
    assert f"{local:%H:%M} (Europe/Berlin)" in ada.body
    assert invitations.format_when(WHEN.replace(tzinfo=None), None, "de").endswith("(UTC)")


def test_an_orm_commit_is_seen_like_an_api_write(app, people):
    iv = schedule(people)
    with app.app_context():
        obj = db.session.get(Interview, iv["id"])
        obj.location = "Room 7"
        db.session.commit()
        rows = db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "interview_update")
        ).all()
        assert len(rows) == 3 and all("Room 7" in m.body for m in rows)
        assert db.session.get(Interview, iv["id"]).ics_sequence == 1


def test_a_rolled_back_change_sends_nothing(app, people):
    iv = schedule(people)
    with app.app_context():
        with pytest.raises(RuntimeError), writing():
            db.session.execute(
                Interview.__table__.update()
                .where(Interview.id == iv["id"])
                .values(scheduled_at=utcnow() + timedelta(days=30))
            )
            raise RuntimeError("changed my mind")
        # a later, unrelated write does not pick up the rolled-back change
        with writing():
            mail.queue("test", "x@example.com", "s", "b")
    assert outbox(app, kind="interview_update") == []
    r = people["api"].patch(f"/data/interview/{iv['id']}", json={"duration_minutes": 1441})
    assert r.status_code == 400
    assert outbox(app, kind="interview_update") == []


def test_the_schedule_page_sends_invitations_too(app, people, login):
    client = login("recruiter")
    url = f"/interviews/new?application_id={people['application']['id']}"
    local = WHEN.strftime("%Y-%m-%dT%H:%M")  # the recruiter's zone is UTC
    r = client.post(
        url,
        data={
            "csrf_token": client.csrf,
            "kind": "video",
            "scheduled_at": local,
            "duration_minutes": "30",
            "interviewer_id": people["lead"],
            "send_invite": "y",
        },
    )
    assert r.status_code == 303, r.get_data(as_text=True)
    rows = outbox(app)
    assert {m.to_email for m in rows} == {"ada@example.com", "lead@acme.example"}
    _cal, event = parse(rows[0].ics)
    assert event.decoded("dtstart") == WHEN


def test_decide_rules():
    now = datetime(2030, 1, 1)
    base = {
        "id": "int_1",
        "send_invite": True,
        "scheduled_at": datetime(2030, 1, 2, 10),
        "duration_minutes": None,
        "status": "scheduled",
        "location": None,
        "meeting_url": None,
        "interviewer_id": "u1",
        "interviewer_ids": [],
    }
    assert [a.kind for a in invitations.decide(None, base, False, now)] == ["interview_invite"]
    assert invitations.decide(base, dict(base), True, now) == []
    assert invitations.decide(base, None, False, now) == []  # never invited: nothing to cancel
    assert [a.method for a in invitations.decide(base, None, True, now)] == ["CANCEL"]
    # an interview running right now is still live; one that ended is not
    running = {**base, "scheduled_at": datetime(2029, 12, 31, 23, 30)}
    assert invitations.is_live(running, now)
    assert not invitations.is_live({**running, "duration_minutes": 20}, now)
