"""Data retention (ats/services/retention.py) and the audit log it writes.

Pins: the period (company profile, else 6 months) runs from the end of the
candidate's last application and a candidate is erased from its end on, not a
day before; one open application keeps a candidate; talent-pool consent keeps
them until consent_at + ATS_TALENT_POOL_MONTHS; consent_at follows the consent
on every write path; a dry run changes nothing and lists exactly what the
real run erases; the real run leaves no trace of the person in any table nor
their CV on disk, keeps one anonymous FunnelStat per application and one
audit event with counts only; each candidate is erased in its own
transaction; the CLI, the settings page (admins only) and the daily worker
hook.
"""

from __future__ import annotations

import io
import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, inspect, select, text, update

from ats import fields as F
from ats.extensions import db
from ats.models import (
    Application,
    ApplyAttempt,
    AuditEvent,
    Candidate,
    FunnelStat,
    IdempotencyKey,
    OutboxMessage,
    StageChange,
    Task,
    utcnow,
)
from ats.services import audit, files, records, retention, tasks
from ats.services.retention import SYSTEM, add_period

E = datetime(2025, 1, 31, 12, 0)  # when the test applications end
DAY = timedelta(days=1)
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


# --- helpers ------------------------------------------------------------------


def profile(value: int | None, unit: str | None) -> None:
    body: dict[str, Any] = {"name": "Acme"}
    if value is not None:
        body |= {"retention_value": value, "retention_unit": unit}
    records.create(F.COMPANY_PROFILE, body, SYSTEM)


def job(title: str = "Backend Engineer") -> Any:
    question = {"id": "q1", "label": "Why us?", "type": "text"}
    return records.create(F.JOB, {"title": title, "screening_questions": [question]}, SYSTEM)


def candidate(name: str = "Ada Lovelace", email: str | None = None, **kw: Any) -> Any:
    email = email or name.lower().replace(" ", ".") + "@example.com"
    return records.create(F.CANDIDATE, {"name": name, "email": email, **kw}, SYSTEM)


def application(cand: Any, stage: str = "rejected", ended: datetime = E, **kw: Any) -> Any:
    """An application moved through new → ``stage``, which it entered at ``ended``."""
    body = {"job_id": kw.pop("job_id", None) or job().id, "candidate_id": cand.id, **kw}
    app = records.create(F.APPLICATION, body, SYSTEM)
    if stage != "new":
        records.update(F.APPLICATION, app.id, {"stage": stage}, SYSTEM)
    set_stage_time(app.id, stage, ended)
    return app


def set_stage_time(app_id: str, stage: str, at: datetime) -> None:
    """Move the clock: the application entered ``stage`` at ``at``."""
    db.session.execute(update(Application).where(Application.id == app_id).values(last_stage_at=at))
    db.session.execute(
        update(StageChange)
        .where(StageChange.application_id == app_id, StageChange.to_stage == stage)
        .values(at=at)
    )
    db.session.commit()


def due_ids(now: datetime) -> list[str]:
    db.session.rollback()
    return [d.candidate_id for d in retention.due(now)]


def snapshot() -> dict[str, list[tuple]]:
    """Every row of every table (but the audit log), to compare before and after."""
    tables = inspect(db.engine).get_table_names()
    return {
        t: sorted(map(tuple, db.session.execute(text(f'SELECT * FROM "{t}"'))), key=repr)
        for t in tables
        if t != "audit_event"
    }


def traces(needles: list[str]) -> list[tuple[str, str]]:
    """(table, needle) for every needle found anywhere in the database."""
    found = []
    for table, rows in snapshot().items():
        blob = repr(rows).lower()
        found += [(table, n) for n in needles if n.lower() in blob]
    audit_rows = repr(list(db.session.execute(text("SELECT * FROM audit_event")))).lower()
    found += [("audit_event", n) for n in needles if n.lower() in audit_rows]
    return found


# --- the period -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "value", "unit", "expected"),
    [
        (E, 2, "weeks", datetime(2025, 2, 14, 12, 0)),
        (E, 1, "months", datetime(2025, 2, 28, 12, 0)),  # no 31 February
        (E, 13, "months", datetime(2026, 2, 28, 12, 0)),
        (datetime(2024, 2, 29), 1, "years", datetime(2025, 2, 28)),
        (datetime(2024, 2, 29), 4, "years", datetime(2028, 2, 29)),
        (E, 10**9, "years", datetime.max),  # a silly value means "keep", not a crash
        (E, 10**12, "weeks", datetime.max),
    ],
)
def test_add_period(start, value, unit, expected):
    assert add_period(start, value, unit) == expected


@pytest.mark.parametrize(
    ("value", "unit", "keep_until"),
    [
        (None, None, datetime(2025, 7, 31, 12, 0)),  # unset: 6 months
        (3, "weeks", datetime(2025, 2, 21, 12, 0)),
        (1, "months", datetime(2025, 2, 28, 12, 0)),
        (2, "years", datetime(2027, 1, 31, 12, 0)),
    ],
)
def test_erased_from_the_end_of_the_period_not_a_day_before(app, value, unit, keep_until):
    with app.app_context():
        profile(value, unit)
        cand = candidate()
        application(cand, "rejected", E)
        assert due_ids(keep_until - DAY) == []
        assert due_ids(keep_until - timedelta(seconds=1)) == []
        assert due_ids(keep_until) == [cand.id]
        assert due_ids(keep_until + DAY) == [cand.id]
        (d,) = retention.due(keep_until + DAY)
        assert d.kind == "ended" and d.ended_at == E
        period = retention.policy().period
        assert d.reason == f"ended on 2025-01-31 + {period}"


def test_a_value_without_a_unit_counts_in_months(app):
    with app.app_context():
        records.create(F.COMPANY_PROFILE, {"name": "Acme", "retention_value": 2}, SYSTEM)
        pol = retention.policy()
        assert (pol.value, pol.unit, pol.is_default, pol.period) == (2, "months", False, "2 months")
        assert "2 months (company profile)" in pol.describe()


def test_hired_and_talent_pool_stages_end_an_application_too(app):
    with app.app_context():
        hired, pooled = candidate("Hired Person"), candidate("Pooled Person")  # no consent
        application(hired, "hired", E)
        application(pooled, "talent_pool", E)
        assert sorted(due_ids(datetime(2025, 8, 1))) == sorted([hired.id, pooled.id])


def test_one_open_application_keeps_the_candidate(app):
    with app.app_context():
        cand = candidate()
        application(cand, "rejected", E)
        open_app = application(cand, "interview", E)
        assert due_ids(E + timedelta(days=3650)) == []
        records.update(F.APPLICATION, open_app.id, {"stage": "hired"}, SYSTEM)
        set_stage_time(open_app.id, "hired", datetime(2025, 3, 10))
        assert due_ids(datetime(2025, 9, 9)) == []  # the later end counts
        assert due_ids(datetime(2025, 9, 10)) == [cand.id]


def test_a_candidate_without_applications_counts_from_their_last_change(app):
    with app.app_context():
        cand = candidate()
        db.session.execute(update(Candidate).values(updated_at=E))
        db.session.commit()
        assert due_ids(datetime(2025, 7, 30)) == []
        (d,) = retention.due(datetime(2025, 7, 31, 12, 0))
        assert d.kind == "no_application" and d.ended_at is None and d.candidate_id == cand.id
        assert d.reason == "no application; record last changed on 2025-01-31 + 6 months"


# --- talent-pool consent --------------------------------------------------------


def test_talent_pool_consent_keeps_until_its_own_period_ends(app):
    with app.app_context():
        cand = candidate(consent_talent_pool=True)
        consent_at = datetime(2025, 1, 1, 9, 0)
        db.session.execute(update(Candidate).values(consent_at=consent_at))
        db.session.commit()
        application(cand, "talent_pool", E)
        assert due_ids(datetime(2025, 8, 1)) == []  # 6 months are over, the consent is not
        assert due_ids(datetime(2026, 12, 31)) == []
        assert due_ids(datetime(2027, 1, 1, 9, 0)) == [cand.id]  # consent_at + 24 months
        (d,) = retention.due(datetime(2027, 1, 2))
        assert d.kind == "consent" and d.reason == "talent-pool consent until 2027-01-01"
        run = retention.run(now=datetime(2027, 1, 2))
        assert [d.candidate_id for d in run.candidates] == [cand.id]
        assert db.session.get(Candidate, cand.id) is None


def test_an_application_ending_after_the_consent_period_still_gets_its_months(app):
    with app.app_context():
        cand = candidate(consent_talent_pool=True)
        db.session.execute(update(Candidate).values(consent_at=datetime(2023, 1, 1)))
        db.session.commit()
        application(cand, "rejected", E)
        assert due_ids(datetime(2025, 7, 30)) == []
        assert due_ids(datetime(2025, 8, 1)) == [cand.id]


def test_consent_period_is_a_setting_and_old_rows_count_from_updated_at(app):
    app.config["TALENT_POOL_MONTHS"] = 12
    with app.app_context():
        cand = candidate(consent_talent_pool=True)
        application(cand, "rejected", E)
        # a row from before consent_at existed: consent but no time
        db.session.execute(
            update(Candidate).values(consent_at=None, updated_at=datetime(2025, 3, 1))
        )
        db.session.commit()
        assert due_ids(datetime(2026, 2, 28)) == []
        assert due_ids(datetime(2026, 3, 1)) == [cand.id]
        assert "12 months after it was given" in retention.policy().describe()


def test_consent_at_follows_the_consent_on_every_write_path(app, api):
    with app.app_context():
        before = utcnow()
        cand = candidate(consent_talent_pool=True)
        stamped = db.session.get(Candidate, cand.id).consent_at
        assert stamped is not None and stamped >= before
        records.update(F.CANDIDATE, cand.id, {"phone": "+49 30 1234"}, SYSTEM)
        db.session.expire_all()
        assert db.session.get(Candidate, cand.id).consent_at == stamped  # unrelated change
        records.update(F.CANDIDATE, cand.id, {"consent_talent_pool": False}, SYSTEM)
        db.session.expire_all()
        assert db.session.get(Candidate, cand.id).consent_at is None
        plain = candidate("No Consent")
        assert db.session.get(Candidate, plain.id).consent_at is None
        cand_id = cand.id
    # through the API (its own session and write path)
    r = api.patch(f"/data/candidate/{cand_id}", json={"consent_talent_pool": True})
    assert r.status_code == 200
    with app.app_context():
        again = db.session.get(Candidate, cand_id).consent_at
        assert again is not None and again > stamped
        # plain ORM code (a flush) is covered as well
        row = db.session.get(Candidate, cand_id)
        row.consent_talent_pool = False
        db.session.commit()
        assert db.session.get(Candidate, cand_id).consent_at is None


# --- the run --------------------------------------------------------------------


@pytest.fixture
def dossier(app, make_user):
    """One candidate due for erasure with everything a person leaves behind, and
    one who is kept (an open application), with their own CV and message."""
    staff = make_user("lead@example.com", "recruiter")
    with app.app_context():
        profile(None, None)
        j = job()
        gone = candidate("Erika Mustermann", "erika.m@example.org", tags=["gdpr", "python"])
        cv = files.store_cv(io.BytesIO(PDF))
        a1 = application(
            gone,
            "rejected",
            E,
            job_id=j.id,
            cv_blob_id=cv.id,
            cover_letter="Dear Acme, Erika here",
            answers=[{"question_id": "q1", "value": "Erika's answer"}],
        )
        db.session.execute(
            update(Application).where(Application.id == a1.id).values(cv_text="Erika CV text")
        )
        db.session.commit()
        a2 = application(gone, "hired", datetime(2025, 1, 10))
        interview = records.create(
            F.INTERVIEW,
            {"application_id": a1.id, "kind": "video", "interviewer_ids": [staff]},
            SYSTEM,
        )
        for parent_kind, parent_id in (("candidate", gone.id), ("application", a2.id)):
            records.create(
                F.APPLICATION_NOTE,
                {"parent_kind": parent_kind, "parent_id": parent_id, "body": "Erika was great"},
                SYSTEM,
            )
        db.session.add_all(
            [
                OutboxMessage(id="msg_1", kind="received", to_email=gone.email,
                              subject="Hello Erika", body="b", candidate_id=gone.id),
                OutboxMessage(id="msg_2", kind="invite", to_email="lead@example.com",
                              subject="Interview with Erika", body="b", interview_id=interview.id),
                Task(kind="score", payload={"application_id": a1.id}),
                ApplyAttempt(ip="203.0.113.9", form_token="tok-erika", application_id=a2.id),
                IdempotencyKey(user_id=staff, key="k1", method="POST", path="/xapi2/data/candidate",
                               body_sha256="0" * 64, status=201,
                               body=json.dumps({"id": gone.id, "data": {"name": gone.name}})),
            ]
        )  # fmt: skip
        db.session.commit()

        kept = candidate("Kept Person", "kept@example.com")
        kept_cv = files.store_cv(io.BytesIO(PDF))
        kept_app = application(kept, "review", E, job_id=j.id, cv_blob_id=kept_cv.id)
        db.session.add_all(
            [
                OutboxMessage(id="msg_3", kind="received", to_email=kept.email,
                              subject="Hello", body="b", candidate_id=kept.id),
                Task(kind="score", payload={"application_id": kept_app.id}),
            ]
        )  # fmt: skip
        db.session.commit()
        return {
            "gone": gone.id,
            "needles": [gone.id, a1.id, a2.id, interview.id, gone.email, gone.name, "Erika"],
            "cv": cv.path,
            "kept": kept.id,
            "kept_app": kept_app.id,
            "kept_cv": kept_cv.path,
            "job": j.id,
        }


# the retention runs' events (logins and user creation are logged too)
_IS_RUN = AuditEvent.action == "retention_run"
_RUNS = select(AuditEvent).where(_IS_RUN)
NOW = datetime(2025, 8, 1)


def tasks_naming(ids: list[str]) -> int:
    """Queued work that names any of these ids (ours, and what other automations queue)."""
    payloads = [json.dumps(p) for p in db.session.scalars(select(Task.payload))]
    return sum(any(i in p for i in ids) for p in payloads)


def test_dry_run_changes_nothing_and_lists_what_the_real_run_erases(app, dossier):
    with app.app_context():
        their_tasks = tasks_naming(dossier["needles"][:4])
        assert their_tasks >= 1
        before = snapshot()
        dry = retention.run(now=NOW, dry_run=True)
        assert snapshot() == before and dossier["cv"].exists()
        assert [d.candidate_id for d in dry.candidates] == [dossier["gone"]]
        real = retention.run(now=NOW)
        assert [d.candidate_id for d in real.candidates] == [dossier["gone"]]
        assert (
            real.counts
            == dry.counts
            == {
                "candidates": 1,
                "applications": 2,
                "notes": 2,
                "interviews": 1,
                "files": 1,
                "messages": 2,
                "tasks": their_tasks,
            }
        )
        events = db.session.scalars(_RUNS.order_by(AuditEvent.id)).all()
        assert [e.detail["dry_run"] for e in events] == [True, False]


def test_the_real_run_leaves_no_trace(app, dossier):
    with app.app_context():
        assert len(traces(dossier["needles"])) > 5  # the scan sees them while they exist
        retention.run(now=NOW)
        assert traces(dossier["needles"]) == []
        assert not dossier["cv"].exists()
        # the candidate who is kept keeps everything
        assert db.session.get(Candidate, dossier["kept"]) is not None
        assert db.session.get(Application, dossier["kept_app"]) is not None
        assert dossier["kept_cv"].exists()
        assert db.session.get(OutboxMessage, "msg_3") is not None
        assert {"application_id": dossier["kept_app"]} in db.session.scalars(select(Task.payload))
        # nothing is left to do: a second run erases nobody
        assert retention.run(now=NOW).counts["candidates"] == 0


def test_funnel_stats_keep_the_stages_without_the_person(app):
    with app.app_context():
        src = records.create(F.SOURCE, {"name": "Referral"}, SYSTEM)
        j = job()
        cand = candidate()
        a = records.create(
            F.APPLICATION, {"job_id": j.id, "candidate_id": cand.id, "source_id": src.id}, SYSTEM
        )
        t0 = datetime(2025, 1, 1, 8, 0)
        steps = [("new", 0), ("review", 2), ("interview", 5), ("review", 6), ("rejected", 7.5)]
        for stage, _days in steps[1:]:
            records.update(F.APPLICATION, a.id, {"stage": stage}, SYSTEM)
        changes = db.session.scalars(
            select(StageChange).where(StageChange.application_id == a.id).order_by(StageChange.id)
        ).all()
        for change, (stage, days) in zip(changes, steps, strict=True):
            assert change.to_stage == stage
            change.at = t0 + timedelta(days=days)
        db.session.execute(
            update(Application)
            .where(Application.id == a.id)
            .values(applied_at=t0, last_stage_at=t0 + timedelta(days=7.5))
        )
        db.session.commit()
        hired = application(cand, "hired", datetime(2025, 1, 20), job_id=job("Other").id)

        retention.run(now=datetime(2025, 12, 1))
        stats = {s.final_stage: s for s in db.session.scalars(select(FunnelStat))}
        assert set(stats) == {"rejected", "hired"}
        s = stats["rejected"]
        assert (s.job_id, s.source_id, s.stage_reached) == (j.id, src.id, "interview")
        assert s.applied_on == t0.date() and s.ended_on == datetime(2025, 1, 8).date()
        assert s.stage_days == {"new": 2.0, "review": 4.5, "interview": 1.0}  # review: 3 + 1.5
        h = stats["hired"]
        assert h.stage_reached == "hired" and h.ended_on == datetime(2025, 1, 20).date()
        assert hired.id not in repr(list(db.session.execute(text("SELECT * FROM funnel_stat"))))


def test_the_audit_event_holds_counts_only(app, dossier):
    with app.app_context():
        their_tasks = tasks_naming(dossier["needles"][:4])
        retention.run(now=NOW, trigger="cli")
        (event,) = db.session.scalars(_RUNS).all()
        assert event.actor == "system" and event.action == "retention_run"
        assert event.detail == {
            "candidates": 1,
            "applications": 2,
            "notes": 2,
            "interviews": 1,
            "files": 1,
            "messages": 2,
            "tasks": their_tasks,
            "failed": 0,
            "dry_run": False,
            "trigger": "cli",
            "policy": "6 months",
        }


def test_a_failure_midway_leaves_a_consistent_state_and_the_next_run_continues(app, monkeypatch):
    with app.app_context():
        first, second, third = candidate("First One"), candidate("Second One"), candidate("Third")
        for n, cand in enumerate((first, second, third)):
            application(cand, "rejected", E + timedelta(hours=n))
        real_remove = records.remove

        def remove(mdef: Any, obj_id: str, *args: Any, **kw: Any) -> Any:
            if obj_id == second.id:
                raise RuntimeError("disk full")  # after the funnel stats were written
            return real_remove(mdef, obj_id, *args, **kw)

        monkeypatch.setattr(records, "remove", remove)
        report = retention.run(now=NOW)
        assert report.failed == [second.id]
        assert [d.candidate_id for d in report.candidates] == [first.id, third.id]
        assert report.counts["candidates"] == 2
        assert db.session.get(Candidate, first.id) is None
        assert db.session.get(Candidate, third.id) is None
        kept = db.session.get(Candidate, second.id)
        assert kept is not None  # whole: its application, and no funnel stat for it yet
        assert db.session.scalar(select(Application.id).where(Application.candidate_id == kept.id))
        assert len(db.session.scalars(select(FunnelStat)).all()) == 2
        assert db.session.scalar(select(AuditEvent.detail).where(_IS_RUN))["failed"] == 1
        # the worker's task fails (to be retried) while anyone is left
        tasks.enqueue("retention_run", {})
        tasks.run_pending("w1")
        assert "could not be erased" in db.session.scalar(select(Task.last_error))
        monkeypatch.setattr(records, "remove", real_remove)
        assert [d.candidate_id for d in retention.run(now=NOW).candidates] == [second.id]
        assert len(db.session.scalars(select(FunnelStat)).all()) == 3


def test_audit_record_refuses_what_it_cannot_keep(app):
    with app.app_context():
        with pytest.raises(ValueError):
            audit.record(None, "", {})
        with pytest.raises(ValueError):
            audit.record(None, "x", {"when": datetime(2025, 1, 1)})
        with pytest.raises(ValueError):
            audit.record(None, "x", {"blob": "a" * 5000})
        event = audit.record("usr_1", "login", {"ok": True})
        assert event.actor == "usr_1" and audit.recent("login")[0].id == event.id
        assert audit.record(None, "x").actor == "system"


# --- the CLI --------------------------------------------------------------------


def test_cli_dry_run_lists_ids_and_reasons_then_the_run_erases(app, runner):
    ended = utcnow() - timedelta(days=400)
    with app.app_context():
        cand = candidate("Cli Person", "cli@example.com")
        application(cand, "rejected", ended)
        keep = candidate("Fresh Person")
        application(keep, "rejected", utcnow() - timedelta(days=10))
        cand_id, keep_id = cand.id, keep.id
    result = runner.invoke(args=["retention", "run", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert f"{cand_id}\tended on {ended.date().isoformat()} + 6 months" in result.output
    assert keep_id not in result.output and "Cli Person" not in result.output
    assert "would erase: 1 candidates, 1 applications" in result.output
    with app.app_context():
        assert db.session.get(Candidate, cand_id) is not None
    result = runner.invoke(args=["retention", "run"])
    assert result.exit_code == 0, result.output
    assert "erased: 1 candidates, 1 applications" in result.output
    assert cand_id not in result.output
    with app.app_context():
        assert db.session.get(Candidate, cand_id) is None
        assert db.session.get(Candidate, keep_id) is not None


def test_cli_exits_with_an_error_naming_who_could_not_be_erased(app, runner, monkeypatch):
    with app.app_context():
        cand = candidate()
        application(cand, "rejected", utcnow() - timedelta(days=400))
        cand_id = cand.id

    def broken(*_args: Any, **_kw: Any) -> Any:
        raise RuntimeError("disk full")

    monkeypatch.setattr(records, "remove", broken)
    result = runner.invoke(args=["retention", "run"])
    assert result.exit_code == 1
    assert f"could not erase {cand_id}" in result.output and "Traceback" not in result.output


# --- the settings page ----------------------------------------------------------


def _due_candidate(app) -> str:
    with app.app_context():
        cand = candidate("Page Person", "page@example.com")
        application(cand, "rejected", utcnow() - timedelta(days=200))
        return cand.id


def test_settings_page_shows_what_the_next_run_erases(app, login):
    cand_id = _due_candidate(app)
    client = login("admin")
    page = client.get("/settings/retention").get_data(as_text=True)
    assert "The next run erases 1 candidate<" in page
    assert "Page Person" in page and f"/candidates/{cand_id}" in page
    assert "+ 6 months" in page and "No retention run yet." in page
    assert "/settings/retention" in client.get("/settings").get_data(as_text=True)


def test_run_now_needs_the_confirmation_then_erases_and_is_logged(app, login):
    cand_id = _due_candidate(app)
    client = login("admin")
    r = client.post("/settings/retention/run", data={"csrf_token": client.csrf})
    assert r.status_code == 400 and "Tick the box" in r.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Candidate, cand_id) is not None
    r = client.post("/settings/retention/run", data={"csrf_token": client.csrf, "confirm": "y"})
    assert r.status_code == 303
    page = client.get(r.headers["Location"]).get_data(as_text=True)
    assert "Erased 1 candidate with 1 application" in page
    assert "Page Person" not in page and "(settings)" in page
    with app.app_context():
        assert db.session.get(Candidate, cand_id) is None
        (event,) = db.session.scalars(_RUNS).all()
        assert event.actor == client.user_id


def test_settings_retention_is_for_admins_only_and_needs_csrf(app, login):
    cand_id = _due_candidate(app)
    for role in ("recruiter", "interviewer"):
        client = login(role)
        assert client.get("/settings/retention").status_code == 403
        r = client.post("/settings/retention/run", data={"csrf_token": client.csrf, "confirm": "y"})
        assert r.status_code == 403
        assert "/settings/retention" not in client.get("/settings").get_data(as_text=True)
    admin = login("admin")
    r = admin.post("/settings/retention/run", data={"confirm": "y"})
    assert r.status_code == 400 and "CSRF" in r.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Candidate, cand_id) is not None


def test_the_candidates_page_erase_takes_messages_and_tasks_along(app, login):
    with app.app_context():
        cand = candidate("Page Erase", "page.erase@example.com")
        a = application(cand, "review", utcnow())
        db.session.add_all(
            [
                OutboxMessage(id="msg_x", kind="received", to_email=cand.email,
                              subject="s", body="b", application_id=a.id),
                Task(kind="score", payload={"application_id": a.id}),
            ]
        )  # fmt: skip
        db.session.commit()
        cand_id = cand.id
        n = tasks_naming([cand_id, a.id])
    client = login("recruiter")
    r = client.post(
        f"/candidates/{cand_id}/erase", data={"csrf_token": client.csrf, "confirm": "Page Erase"}
    )
    assert r.status_code == 303
    page = client.get("/candidates").get_data(as_text=True)
    assert f"erased with 1 application, 1 message, {n} task{'' if n == 1 else 's'}" in page
    with app.app_context():
        assert traces([cand_id, a.id, "page.erase@example.com", "Page Erase"]) == []
        (stat,) = db.session.scalars(select(FunnelStat)).all()
        assert stat.final_stage == "review" and stat.ended_on is None


# --- daily, in the worker -------------------------------------------------------


def test_the_worker_queues_one_run_per_day(app):
    with app.app_context():
        assert retention._daily in tasks.PERIODIC
        assert retention.schedule_daily(datetime(2025, 8, 1, 0, 0, 5)) is True
        assert retention.schedule_daily(datetime(2025, 8, 1, 0, 0, 10)) is False
        assert tasks.run_pending("w1") == 1
        assert retention.schedule_daily(datetime(2025, 8, 1, 23, 59)) is False  # done today
        assert retention.schedule_daily(datetime(2025, 8, 2, 0, 1)) is True
        keys = db.session.scalars(select(Task.dedupe_key).order_by(Task.id)).all()
        assert keys == ["retention_run:2025-08-01", "retention_run:2025-08-02"]


def test_a_worker_tick_runs_the_retention(app):
    with app.app_context():
        cand = candidate()
        application(cand, "rejected", utcnow() - timedelta(days=400))
        cand_id = cand.id
        tasks.tick("w1")
        db.session.rollback()
        assert db.session.get(Candidate, cand_id) is None
        event = db.session.scalar(select(AuditEvent))
        assert event.detail["trigger"] == "worker" and event.detail["candidates"] == 1
        assert db.session.scalar(select(Task.status)) == "done"


def test_without_last_stage_at_the_end_comes_from_the_stage_history(app):
    with app.app_context():
        cand = candidate()
        a = application(cand, "rejected", E)
        db.session.execute(update(Application).values(last_stage_at=None, updated_at=utcnow()))
        db.session.commit()
        assert due_ids(datetime(2025, 7, 31, 11, 0)) == []
        (d,) = retention.due(datetime(2025, 7, 31, 12, 0))
        assert d.ended_at == E and d.candidate_id == cand.id
        db.session.execute(delete(StageChange).where(StageChange.application_id == a.id))
        db.session.commit()
        assert due_ids(datetime(2025, 8, 1)) == []  # then its last change: just now


def test_a_candidate_who_applies_again_meanwhile_is_kept(app, monkeypatch):
    """The run checks again inside each erasing transaction."""
    with app.app_context():
        cand = candidate()
        application(cand, "rejected", E)
        listing = retention.due

        def due_then_apply(*args: Any, **kw: Any) -> Any:
            found = listing(*args, **kw)
            if kw.get("candidate_id") is None and len(args) < 3:
                monkeypatch.setattr(retention, "due", listing)
                application(cand, "new", utcnow())  # arrives after the list was read
            return found

        monkeypatch.setattr(retention, "due", due_then_apply)
        report = retention.run(now=NOW)
        assert report.candidates == [] and report.counts["candidates"] == 0
        assert db.session.get(Candidate, cand.id) is not None


def test_the_run_sweeps_interrupted_uploads_and_cvs_no_application_names(app):
    import os
    import time

    with app.app_context():
        named = files.store_cv(io.BytesIO(PDF))
        application(candidate(), "review", NOW, cv_blob_id=named.id)  # not due: kept whole
        unnamed_old, unnamed_new = files.store_cv(io.BytesIO(PDF)), files.store_cv(io.BytesIO(PDF))
        root = named.path.parent
        temp_old, temp_new = root / ".upload-crashed", root / ".upload-writing"
        temp_old.write_bytes(b"%PDF-half"), temp_new.write_bytes(b"%PDF-half")
        day_ago = time.time() - files.UNNAMED_MAX_AGE - 60
        for path in (named.path, unnamed_old.path, temp_old):
            os.utime(path, (day_ago, day_ago))
        os.utime(unnamed_new.path, (time.time() - files.TEMP_MAX_AGE - 60,) * 2)

        retention.run(now=NOW, trigger="cli")

        assert sorted(p.name for p in root.iterdir()) == sorted(
            [named.path.name, unnamed_new.path.name, temp_new.name]
        )
        (event,) = db.session.scalars(_RUNS).all()
        assert event.detail["stray_files"] == 2
        assert "unused uploaded files removed: 2" in audit.describe(event)
        retention.run(now=NOW, trigger="cli", dry_run=True)  # a dry run removes nothing
        assert len(list(root.iterdir())) == 3
