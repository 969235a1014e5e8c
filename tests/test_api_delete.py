"""DELETE (spec section 4, docs/api.md "DELETE") and the derived fields that
the server maintains on writes: application stage history and position, job
opened_at/closed_at, and updated_at."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import Api

from ats import fields as F

MODELS = list(F.MODELS)


def missing_id(model: str) -> str:
    return f"{F.MODELS[model].prefix}_01JD0000000000000000000000"


def note(api: Api, parent_kind: str, parent: dict, **data: Any) -> dict:
    return api.create(
        "application_note",
        **{"parent_kind": parent_kind, "parent_id": parent["id"], "body": "a note", **data},
    )


def make(api: Api, model: str, n: int = 0) -> dict:
    """An object of the model that nothing depends on."""
    if model == "job":
        return api.job(title=f"Job {n}")
    if model == "candidate":
        return api.candidate(name=f"Cand {n}")
    if model == "application":
        return api.application()
    if model == "interview":
        return api.create("interview", application_id=api.application()["id"])
    if model == "application_note":
        return note(api, "job", api.job())
    if model == "source":
        return api.create("source", name=f"Source {n}")
    return api.create("company_profile", name="Acme")


def exists(api: Api, model: str, obj: dict) -> bool:
    r = api.get(f"/data/{model}/{obj['id']}")
    assert r.status_code in (200, 404), r.get_json()
    return r.status_code == 200


def listed(api: Api, model: str, obj: dict, **params: str) -> bool:
    limit = F.MODELS[model].max_page
    found = False
    for archived in ("false", "true"):
        r = api.get(
            f"/data/{model}", query_string={"limit": limit, "is_archived": archived, **params}
        )
        assert r.status_code == 200, r.get_json()
        found |= obj["id"] in [i["id"] for i in r.get_json()["items"]]
    return found


def conflict(api: Api, model: str, obj: dict, query: str = "") -> dict:
    r = api.delete(f"/data/{model}/{obj['id']}{query}")
    assert r.status_code == 409, r.get_json()
    body = r.get_json()
    assert body["error"] == "conflict"
    return body


def delete(api: Api, model: str, obj: dict, query: str = "") -> None:
    r = api.delete(f"/data/{model}/{obj['id']}{query}")
    assert r.status_code == 204, r.get_json()
    assert r.data == b""


# --- plain deletes ------------------------------------------------------------


@pytest.mark.parametrize("model", MODELS)
def test_delete_then_gone_everywhere(api, model):
    obj = make(api, model)
    assert exists(api, model, obj) and listed(api, model, obj)
    delete(api, model, obj)
    assert not exists(api, model, obj)
    assert not listed(api, model, obj)
    assert api.patch(f"/data/{model}/{obj['id']}", json={}).status_code == 404
    assert api.delete(f"/data/{model}/{obj['id']}").status_code == 404
    assert api.post(f"/data/{model}/{obj['id']}/archive").status_code == 404


@pytest.mark.parametrize("model", [m for m in MODELS if m != "company_profile"])
def test_delete_leaves_the_others(api, model):
    first, second = make(api, model, 1), make(api, model, 2)
    delete(api, model, first)
    assert exists(api, model, second) and listed(api, model, second)
    r = api.get(f"/data/{model}", query_string={"created_by": api.user_id})
    assert first["id"] not in [i["id"] for i in r.get_json()["items"]]


@pytest.mark.parametrize("model", MODELS)
def test_delete_archived_object(api, model):
    obj = make(api, model)
    assert api.post(f"/data/{model}/{obj['id']}/archive").status_code == 200
    delete(api, model, obj)
    assert not exists(api, model, obj) and not listed(api, model, obj)


@pytest.mark.parametrize("model", MODELS)
def test_delete_missing_id_is_404(api, model):
    r = api.delete(f"/data/{model}/{missing_id(model)}")
    assert r.status_code == 404
    assert r.get_json()["error"] == "not_found"
    assert api.delete(f"/data/{model}/nonsense").status_code == 404


def test_delete_with_id_of_another_model_is_404(api):
    job = api.job()
    candidate = api.candidate()
    assert api.delete(f"/data/candidate/{job['id']}").status_code == 404
    assert api.delete(f"/data/job/{candidate['id']}").status_code == 404
    assert exists(api, "job", job) and exists(api, "candidate", candidate)


def test_delete_unused_interview_note_profile_source_directly(api):
    application = api.application()
    interview = api.create("interview", application_id=application["id"])
    job_note = note(api, "application", application)
    profile = api.create("company_profile", name="Acme")
    source = api.create("source", name="LinkedIn")
    for model, obj in (
        ("interview", interview),
        ("application_note", job_note),
        ("company_profile", profile),
        ("source", source),
    ):
        delete(api, model, obj)
        assert not exists(api, model, obj)
    # the application the interview and note belonged to stays, now deletable directly
    assert exists(api, "application", application)
    delete(api, "application", application)


# --- dependents: 409 or cascade ----------------------------------------------


@pytest.fixture
def hiring(api):
    """A job with two applications, an interview and notes, plus unrelated objects."""
    job, other_job = api.job(title="Backend"), api.job(title="Frontend")
    ada, bob = api.candidate(name="Ada"), api.candidate(name="Bob")
    app_ada = api.application(job, ada)
    app_bob = api.application(job, bob)
    other_app = api.application(other_job, ada)
    return {
        "job": job,
        "other_job": other_job,
        "ada": ada,
        "bob": bob,
        "app_ada": app_ada,
        "app_bob": app_bob,
        "other_app": other_app,
        "interview": api.create("interview", application_id=app_ada["id"]),
        "other_interview": api.create("interview", application_id=other_app["id"]),
        "app_note": note(api, "application", app_ada),
        "job_note": note(api, "job", job, pinned=True),
        "ada_note": note(api, "candidate", ada),
        "other_job_note": note(api, "job", other_job),
        "other_app_note": note(api, "application", other_app),
    }


MODEL_OF = {
    "job": "job",
    "other_job": "job",
    "ada": "candidate",
    "bob": "candidate",
    "app_ada": "application",
    "app_bob": "application",
    "other_app": "application",
    "interview": "interview",
    "other_interview": "interview",
    "app_note": "application_note",
    "job_note": "application_note",
    "ada_note": "application_note",
    "other_job_note": "application_note",
    "other_app_note": "application_note",
}


def alive(api: Api, hiring: dict) -> set[str]:
    return {name for name, obj in hiring.items() if exists(api, MODEL_OF[name], obj)}


def test_job_with_applications_is_409_and_nothing_goes(api, hiring):
    before = alive(api, hiring)
    assert before == set(hiring)
    body = conflict(api, "job", hiring["job"])
    assert body["dependents"] == {"application": 2, "interview": 1, "application_note": 2}
    assert "cascade" in body["message"]
    conflict(api, "job", hiring["job"], "?cascade=false")
    assert alive(api, hiring) == before
    assert listed(api, "job", hiring["job"])


def test_job_cascade_deletes_applications_interviews_and_notes(api, hiring):
    delete(api, "job", hiring["job"], "?cascade=true")
    gone = {"job", "app_ada", "app_bob", "interview", "app_note", "job_note"}
    assert alive(api, hiring) == set(hiring) - gone
    for name in gone:
        assert not listed(api, MODEL_OF[name], hiring[name]), name
    r = api.get("/data/application", query_string={"job_id": hiring["job"]["id"]})
    assert r.get_json()["total"] == 0
    r = api.get("/data/application_note", query_string={"parent_id": hiring["job"]["id"]})
    assert r.get_json()["total"] == 0
    # the candidates remain: they are not dependents of the job
    assert exists(api, "candidate", hiring["bob"])


def test_job_with_only_notes_is_409(api):
    job = api.job()
    job_note = note(api, "job", job)
    body = conflict(api, "job", job)
    assert body["dependents"] == {"application_note": 1}
    assert exists(api, "job", job)
    delete(api, "job", job, "?cascade=true")
    assert not exists(api, "job", job) and not exists(api, "application_note", job_note)


def test_candidate_with_applications_is_409(api, hiring):
    body = conflict(api, "candidate", hiring["ada"])
    # two applications, the interview on one, notes on one application and on Ada
    assert body["dependents"] == {"application": 2, "interview": 2, "application_note": 3}
    assert alive(api, hiring) == set(hiring)


def test_candidate_cascade(api, hiring):
    delete(api, "candidate", hiring["ada"], "?cascade=true")
    gone = {
        "ada",
        "app_ada",
        "other_app",
        "interview",
        "other_interview",
        "app_note",
        "ada_note",
        "other_app_note",
    }
    assert alive(api, hiring) == set(hiring) - gone
    r = api.get("/data/application", query_string={"candidate_id": hiring["ada"]["id"]})
    assert r.get_json()["total"] == 0


def test_candidate_with_only_notes_is_409(api):
    candidate = api.candidate()
    note(api, "candidate", candidate)
    assert conflict(api, "candidate", candidate)["dependents"] == {"application_note": 1}
    assert exists(api, "candidate", candidate)


def test_application_with_interviews_and_notes_is_409(api, hiring):
    api.create("interview", application_id=hiring["app_ada"]["id"])
    body = conflict(api, "application", hiring["app_ada"])
    assert body["dependents"] == {"interview": 2, "application_note": 1}
    assert alive(api, hiring) == set(hiring)


def test_application_with_only_a_note_is_409(api):
    application = api.application()
    note(api, "application", application)
    assert conflict(api, "application", application)["dependents"] == {"application_note": 1}
    assert exists(api, "application", application)


def test_application_cascade(api, hiring):
    delete(api, "application", hiring["app_ada"], "?cascade=true")
    gone = {"app_ada", "interview", "app_note"}
    assert alive(api, hiring) == set(hiring) - gone
    # the job now has one application and can still not go without cascade
    assert conflict(api, "job", hiring["job"])["dependents"]["application"] == 1


def test_source_in_use(api):
    source = api.create("source", name="LinkedIn")
    other = api.create("source", name="Indeed")
    job = api.job()
    used = [api.application(job, api.candidate(), source_id=source["id"]) for _ in range(2)]
    elsewhere = api.application(job, api.candidate(), source_id=other["id"])
    body = conflict(api, "source", source)
    assert body["dependents"] == {"application": 2}
    assert exists(api, "source", source)
    assert api.delete(f"/data/source/{source['id']}?cascade=maybe").status_code == 400

    delete(api, "source", source, "?cascade=true")
    assert not exists(api, "source", source) and not listed(api, "source", source)
    for application in used:
        got = api.get(f"/data/application/{application['id']}")
        assert got.status_code == 200
        assert got.get_json()["data"]["source_id"] is None
        assert got.get_json()["data"]["stage"] == application["data"]["stage"]
    assert (
        api.get(f"/data/application/{elsewhere['id']}").get_json()["data"]["source_id"]
        == (other["id"])
    )
    r = api.get("/data/application", query_string={"source_id": source["id"]})
    assert r.get_json()["total"] == 0
    assert exists(api, "job", job)


@pytest.mark.parametrize("value", ["maybe", "1", "yes", "TRUE", ""])
def test_bad_cascade_value_is_400(api, hiring, value):
    job = api.job(title="Lonely")
    for model, obj in (("job", hiring["job"]), ("job", job), ("candidate", hiring["bob"])):
        r = api.delete(f"/data/{model}/{obj['id']}", query_string={"cascade": value})
        assert r.status_code == 400, r.get_json()
        assert "cascade" in r.get_json()["message"]
    assert alive(api, hiring) == set(hiring)
    assert exists(api, "job", job)


def test_cascade_true_without_dependents(api):
    job = api.job()
    delete(api, "job", job, "?cascade=true")
    assert not exists(api, "job", job)


# --- application derived fields --------------------------------------------------


def patch(api: Api, model: str, obj: dict, body: dict) -> dict:
    r = api.patch(f"/data/{model}/{obj['id']}", json=body)
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def test_stage_history(api):
    app = api.application()
    data = app["data"]
    assert data["stage"] == "new"
    assert data["previous_stage"] is None
    assert data["last_stage_at"] is not None and data["last_stage_at"].endswith("Z")
    t0 = data["last_stage_at"]

    moved = patch(api, "application", app, {"stage": "review"})["data"]
    assert moved["previous_stage"] == "new"
    assert moved["last_stage_at"] > t0
    t1 = moved["last_stage_at"]

    moved = patch(api, "application", app, {"stage": "screening"})["data"]
    assert moved["previous_stage"] == "review" and moved["last_stage_at"] > t1
    t2 = moved["last_stage_at"]

    # other changes, or the same stage again, leave the history alone
    same = patch(api, "application", app, {"fit_score": 80})["data"]
    assert same["previous_stage"] == "review" and same["last_stage_at"] == t2
    same = patch(api, "application", app, {"stage": "screening", "tags": ["x"]})["data"]
    assert same["previous_stage"] == "review" and same["last_stage_at"] == t2

    # clients cannot write the history
    same = patch(
        api,
        "application",
        app,
        {"previous_stage": "offer", "last_stage_at": "2020-01-01T00:00:00Z"},
    )["data"]
    assert same["previous_stage"] == "review" and same["last_stage_at"] == t2
    got = api.get(f"/data/application/{app['id']}").get_json()["data"]
    assert got["previous_stage"] == "review" and got["last_stage_at"] == t2


def test_stage_history_on_create_with_a_stage(api):
    app = api.application(
        stage="offer", previous_stage="review", last_stage_at="2020-01-01T00:00:00Z"
    )
    assert app["data"]["stage"] == "offer"
    assert app["data"]["previous_stage"] is None
    assert app["data"]["last_stage_at"] > "2021"


def test_position_defaults_to_end_of_column(api):
    job, other_job = api.job(title="A"), api.job(title="B")
    apps = [api.application(job, api.candidate()) for _ in range(3)]
    assert [a["data"]["position"] for a in apps] == [1, 2, 3]
    # columns are per job and per stage
    assert api.application(other_job, api.candidate())["data"]["position"] == 1
    in_review = api.application(job, api.candidate(), stage="review")
    assert in_review["data"]["position"] == 1

    # a stage change without position: the end of the new column
    moved = patch(api, "application", apps[0], {"stage": "review"})
    assert moved["data"]["position"] == 2
    # and back: the end of the old column (3 is the largest left there)
    moved = patch(api, "application", apps[0], {"stage": "new"})
    assert moved["data"]["position"] == 4

    # an explicit position is kept, on create and on a stage change
    explicit = api.application(job, api.candidate(), position=10.5)
    assert explicit["data"]["position"] == 10.5
    assert api.application(job, api.candidate())["data"]["position"] == 11.5
    moved = patch(api, "application", apps[1], {"stage": "review", "position": 0.25})
    assert moved["data"]["position"] == 0.25
    # changing only the position keeps it
    moved = patch(api, "application", apps[2], {"position": 7})
    assert moved["data"]["position"] == 7 and moved["data"]["stage"] == "new"
    # a PATCH that does not touch stage or position leaves the position
    moved = patch(api, "application", apps[2], {"fit_score": 12})
    assert moved["data"]["position"] == 7

    r = api.get("/data/application", query_string={"job_id": job["id"], "stage": "review"})
    column = [(i["id"], i["data"]["position"]) for i in r.get_json()["items"]]
    assert column == [(apps[1]["id"], 0.25), (in_review["id"], 1)]


def test_explicit_position_is_kept_on_a_stage_change(api):
    job = api.job()
    first = api.application(job, api.candidate())
    assert first["data"]["position"] == 1
    for _ in range(2):
        api.application(job, api.candidate(), stage="review")
    # the requested position happens to equal the current one: still explicit
    moved = patch(api, "application", first, {"stage": "review", "position": 1})
    assert moved["data"]["stage"] == "review"
    assert moved["data"]["position"] == 1
    assert api.get(f"/data/application/{first['id']}").get_json()["data"]["position"] == 1


# --- job opened_at / closed_at -------------------------------------------------


def test_opened_at_and_closed_at(api):
    job = api.job()
    assert job["data"]["status"] == "draft"
    assert job["data"]["opened_at"] is None and job["data"]["closed_at"] is None

    opened = patch(api, "job", job, {"status": "open"})["data"]
    t_open = opened["opened_at"]
    assert t_open is not None and t_open.endswith("Z") and opened["closed_at"] is None

    data = patch(api, "job", job, {"status": "paused"})["data"]
    assert data["opened_at"] == t_open and data["closed_at"] is None
    data = patch(api, "job", job, {"status": "open"})["data"]
    assert data["opened_at"] == t_open

    closed = patch(api, "job", job, {"status": "closed"})["data"]
    assert closed["opened_at"] == t_open
    assert closed["closed_at"] is not None and closed["closed_at"] > t_open

    reopened = patch(api, "job", job, {"status": "open"})["data"]
    assert reopened["closed_at"] is None and reopened["opened_at"] == t_open

    filled = patch(api, "job", job, {"status": "filled"})["data"]
    assert filled["closed_at"] is not None and filled["opened_at"] == t_open
    assert api.get(f"/data/job/{job['id']}").get_json()["data"] == filled

    # the fields are server-managed: a client's values are ignored
    data = patch(
        api, "job", job, {"opened_at": "2020-01-01T00:00:00Z", "closed_at": None, "title": "X"}
    )["data"]
    assert data["opened_at"] == t_open and data["closed_at"] == filled["closed_at"]


def test_opened_at_and_closed_at_on_create(api):
    opened = api.job(status="open", opened_at="2020-01-01T00:00:00Z")["data"]
    assert opened["opened_at"] is not None and opened["opened_at"] > "2021"
    assert opened["closed_at"] is None
    closed = api.job(status="closed", closed_at="2020-01-01T00:00:00Z")["data"]
    assert closed["opened_at"] is None and closed["closed_at"] > "2021"
    draft = api.job(opened_at="2020-01-01T00:00:00Z")["data"]
    assert draft["opened_at"] is None and draft["closed_at"] is None


# --- updated_at ------------------------------------------------------------------


def rich(api: Api, model: str, make_user) -> dict:
    """An object with every field it can have set (so a no-op PATCH exercises them all)."""
    if model == "company_profile":
        return api.create(
            "company_profile",
            name="Acme",
            display_name="Acme Inc.",
            size="11-50",
            industry="Software",
            summary="We make things.",
            website="https://acme.example",
            main_location="Berlin",
            logo_url="https://acme.example/logo.png",
            banner_url="data:image/png;base64,iVBORw0KGgo=",
            accent_color="#ff0000",
            imprint_url="https://acme.example/imprint",
            privacy_url="https://acme.example/privacy",
            show_about=True,
            show_other_jobs=True,
            public_careers_enabled=True,
            retention_unit="months",
            retention_value=6,
        )
    if model == "source":
        return api.create("source", name="LinkedIn", kind="job_board")
    if model == "candidate":
        return api.candidate(
            name="Ada Lovelace",
            email="Ada@Example.com",
            phone="+49 30 1234",
            location="London",
            linkedin_url="https://linkedin.example/in/ada",
            tags=["python", "math"],
            consent_talent_pool=True,
        )
    user = make_user("lead@example.com", "recruiter")
    job = api.job(
        title="Backend Engineer",
        slug="backend-rich",
        status="open",
        public=True,
        department="Engineering",
        location="Berlin",
        country="Germany",
        remote="hybrid",
        employment_type="full_time",
        seniority="senior",
        headcount=2,
        summary="Build APIs.",
        description="Long text.",
        responsibilities="Code.",
        requirements="Python.",
        nice_to_have="SQL.",
        benefits="Lunch.",
        salary_min=50000,
        salary_max=70000.5,
        currency="EUR",
        salary_visibility="team",
        language="de-DE",
        color="blue",
        tags=["python", "backend"],
        team_ids=[user],
        hiring_manager_id=user,
        target_close_date="2026-12-31",
        external_apply_url="https://jobs.example/apply",
        ai_screen_enabled=True,
        ai_screen_prompt="Be fair.",
        knockout_questions=[
            {"id": "k1", "label": "Need a visa?", "type": "yes_no", "reject_if": True},
            {"id": "k2", "label": "Years?", "type": "number", "reject_if": {"lt": 2}},
        ],
        screening_questions=[
            {"id": "q1", "label": "Why us?", "type": "text", "required": True},
            {"id": "q2", "label": "Pick", "type": "choice", "choices": ["a", "b"]},
        ],
    )
    if model == "job":
        return job
    application = api.application(
        job,
        api.candidate(email="c@example.com"),
        stage="review",
        position=2.5,
        source_id=api.create("source", name="Referral")["id"],
        source_label="Friend",
        applied_at="2026-01-02T03:04:05+01:00",
        cover_letter="Hello.",
        cv_url="https://cv.example/ada.pdf",
        cv_blob_id=_stored_pdf(api),
        answers=[{"question_id": "q1", "value": "because"}, {"question_id": "k2", "value": 5}],
        tags=["strong"],
        rejected_reason="other",
        rejected_note="n/a",
        fit_score=77.5,
        fit_flags=["senior"],
        fit_reasoning="Good.",
        fit_computed_at="2026-01-01T10:00:00+01:00",
    )
    if model == "application":
        return application
    if model == "interview":
        return api.create(
            "interview",
            application_id=application["id"],
            kind="video",
            title="Tech talk",
            scheduled_at="2026-05-01T09:00:00+02:00",
            duration_minutes=45,
            interviewer_id=user,
            interviewer_ids=[user],
            location="Room 1",
            meeting_url="https://meet.example/x",
            agenda="Talk.",
            notes="Went well.",
            status="completed",
            send_invite=False,
        )
    return note(api, "application", application, body="**bold**", pinned=True, private=True)


def patchable(model: str, obj: dict) -> dict:
    return {f.name: obj["data"][f.name] for f in F.MODELS[model].fields if f.patch}


def _stored_pdf(api: Api) -> str:
    """An uploaded CV: cv_blob_id must name a file the server keeps."""
    import io

    from ats.services import files

    with api.client.application.app_context():
        return files.store_cv(io.BytesIO(b"%PDF-1.4\n%%EOF\n")).id


@pytest.mark.parametrize("model", MODELS)
def test_patch_without_change_keeps_updated_at(api, make_user, model):
    obj = rich(api, model, make_user)
    assert obj["updated_at"] == obj["created_at"]
    # every patchable field sent back as the API showed it, plus server-managed noise
    body = {
        **obj["data"],
        "id": "x",
        "updated_at": "2020-01-01T00:00:00Z",
        "created_at": "2020-01-01T00:00:00Z",
        "status": obj["data"].get("status", "deleted"),
    }
    assert patch(api, model, obj, body) == obj
    assert patch(api, model, obj, {}) == obj
    assert patch(api, model, obj, patchable(model, obj)) == obj
    assert api.get(f"/data/{model}/{obj['id']}").get_json() == obj


CHANGES = {
    "job": {"title": "Renamed"},
    "application": {"fit_score": 12},
    "interview": {"duration_minutes": 60},
    "application_note": {"pinned": False},
    "company_profile": {"accent_color": "#00ff00"},
    "candidate": {"tags": ["python"]},
    "source": {"kind": "referral"},
}


@pytest.mark.parametrize("model", MODELS)
def test_patch_with_a_change_moves_updated_at(api, make_user, model):
    obj = rich(api, model, make_user)
    changed = patch(api, model, obj, CHANGES[model])
    assert changed["updated_at"] > obj["updated_at"]
    assert changed["created_at"] == obj["created_at"]
    for name, value in CHANGES[model].items():
        assert changed["data"][name] == value
    assert api.get(f"/data/{model}/{obj['id']}").get_json() == changed
    # a second identical PATCH is a no-op again
    assert patch(api, model, obj, CHANGES[model]) == changed


def test_patch_of_create_only_fields_changes_nothing(api):
    app = api.application()
    other_job = api.job(title="Other")
    same = patch(api, "application", app, {"job_id": other_job["id"], "cover_letter": "Hi"})
    assert same == app
