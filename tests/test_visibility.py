"""Role limits on every path: an interviewer sees only the jobs they are on
(hiring manager or team), those jobs' applications, candidates, interviews and
notes, through the API and through the pages alike; ids of anything else are 404."""

from __future__ import annotations

import pytest


@pytest.fixture
def world(api, make_api):
    iv = make_api("*", role="interviewer", email="iv@example.com")
    mine = api.job(title="Mine", team_ids=[iv.user_id])
    managed = api.job(title="Managed", hiring_manager_id=iv.user_id)
    other = api.job(title="Other")
    panel_job = api.job(title="Panel")
    shared_cand = api.candidate(name="On both")
    apps = {
        "mine": api.application(job=mine, candidate=shared_cand),
        "managed": api.application(job=managed),
        "other": api.application(job=other, candidate=api.candidate(name="Elsewhere")),
        "other_shared": api.application(job=other, candidate=shared_cand),
        "panel": api.application(job=panel_job, candidate=api.candidate(name="Panelled")),
    }
    interviews = {
        "mine": api.create("interview", application_id=apps["mine"]["id"]),
        "other": api.create("interview", application_id=apps["other"]["id"]),
        "other_but_me": api.create(
            "interview", application_id=apps["panel"]["id"], interviewer_ids=[iv.user_id]
        ),
    }
    notes = {
        "job": api.create("application_note", parent_kind="job", parent_id=mine["id"], body="a"),
        "other_job": api.create(
            "application_note", parent_kind="job", parent_id=other["id"], body="b"
        ),
        "other_app": api.create(
            "application_note", parent_kind="application", parent_id=apps["other"]["id"], body="c"
        ),
    }
    return {
        "iv": iv,
        "jobs": {"mine": mine, "managed": managed, "other": other, "panel": panel_job},
        "apps": apps,
        "interviews": interviews,
        "notes": notes,
    }


def _ids(api, path):
    r = api.get(path)
    assert r.status_code == 200, r.get_json()
    return {i["id"] for i in r.get_json()["items"]}


def test_interviewer_lists_only_what_they_are_on(world):
    iv, jobs, apps = world["iv"], world["jobs"], world["apps"]
    # on the panel of an interview for "Panel": that job counts as theirs
    assert _ids(iv, "/data/job") == {jobs["mine"]["id"], jobs["managed"]["id"], jobs["panel"]["id"]}
    assert _ids(iv, "/data/application") == {
        apps["mine"]["id"],
        apps["managed"]["id"],
        apps["panel"]["id"],
    }
    names = {c["data"]["name"] for c in iv.get("/data/candidate").get_json()["items"]}
    assert "Elsewhere" not in names and {"On both", "Panelled"} <= names
    assert _ids(iv, "/data/interview") == {
        world["interviews"]["mine"]["id"],
        world["interviews"]["other_but_me"]["id"],
    }
    assert _ids(iv, "/data/application_note") == {world["notes"]["job"]["id"]}


def test_interviewing_a_candidate_puts_you_on_the_job(world, api):
    iv, jobs, apps = world["iv"], world["jobs"], world["apps"]
    api.patch(
        f"/data/interview/{world['interviews']['other']['id']}",
        json={"interviewer_id": iv.user_id},
    )
    assert jobs["other"]["id"] in _ids(iv, "/data/job")
    assert apps["other"]["id"] in _ids(iv, "/data/application")
    names = {c["data"]["name"] for c in iv.get("/data/candidate").get_json()["items"]}
    assert "Elsewhere" in names


def test_interviewer_gets_404_for_anything_else(world):
    iv = world["iv"]
    assert iv.get(f"/data/job/{world['jobs']['other']['id']}").status_code == 404
    assert iv.get(f"/data/application/{world['apps']['other']['id']}").status_code == 404
    assert iv.get(f"/data/interview/{world['interviews']['other']['id']}").status_code == 404
    assert iv.get(f"/data/application_note/{world['notes']['other_app']['id']}").status_code == 404


def test_interviewer_cannot_note_what_they_cannot_see(world):
    iv = world["iv"]
    r = iv.post(
        "/data/application_note",
        json={"parent_kind": "job", "parent_id": world["jobs"]["other"]["id"], "body": "x"},
    )
    assert r.status_code == 400 and "parent_id" in r.get_json()["fields"]
    r = iv.post(
        "/data/application_note",
        json={"parent_kind": "application", "parent_id": world["apps"]["mine"]["id"], "body": "ok"},
    )
    assert r.status_code == 201


def test_pages_apply_the_same_limits(world, login, app):
    from ats.extensions import db
    from ats.models import User

    client = login("interviewer", email="iv2@example.com")
    with app.app_context():
        me = db.session.get(User, client.user_id)
        assert me is not None
    # iv2 is on no job: the other interviewer's jobs are invisible
    assert client.get(f"/jobs/{world['jobs']['mine']['id']}").status_code == 404
    assert client.get(f"/applications/{world['apps']['mine']['id']}").status_code == 404
    assert "Mine" not in client.get("/jobs").get_data(as_text=True)


def test_recruiters_see_everything(world, make_api):
    rec = make_api("*", role="recruiter")
    assert len(_ids(rec, "/data/job")) == 4
    assert len(_ids(rec, "/data/application")) == 5
