"""Candidate pages: search by name, e-mail and tag with paging, the profile with
every application and the notes, adding by hand (with an application, in one
transaction), editing with errors next to the fields and nothing typed lost,
GDPR erasure behind a typed confirmation, staff only, CSRF on every write."""

from __future__ import annotations

import re

import pytest

HX = {"HX-Request": "true"}
MISSING_JOB = "job_01JD0000000000000000000000"


def _errors(html: str) -> list[str]:
    return re.findall(r'class="error"[^>]*>([^<]+)<', html)


def _post(client, url, data=None, **kw):
    return client.post(url, data={"csrf_token": client.csrf, **(data or {})}, **kw)


def _text(response) -> str:
    return response.get_data(as_text=True)


# --- list and search ---------------------------------------------------------------


@pytest.fixture
def people(api):
    return {
        "ada": api.candidate(name="Ada Lovelace", email="ada@analytical.example", tags=["python"]),
        "grace": api.candidate(name="Grace Hopper", email="grace@navy.example", tags=["cobol"]),
        "alan": api.candidate(name="Alan Turing", phone="+44 1234", tags=["python", "crypto"]),
    }


@pytest.mark.parametrize(
    ("params", "found", "absent"),
    [
        ({"q": "lovelace"}, ["Ada Lovelace"], ["Grace Hopper", "Alan Turing"]),
        ({"q": "navy.example"}, ["Grace Hopper"], ["Ada Lovelace", "Alan Turing"]),
        ({"q": "GRACE@NAVY"}, ["Grace Hopper"], ["Ada Lovelace"]),
        ({"tag": "python"}, ["Ada Lovelace", "Alan Turing"], ["Grace Hopper"]),
        ({"tag": "cobol"}, ["Grace Hopper"], ["Ada Lovelace", "Alan Turing"]),
        ({"q": "alan", "tag": "python"}, ["Alan Turing"], ["Ada Lovelace", "Grace Hopper"]),
        ({"q": "nobody"}, [], ["Ada Lovelace", "Grace Hopper", "Alan Turing"]),
    ],
)
def test_search_by_name_email_and_tag(login, people, params, found, absent):
    client = login("recruiter")
    r = client.get("/candidates", query_string=params)
    assert r.status_code == 200
    html = _text(r)
    for name in found:
        assert name in html
    for name in absent:
        assert name not in html
    if not found:
        assert "No candidates match." in html


def test_list_shows_everyone_and_htmx_gets_the_table_only(login, people, api):
    api.application(api.job(), people["ada"])
    client = login("admin")
    html = _text(client.get("/candidates"))
    assert all(n in html for n in ("Ada Lovelace", "Grace Hopper", "Alan Turing"))
    assert "3 candidates" in html and "<html" in html
    r = client.get("/candidates?q=ada", headers=HX)
    fragment = _text(r)
    assert "Ada Lovelace" in fragment and "Grace Hopper" not in fragment
    assert "<html" not in fragment and "HX-Request" in r.headers.get("Vary", "")


def test_overlong_tag_is_an_error_not_a_crash(login, people):
    client = login("recruiter")
    r = client.get("/candidates", query_string={"tag": "x" * 100})
    assert r.status_code == 200
    assert "at most 64 characters" in _text(r)


def test_paging_by_offset(login, api, monkeypatch):
    monkeypatch.setattr("ats.web.candidates.PAGE_SIZE", 2)
    for name in ("Cand One", "Cand Two", "Cand Three"):
        api.candidate(name=name)
    client = login("recruiter")
    first = _text(client.get("/candidates?sort=name"))
    assert "Cand One" in first and "Cand Three" in first and "Cand Two" not in first
    assert "1–2 of 3" in first and 'rel="prev"' not in first
    link = re.search(r'href="([^"]+)">Next<', first).group(1).replace("&amp;", "&")
    assert "offset=2" in link
    second = _text(client.get(link))
    assert "Cand Two" in second and "Cand One" not in second
    assert 'rel="prev"' in second and 'rel="next"' not in second
    assert _text(client.get("/candidates?offset=nonsense")).count("Cand ") >= 2


# --- profile ---------------------------------------------------------------------


def test_profile_shows_contact_applications_and_notes(login, api):
    cand = api.candidate(
        name="Ada Lovelace",
        email="ada@analytical.example",
        phone="+44 20 7946 0000",
        location="London",
        linkedin_url="https://www.linkedin.com/in/ada",
        tags=["math"],
    )
    job = api.job(title="Engine Programmer", status="open")
    app = api.application(job, cand, stage="screening")
    api.create(
        "application_note",
        parent_kind="candidate",
        parent_id=cand["id"],
        body="Met at **the conference**",
    )
    client = login("recruiter")
    r = client.get(f"/candidates/{cand['id']}")
    assert r.status_code == 200
    html = _text(r)
    for text in ("ada@analytical.example", "+44 20 7946 0000", "London", "linkedin.com/in/ada"):
        assert text in html
    assert "Engine Programmer" in html and "Screening" in html
    assert f'href="/applications/{app["id"]}"' in html
    assert "<strong>the conference</strong>" in html
    assert f'id="notes-{cand["id"]}"' in html


def test_profile_of_unknown_candidate_is_404(login):
    client = login("recruiter")
    assert client.get("/candidates/cand_01JD0000000000000000000000").status_code == 404
    assert client.get("/candidates/job_01JD0000000000000000000000").status_code == 404


def test_attach_existing_candidate_to_a_job(login, api):
    cand = api.candidate()
    job = api.job(title="Open Role", status="open")
    api.job(title="Draft Role", status="draft")
    client = login("recruiter")
    html = _text(client.get(f"/candidates/{cand['id']}"))
    assert "Open Role" in html and "Draft Role" not in html  # only open jobs are offered
    r = _post(client, f"/candidates/{cand['id']}/applications", {"application-job_id": job["id"]})
    assert r.status_code == 303
    apps = api.get("/data/application", query_string={"candidate_id": cand["id"]}).get_json()
    assert [a["data"]["job_id"] for a in apps["items"]] == [job["id"]]
    # the job is no longer offered; posting it again is a clear error, not a crash
    html = _text(client.get(f"/candidates/{cand['id']}"))
    assert 'value="' + job["id"] + '"' not in html
    r = _post(client, f"/candidates/{cand['id']}/applications", {"application-job_id": job["id"]})
    assert r.status_code == 400
    assert "already applied to this job" in _errors(_text(r))
    r = _post(client, f"/candidates/{cand['id']}/applications", {"application-job_id": ""})
    assert r.status_code == 400 and "required" in _errors(_text(r))


# --- add and edit ----------------------------------------------------------------


def test_new_candidate_form_has_every_field(login, api):
    api.job(title="Open Role", status="open")
    client = login("recruiter")
    html = _text(client.get("/candidates/new"))
    for name in ("name", "email", "phone", "location", "linkedin_url", "tags"):
        assert f'name="{name}"' in html
    assert 'name="consent_talent_pool"' in html
    assert 'name="application-job_id"' in html and "Open Role" in html


def test_add_candidate_and_attach_to_job(login, api):
    job = api.job(title="Open Role", status="open")
    client = login("recruiter")
    r = _post(
        client,
        "/candidates/new",
        {
            "name": "Grace Hopper",
            "email": "Grace@Navy.example",
            "tags": "cobol, compilers, cobol",
            "consent_talent_pool": "y",
            "application-job_id": job["id"],
        },
    )
    assert r.status_code == 303, _errors(_text(r))
    cand_id = r.headers["Location"].rsplit("/", 1)[1]
    cand = api.get(f"/data/candidate/{cand_id}").get_json()
    assert cand["data"]["name"] == "Grace Hopper"
    assert cand["data"]["tags"] == ["cobol", "compilers"]
    assert cand["data"]["consent_talent_pool"] is True
    apps = api.get("/data/application", query_string={"candidate_id": cand_id}).get_json()
    assert [(a["data"]["job_id"], a["data"]["stage"]) for a in apps["items"]] == [
        (job["id"], "new")
    ]
    assert "Open Role" in _text(client.get(r.headers["Location"]))


def test_add_candidate_without_job(login, api):
    client = login("admin")
    r = _post(client, "/candidates/new", {"name": "Solo Person", "application-job_id": ""})
    assert r.status_code == 303
    cand_id = r.headers["Location"].rsplit("/", 1)[1]
    apps = api.get("/data/application", query_string={"candidate_id": cand_id}).get_json()
    assert apps["items"] == []


def test_add_candidate_errors_keep_what_was_typed(login, api):
    client = login("recruiter")
    r = _post(
        client,
        "/candidates/new",
        {
            "name": "",
            "email": "not-an-email",
            "phone": "+49 30 1234567",
            "location": "Berlin",
            "linkedin_url": "javascript:alert(1)",
            "tags": "go, rust",
        },
    )
    assert r.status_code == 400
    html = _text(r)
    errors = _errors(html)
    assert "required" in errors
    assert any("http" in e for e in errors)  # linkedin_url
    assert len(errors) >= 3  # name, email, linkedin_url: all at once
    for typed in ('value="not-an-email"', 'value="+49 30 1234567"', 'value="Berlin"', "go, rust"):
        assert typed in html
    assert 'aria-invalid="true"' in html
    assert api.get("/data/candidate").get_json()["items"] == []


def test_add_candidate_with_a_taken_email(login, api):
    api.candidate(email="taken@example.com")
    client = login("recruiter")
    r = _post(client, "/candidates/new", {"name": "Second", "email": "TAKEN@example.com"})
    assert r.status_code == 400
    assert "already taken" in _errors(_text(r))
    assert 'value="Second"' in _text(r)


def test_failed_application_leaves_no_candidate_behind(login, api):
    client = login("recruiter")
    r = _post(
        client,
        "/candidates/new",
        {"name": "Half Done", "email": "half@example.com", "application-job_id": MISSING_JOB},
    )
    assert r.status_code == 400
    assert any("no job" in e for e in _errors(_text(r)))
    assert 'value="Half Done"' in _text(r)
    found = api.get("/data/candidate", query_string={"email": "half@example.com"}).get_json()
    assert found["items"] == []


def test_edit_candidate(login, api):
    cand = api.candidate(name="Ada", email="ada@example.com", tags=["a"])
    client = login("recruiter")
    html = _text(client.get(f"/candidates/{cand['id']}/edit"))
    assert 'value="ada@example.com"' in html and 'value="a"' in html
    r = _post(
        client,
        f"/candidates/{cand['id']}/edit",
        {"name": "Ada King", "email": "ada@example.com", "location": "London", "tags": ""},
    )
    assert r.status_code == 303
    data = api.get(f"/data/candidate/{cand['id']}").get_json()["data"]
    assert data["name"] == "Ada King" and data["location"] == "London"
    assert not data["tags"]


def test_edit_candidate_errors_keep_input(login, api):
    cand = api.candidate(name="Ada", email="ada@example.com")
    api.candidate(name="Other", email="other@example.com")
    client = login("recruiter")
    r = _post(
        client,
        f"/candidates/{cand['id']}/edit",
        {"name": "Ada Typed", "email": "other@example.com", "phone": "555"},
    )
    assert r.status_code == 400
    html = _text(r)
    assert "already taken" in _errors(html)
    assert 'value="Ada Typed"' in html and 'value="555"' in html
    assert api.get(f"/data/candidate/{cand['id']}").get_json()["data"]["name"] == "Ada"
    r = _post(client, f"/candidates/{cand['id']}/edit", {"name": " ", "phone": "556"})
    assert r.status_code == 400 and "required" in _errors(_text(r))


# --- erase ------------------------------------------------------------------------


@pytest.fixture
def dossier(api, make_api):
    """A candidate with two applications, an interview and notes (one private, by someone else)."""
    cand = api.candidate(name="Erase Me", email="erase.me@example.com", tags=["gdpr"])
    other = api.candidate(name="Keep Me")
    job = api.job(status="open")
    app1 = api.application(job, cand)
    app2 = api.application(api.job(title="Second Job"), cand)
    kept_app = api.application(job, other)
    interview = api.create("interview", application_id=app1["id"], kind="phone")
    assert api.patch(f"/data/application/{app1['id']}", json={"stage": "review"}).status_code == 200
    notes = [
        api.create("application_note", parent_kind="candidate", parent_id=cand["id"], body="n1"),
        api.create("application_note", parent_kind="application", parent_id=app2["id"], body="n2"),
        make_api().create(
            "application_note",
            parent_kind="candidate",
            parent_id=cand["id"],
            body="secret",
            private=True,
        ),
    ]
    return {
        "cand": cand,
        "apps": [app1, app2],
        "interview": interview,
        "notes": notes,
        "other": other,
        "kept_app": kept_app,
    }


def test_erase_asks_for_confirmation_first(login, api, dossier):
    cand = dossier["cand"]
    client = login("recruiter")
    r = client.get(f"/candidates/{cand['id']}/erase")
    assert r.status_code == 200
    html = _text(r)
    assert "2 applications" in html and "Second Job" in html
    for typed in ("", "Erase", "someone@example.com"):
        r = _post(client, f"/candidates/{cand['id']}/erase", {"confirm": typed})
        assert r.status_code == 400
        assert "exactly" in _text(r)
    assert 'value="someone@example.com"' in _text(r)
    assert api.get(f"/data/candidate/{cand['id']}").status_code == 200


@pytest.mark.parametrize("typed", ["Erase Me", "  erase me ", "ERASE.ME@example.com"])
def test_erase_removes_candidate_applications_interviews_and_notes(login, api, dossier, typed):
    cand = dossier["cand"]
    client = login("recruiter")
    r = _post(client, f"/candidates/{cand['id']}/erase", {"confirm": typed})
    assert r.status_code == 303 and r.headers["Location"].endswith("/candidates")
    page = _text(client.get(r.headers["Location"]))
    assert "erased" in page and "Erase Me" not in page and "Keep Me" in page
    assert api.get(f"/data/candidate/{cand['id']}").status_code == 404
    for app in dossier["apps"]:
        assert api.get(f"/data/application/{app['id']}").status_code == 404
    assert api.get(f"/data/interview/{dossier['interview']['id']}").status_code == 404
    for note in dossier["notes"][:2]:
        assert api.get(f"/data/application_note/{note['id']}").status_code == 404
    # the other user's private note is gone too (its author would see it otherwise)
    leftovers = api.get("/data/application_note", query_string={"parent_id": cand["id"]})
    assert leftovers.get_json()["items"] == []
    assert api.get(f"/data/candidate/{dossier['other']['id']}").status_code == 200
    assert api.get(f"/data/application/{dossier['kept_app']['id']}").status_code == 200


def test_erase_leaves_no_rows_behind(app, login, dossier):
    """Other users' private notes, stage history and tag index rows go too."""
    from sqlalchemy import func, select

    from ats.extensions import db
    from ats.models import ApplicationNote, FieldMember, StageChange

    def count(model, *where):
        return db.session.scalar(select(func.count()).select_from(model).where(*where))

    erased_app = dossier["apps"][0]["id"]
    with app.app_context():
        assert count(StageChange, StageChange.application_id == erased_app) > 0
    client = login("admin")
    r = _post(client, f"/candidates/{dossier['cand']['id']}/erase", {"confirm": "Erase Me"})
    assert r.status_code == 303
    with app.app_context():
        assert count(ApplicationNote) == 0
        assert count(StageChange, StageChange.application_id == erased_app) == 0
        assert count(FieldMember, FieldMember.object_id == dossier["cand"]["id"]) == 0


# --- who may, and CSRF ------------------------------------------------------------


def _candidate_urls(cand_id: str) -> list[tuple[str, str]]:
    return [
        ("GET", "/candidates"),
        ("GET", "/candidates/new"),
        ("POST", "/candidates/new"),
        ("GET", f"/candidates/{cand_id}"),
        ("GET", f"/candidates/{cand_id}/edit"),
        ("POST", f"/candidates/{cand_id}/edit"),
        ("POST", f"/candidates/{cand_id}/applications"),
        ("GET", f"/candidates/{cand_id}/erase"),
        ("POST", f"/candidates/{cand_id}/erase"),
    ]


def test_interviewers_get_403_everywhere(login, api):
    cand = api.candidate(name="Hidden Person")
    client = login("interviewer")
    for method, url in _candidate_urls(cand["id"]):
        if method == "GET":
            r = client.get(url)
        else:
            r = _post(client, url, {"name": "x", "confirm": "Hidden Person"})
        assert r.status_code == 403, (method, url)
        assert "Hidden Person" not in _text(r)
    assert api.get(f"/data/candidate/{cand['id']}").get_json()["data"]["name"] == "Hidden Person"
    assert "/candidates" not in _text(client.get("/"))  # not in the navigation either


def test_logged_out_is_sent_to_login(client, api):
    cand = api.candidate()
    for method, url in _candidate_urls(cand["id"]):
        r = client.open(url, method=method)
        assert r.status_code in (302, 400), (method, url)
        if r.status_code == 302:
            assert "/login" in r.headers["Location"]


def test_csrf_missing_is_400(login, api):
    cand = api.candidate(name="Keep Me", email="keep@example.com")
    client = login("admin")
    for url, data in [
        ("/candidates/new", {"name": "No Token"}),
        (f"/candidates/{cand['id']}/edit", {"name": "Changed"}),
        (f"/candidates/{cand['id']}/applications", {"application-job_id": api.job()["id"]}),
        (f"/candidates/{cand['id']}/erase", {"confirm": "Keep Me"}),
    ]:
        assert client.post(url, data=data).status_code == 400, url
        bad = client.post(url, data={**data, "csrf_token": "forged"})
        assert bad.status_code == 400, url
    assert api.get(f"/data/candidate/{cand['id']}").get_json()["data"]["name"] == "Keep Me"
    assert api.get("/data/candidate").get_json()["total"] == 1
