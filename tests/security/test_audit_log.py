"""Settings → Audit log (issue 8): admins only; every action the app records
shown with a label and readable detail, staff ids as names; filters by
action, who and days; keyset paging ("Older") with the rows as one HTMX
partial; erasures through the page and the API logged with counts and the
acting user, never the candidate."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, text, update

from ats.extensions import db
from ats.models import AuditEvent, User
from ats.services import audit

ROWS = re.compile(r'<tr id="audit-(\d+)"')


def _ids(html: str) -> list[int]:
    return [int(i) for i in ROWS.findall(html)]


def _row(html: str, event_id: int) -> str:
    """The table row of one event (the log holds the logins of the test's users too)."""
    m = re.search(rf'<tr id="audit-{event_id}">(.*?)</tr>', html, re.S)
    assert m, f"no row for event {event_id}"
    return m.group(1)


def _record(app: Any, *events: tuple[str | None, str, dict], at: datetime | None = None) -> list:
    with app.app_context():
        made = [audit.record(actor, action, detail) for actor, action, detail in events]
        ids = [e.id for e in made]
        if at is not None:
            db.session.execute(update(AuditEvent).where(AuditEvent.id.in_(ids)).values(at=at))
            db.session.commit()
        return ids


def test_only_admins_see_the_audit_log(app, login):
    assert app.test_client().get("/settings/audit").status_code == 302
    for role in ("recruiter", "interviewer"):
        client = login(role)
        assert client.get("/settings/audit").status_code == 403
        assert "/settings/audit" not in client.get("/settings").get_data(as_text=True)
    admin = login("admin")
    assert admin.get("/settings/audit").status_code == 200
    assert "/settings/audit" in admin.get("/settings").get_data(as_text=True)


def test_every_action_has_a_label_and_readable_detail(app, login):
    admin = login("admin", email="boss@example.com")
    with app.app_context():
        other = db.session.scalar(select(User.id).where(User.email == "boss@example.com"))
    detail_by_action = {
        "login": {"method": "password"},
        "login_failed": {"reason": "wrong_password", "email_hash": "ab12", "user": other},
        "token_created": {"token": "tok_1", "user": other, "scopes": ["job:read", "job:list"]},
        "role_changed": {"user": other, "from_role": "recruiter", "to_role": "admin"},
        "candidate_erased": {"candidates": 1, "applications": 2, "notes": 0, "via": "page"},
        "retention_run": {"candidates": 3, "failed": 1, "dry_run": False, "trigger": "worker"},
    }
    actions = sorted(audit.LABELS)
    events = [(other, action, detail_by_action.get(action, {})) for action in actions]
    ids = _record(app, *events, (None, "something_new", {"count": 2}))
    html = admin.get("/settings/audit").get_data(as_text=True)
    rows = dict(zip([*actions, "something_new"], (_row(html, i) for i in ids), strict=True))
    for action, label in audit.LABELS.items():
        assert f'title="{action}">{label}</span>' in rows[action], action
        assert "boss &lt;boss@example.com&gt;" in rows[action]  # who, by name
    assert "Something new" in rows["something_new"]  # an action without a label reads as words
    assert ">system</span>" in rows["something_new"] and "count 2" in rows["something_new"]
    assert "reason wrong password; address hash ab12; user boss &lt;" in rows["login_failed"]
    assert "scopes job:read, job:list" in rows["token_created"]
    assert "was recruiter; now admin" in rows["role_changed"]
    assert "1 candidate, 2 applications; via page" in rows["candidate_erased"]
    assert "3 candidates; 1 failed; started by worker" in rows["retention_run"]
    assert other not in "".join(rows.values())  # ids are shown as names


def test_detail_is_text_never_markup(app, login):
    admin = login("admin")
    _record(app, (None, "login_failed", {"reason": "<script>alert(1)</script>"}))
    html = admin.get("/settings/audit").get_data(as_text=True)
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)" in html


def test_filters_by_action_who_and_days(app, login):
    admin = login("admin", email="boss@example.com")
    with app.app_context():
        boss = db.session.scalar(select(User.id).where(User.email == "boss@example.com"))
    day = datetime(2030, 5, 10, 12, 0)
    [old] = _record(app, (boss, "login", {}), at=day - timedelta(days=3))
    [mid] = _record(app, (boss, "logout", {}), at=day)
    [sys_] = _record(app, (None, "retention_run", {"candidates": 0}), at=day + timedelta(hours=1))
    [new] = _record(app, (boss, "login", {}), at=day + timedelta(days=2))

    def shown(**query: str) -> list[int]:
        r = admin.get("/settings/audit", query_string=query)
        assert r.status_code == 200, r.get_data(as_text=True)
        return [i for i in _ids(r.get_data(as_text=True)) if i in (old, mid, sys_, new)]

    assert shown() == [new, sys_, mid, old]
    assert shown(action="login") == [new, old]
    assert shown(actor="system") == [sys_]
    assert shown(actor=boss, action="logout") == [mid]
    assert shown(**{"from": "2030-05-10", "to": "2030-05-10"}) == [sys_, mid]
    assert shown(**{"from": "2030-05-09"}) == [new, sys_, mid]
    assert shown(**{"to": "2030-05-07"}) == [old]


def test_the_day_range_is_in_the_viewers_time_zone(app, login):
    admin = login("admin", email="tz@example.com")
    with app.app_context():
        db.session.execute(
            update(User).where(User.email == "tz@example.com").values(timezone="Pacific/Auckland")
        )
        db.session.commit()
    # 2030-05-09 20:00 UTC is 2030-05-10 08:00 in Auckland (UTC+12)
    [event] = _record(app, (None, "login", {}), at=datetime(2030, 5, 9, 20, 0))
    r = admin.get("/settings/audit", query_string={"from": "2030-05-10", "to": "2030-05-10"})
    assert _ids(r.get_data(as_text=True)) == [event]
    r = admin.get("/settings/audit", query_string={"from": "2030-05-09", "to": "2030-05-09"})
    assert event not in _ids(r.get_data(as_text=True))


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"action": "nope"}, "action"),
        ({"actor": "usr_nobody"}, "actor"),
        ({"from": "10/05/2030"}, "from"),
        ({"from": "2030-05-10", "to": "2030-05-01"}, "to"),
        ({"older": "x1"}, "older"),
        ({"older": "999999"}, "older"),
    ],
)
def test_a_bad_filter_is_400_saying_which(app, login, query, field):
    admin = login("admin")
    r = admin.get("/settings/audit", query_string=query)
    assert r.status_code == 400
    assert f"Nothing shown: {field}: " in r.get_data(as_text=True)
    # the HTMX fragment says the same, with a 200 so that htmx shows it
    r = admin.get("/settings/audit", query_string=query, headers={"HX-Request": "true"})
    assert r.status_code == 200 and f"Nothing shown: {field}: " in r.get_data(as_text=True)


def test_keyset_paging_with_htmx_rows(app, login):
    admin = login("admin")
    at = datetime(2020, 1, 1)  # all at one time: the id breaks the ties
    with app.app_context():
        for n in range(2 * audit.PAGE_SIZE + 7):
            db.session.add(AuditEvent(at=at, actor="system", action="login", detail={"n": n}))
        db.session.commit()
        expected = list(
            db.session.scalars(
                select(AuditEvent.id).order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
            )
        )
    # the login above logged itself (now): the first page starts with it
    expected = [i for i in expected if i in expected]
    page = admin.get("/settings/audit").get_data(as_text=True)
    seen = _ids(page)
    assert len(seen) == audit.PAGE_SIZE and '<tbody id="audit-rows">' in page
    assert seen == expected[: audit.PAGE_SIZE]
    pages = 1
    while True:
        more = re.search(r'hx-get="([^"]+older=\d+[^"]*)"', page)
        if not more:
            break
        url = more.group(1).replace("&amp;", "&")
        # a new event meanwhile does not shift the pages
        _record(app, (None, "login", {"late": True}))
        r = admin.get(url, headers={"HX-Request": "true"})
        assert r.status_code == 200 and "<html" not in r.get_data(as_text=True)
        assert "HX-Request" in r.headers.get("Vary", "")
        page = r.get_data(as_text=True)
        assert "<tbody" not in page  # rows only: they replace the "Older" row
        seen += _ids(page)
        pages += 1
    assert pages == 3 and seen == expected
    # the same link without HTMX: a whole page of the older events, with a way back
    older = re.search(r'href="([^"]+older=\d+[^"]*)"', admin.get("/settings/audit").get_data(True))
    full = admin.get(older.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert "<html" in full and "Newest" in full


def test_the_filter_form_answers_htmx_with_the_rows(app, login):
    admin = login("admin")
    _record(app, (None, "login", {}), (None, "logout", {}))
    r = admin.get("/settings/audit?action=logout", headers={"HX-Request": "true"})
    body = r.get_data(as_text=True)
    assert r.status_code == 200 and "<form" not in body and "Logged out" in body
    assert "Logged in</span>" not in body


def _world(api: Any) -> dict[str, Any]:
    job = api.job(title="Backend")
    cand = api.candidate(name="Erika Mustermann", email="erika@example.org", phone="+49 30 1234")
    application = api.application(job=job, candidate=cand)
    api.create("application_note", parent_kind="application", parent_id=application["id"], body="n")
    return {"cand": cand}


def _audit_dump(app: Any) -> str:
    with app.app_context():
        return repr(list(db.session.execute(text("SELECT * FROM audit_event")))).lower()


def test_an_erasure_on_the_page_is_logged_with_counts_and_who(app, api, login):
    cand = _world(api)["cand"]
    admin = login("admin", email="eraser@example.com")
    r = admin.post(
        f"/candidates/{cand['id']}/erase",
        data={"csrf_token": admin.csrf, "confirm": "Erika Mustermann"},
    )
    assert r.status_code == 303
    with app.app_context():
        event = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "candidate_erased")
        ).one()
        assert event.actor == admin.user_id
        assert event.detail["candidates"] == 1 and event.detail["applications"] == 1
        assert event.detail["notes"] == 1 and event.detail["via"] == "page"
    dump = _audit_dump(app)
    for needle in ("erika", "mustermann", "example.org", "1234", cand["id"].lower()):
        assert needle not in dump
    page = admin.get("/settings/audit?action=candidate_erased").get_data(as_text=True)
    assert "Candidate erased" in page and "1 candidate, 1 application, 1 note; via page" in page


def test_an_api_delete_of_a_candidate_is_the_full_erasure_and_is_logged(app, api):
    from ats.models import OutboxMessage

    cand = _world(api)["cand"]
    r = api.delete(f"/data/candidate/{cand['id']}")
    assert r.status_code == 409  # dependents, no cascade: nothing happens, nothing logged
    with app.app_context():
        assert _erasures(app) == []
        db.session.add(
            OutboxMessage(
                id="msg_01ARZ3NDEKTSV4RRFFQ69G5FAV",
                kind="rejection",
                to_email="erika@example.org",
                subject="s",
                body="b",
                candidate_id=cand["id"],
            )
        )
        db.session.commit()
    assert api.delete(f"/data/candidate/{cand['id']}?cascade=true").status_code == 204
    with app.app_context():
        [event] = _erasures(app)
        assert (event.action, event.actor) == ("candidate_erased", api.user_id)
        assert event.detail["via"] == "api" and event.detail["messages"] == 1
        # the erasure the page does: the outbox forgets them too
        assert db.session.scalar(select(OutboxMessage.id)) is None
    assert "erika" not in _audit_dump(app)
    # a candidate without anything is erased without cascade, and logged
    lone = api.candidate(name="Lone")
    assert api.delete(f"/data/candidate/{lone['id']}").status_code == 204
    with app.app_context():
        assert _erasures(app)[-1].detail == {
            "candidates": 1,
            "applications": 0,
            "interviews": 0,
            "notes": 0,
            "files": 0,
            "messages": 0,
            "tasks": 0,
            "via": "api",
        }


def _erasures(app: Any) -> list[AuditEvent]:
    stmt = select(AuditEvent).where(AuditEvent.action == "candidate_erased")
    return list(db.session.scalars(stmt.order_by(AuditEvent.id)))
