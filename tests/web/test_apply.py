"""The public apply form: who may reach it, what it accepts and refuses (with a
message next to the field and what was typed kept), dedupe by e-mail, resubmits,
the honeypot, the per-address rate limit, both languages, and that no failure
leaves a half-created candidate or a stored file behind."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

PDF = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"
QUESTIONS = [
    {"id": "why", "label": "Why us?", "type": "text", "required": True},
    {"id": "years", "label": "Years of Python", "type": "number"},
    {"id": "city", "label": "Preferred office", "type": "choice", "choices": ["Berlin", "Remote"]},
]
KNOCKOUT = [
    {
        "id": "permit",
        "label": "Work permit?",
        "type": "yes_no",
        "required": True,
        "reject_if": False,
    }
]


@pytest.fixture
def careers(api):
    api.create(
        "company_profile",
        name="Acme",
        public_careers_enabled=True,
        privacy_url="https://acme.example/privacy",
        imprint_url="https://acme.example/imprint",
    )
    return api


def _job(api, **data):
    body = {
        "title": "Backend Engineer",
        "status": "open",
        "public": True,
        "screening_questions": QUESTIONS,
        "knockout_questions": KNOCKOUT,
        **data,
    }
    return api.job(**body)


def _tokens(html: str) -> dict[str, str]:
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', html)
    form = re.search(r'name="form_token" value="([^"]+)"', html)
    assert csrf and form, html
    return {"csrf_token": csrf.group(1), "form_token": form.group(1)}


GOOD = {
    "name": "Ada Lovelace",
    "email": "ada@example.com",
    "phone": "+44 20 1234",
    "cover_letter": "I like engines.",
    "q:why": "Because.",
    "q:years": "7",
    "q:city": "Berlin",
    "q:permit": "no",  # a knockout answer: stored, never rejects anyone
    "privacy_consent": "yes",
}


def _apply(client, job, cv=None, tokens=None, environ=None, **fields):
    url = f"/careers/{job['data']['slug']}/apply"
    tokens = tokens or _tokens(client.get(url).get_data(as_text=True))
    data = {**GOOD, **tokens, **fields}
    data = {k: v for k, v in data.items() if v is not None}
    if cv is not None:
        data["cv"] = (io.BytesIO(cv[0]), cv[1])
    return client.post(
        url, data=data, content_type="multipart/form-data", environ_base=environ or {}
    )


def _count(api, model: str) -> int:
    return len(api.get(f"/data/{model}?limit=200").get_json()["items"])


def _stored(app) -> list[Path]:
    root = Path(app.config["DATA_DIR"]) / "cv"
    return sorted(root.glob("*")) if root.exists() else []


def _nothing_created(app, api) -> None:
    assert _count(api, "candidate") == 0
    assert _count(api, "application") == 0
    assert _stored(app) == []


# --- visibility ---------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        {"status": "draft"},
        {"status": "paused"},
        {"status": "closed"},
        {"public": False},
    ],
)
def test_jobs_candidates_may_not_apply_to_are_404(careers, client, data):
    job = _job(careers, **data)
    assert client.get(f"/careers/{job['data']['slug']}/apply").status_code == 404
    assert client.post(f"/careers/{job['data']['slug']}/apply").status_code == 404


def test_archived_unknown_and_forged_slugs_are_404(careers, client):
    job = _job(careers)
    careers.post(f"/data/job/{job['id']}/archive")
    for slug in (job["data"]["slug"], "nope", "x" * 500, job["id"], "%3Cscript%3E"):
        assert client.get(f"/careers/{slug}/apply").status_code == 404


def test_no_form_while_the_careers_page_is_off(api, client):
    job = _job(api)
    assert client.get(f"/careers/{job['data']['slug']}/apply").status_code == 404
    api.create("company_profile", name="Acme", public_careers_enabled=False)
    assert client.get(f"/careers/{job['data']['slug']}/apply").status_code == 404


def test_external_apply_url_redirects(careers, client):
    job = _job(careers, external_apply_url="https://jobs.example/apply/1")
    r = client.get(f"/careers/{job['data']['slug']}/apply")
    assert r.status_code == 302 and r.headers["Location"] == "https://jobs.example/apply/1"


# --- the form -----------------------------------------------------------------


def test_form_renders_every_field_and_question_type(careers, client):
    job = _job(careers)
    html = client.get(f"/careers/{job['data']['slug']}/apply").get_data(as_text=True)
    for name in ("name", "email", "phone", "cv", "cover_letter", "privacy_consent", "talent_pool"):
        assert f'name="{name}"' in html
    assert 'name="q:why" type="text"' in html
    assert 'name="q:years" type="number"' in html
    assert '<select id="q3" name="q:city"' in html and '<option value="Remote">' in html
    assert html.count('type="radio" name="q:permit"') == 2
    assert 'href="https://acme.example/privacy"' in html
    assert 'class="field hp"' in html and 'name="website"' in html
    assert "apply.css" in html
    assert "<script>" not in html and "style=" not in html  # no inline script or style


def test_a_good_application_creates_everything(app, careers, client):
    job = _job(careers)
    r = _apply(client, job, cv=(PDF, "cv.pdf"), talent_pool="yes")
    assert r.status_code == 303 and r.headers["Location"].endswith("/apply/thanks")
    page = client.get(r.headers["Location"]).get_data(as_text=True)
    assert "Thank you, Ada Lovelace!" in page
    [application] = careers.get("/data/application").get_json()["items"]
    data = application["data"]
    assert data["job_id"] == job["id"] and data["stage"] == "new" and data["applied_at"]
    assert data["source_label"] == "careers_page"
    assert data["cover_letter"] == "I like engines."
    assert data["answers"] == [
        {"question_id": "why", "value": "Because."},
        {"question_id": "years", "value": 7},
        {"question_id": "city", "value": "Berlin"},
        {"question_id": "permit", "value": False},
    ]
    assert application["created_by"] is None
    [stored] = _stored(app)
    assert stored.name == data["cv_blob_id"] + ".pdf" and stored.read_bytes() == PDF
    source = careers.get(f"/data/source/{data['source_id']}").get_json()["data"]
    assert source == {"name": "Careers page", "kind": "careers_page"}
    cand = careers.get(f"/data/candidate/{data['candidate_id']}").get_json()["data"]
    assert cand["email"] == "ada@example.com" and cand["consent_talent_pool"] is True
    assert cand["phone"] == "+44 20 1234"


def test_cv_is_optional(careers, client):
    job = _job(careers)
    assert _apply(client, job).status_code == 303
    [application] = careers.get("/data/application").get_json()["items"]
    assert application["data"]["cv_blob_id"] is None


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"name": ""}, "name", "required"),
        ({"email": ""}, "email", "required"),
        ({"email": "not-an-address"}, "email", "must be a valid e-mail address"),
        ({"name": "x" * 201}, "name", "at most 200 characters"),
        ({"phone": "1" * 65}, "phone", "at most 64 characters"),
        ({"cover_letter": "x" * 16001}, "cover_letter", "at most 16000 characters"),
        ({"privacy_consent": None}, "privacy_consent", "required"),
        ({"q:why": ""}, "q-why", "required"),
        ({"q:why": "y" * 4001}, "q-why", "at most 4000 characters"),
        ({"q:permit": None}, "q-permit", "required"),
        ({"q:permit": "maybe"}, "q-permit", "choose yes or no"),
        ({"q:years": "seven"}, "q-years", "must be a number"),
        ({"q:years": "inf"}, "q-years", "must be a number"),
        ({"q:city": "Mars"}, "q-city", "choose one of the options"),
    ],
)
def test_refusals_name_the_field_and_keep_what_was_typed(
    app, careers, client, fields, field, message
):
    job = _job(careers)
    r = _apply(client, job, cv=(PDF, "cv.pdf"), **fields)
    assert r.status_code == 400
    html = r.get_data(as_text=True)
    assert f'id="{field}-error">{message}' in html
    assert "please choose the file again" in html
    if "name" not in fields:
        assert 'value="Ada Lovelace"' in html
    if "cover_letter" not in fields:
        assert "I like engines.</textarea>" in html
    _nothing_created(app, careers)


def test_optional_questions_may_be_left_empty(careers, client):
    job = _job(careers)
    assert _apply(client, job, **{"q:years": "", "q:city": ""}).status_code == 303
    [application] = careers.get("/data/application").get_json()["items"]
    assert [a["question_id"] for a in application["data"]["answers"]] == ["why", "permit"]


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        (b"<script>alert(1)</script>", "cv.pdf", "only PDF, DOC or DOCX files are accepted"),
        (b"MZ\x90\x00 an executable", "cv.pdf", "only PDF, DOC or DOCX files are accepted"),
        (b"", "cv.pdf", "the file is empty"),
        (PDF + b"x" * 2048, "cv.pdf", "the file is larger than 2 KB: choose a smaller one"),
    ],
)
def test_each_upload_rejection(app, careers, client, content, name, message):
    app.config["MAX_CV_BYTES"] = 2048
    job = _job(careers)
    r = _apply(client, job, cv=(content, name))
    assert r.status_code == 400
    html = r.get_data(as_text=True)
    assert f'id="cv-error">{message}' in html
    assert 'value="Ada Lovelace"' in html
    _nothing_created(app, careers)


def test_a_body_over_the_request_limit_gets_the_form_back(app, careers, client):
    app.config["MAX_CV_BYTES"] = 2048
    app.config["MAX_CONTENT_LENGTH"] = 4096
    job = _job(careers)
    r = _apply(client, job, cv=(PDF + b"x" * 8192, "cv.pdf"))
    assert r.status_code == 413
    html = r.get_data(as_text=True)
    assert "the file is larger than 2 KB" in html and 'name="name"' in html
    _nothing_created(app, careers)


# --- dedupe and resubmits -------------------------------------------------------


def test_same_email_any_case_is_the_same_candidate(careers, make_api, client):
    first, second = _job(careers), _job(careers, title="Frontend Engineer")
    assert _apply(client, first).status_code == 303
    assert _apply(client, second, email="ADA@Example.COM", talent_pool="yes").status_code == 303
    [cand] = careers.get("/data/candidate").get_json()["items"]
    assert cand["data"]["consent_talent_pool"] is True
    apps = careers.get("/data/application").get_json()["items"]
    assert {a["data"]["job_id"] for a in apps} == {first["id"], second["id"]}
    assert {a["data"]["candidate_id"] for a in apps} == {cand["id"]}
    assert _count(careers, "source") == 1


def test_applying_twice_to_one_job_is_a_friendly_message(app, careers, client):
    job = _job(careers)
    assert _apply(client, job, cv=(PDF, "cv.pdf")).status_code == 303
    r = _apply(client, job, cv=(PDF, "cv2.pdf"), email="Ada@example.com")
    assert r.status_code == 303
    page = client.get(r.headers["Location"]).get_data(as_text=True)
    assert "You have already applied" in page
    assert _count(careers, "application") == 1
    assert len(_stored(app)) == 1  # the second file is not kept


def test_the_same_form_sent_twice_creates_one_application(app, careers, client):
    job = _job(careers)
    tokens = _tokens(client.get(f"/careers/{job['data']['slug']}/apply").get_data(as_text=True))
    assert _apply(client, job, cv=(PDF, "cv.pdf"), tokens=tokens).status_code == 303
    # a double-click, even with another e-mail typed in between
    r = _apply(client, job, cv=(PDF, "cv.pdf"), tokens=tokens, email="other@example.com")
    assert r.status_code == 303
    assert "Thank you" in client.get(r.headers["Location"]).get_data(as_text=True)
    assert _count(careers, "application") == 1 and _count(careers, "candidate") == 1
    assert len(_stored(app)) == 1


# --- abuse ----------------------------------------------------------------------


def test_honeypot_looks_fine_but_keeps_nothing(app, careers, client):
    job = _job(careers)
    r = _apply(client, job, cv=(PDF, "cv.pdf"), website="http://spam.example")
    assert r.status_code == 303
    assert "Thank you, Ada Lovelace!" in client.get(r.headers["Location"]).get_data(as_text=True)
    _nothing_created(app, careers)


def test_rate_limit_per_address(app, careers, client):
    app.config["APPLY_RATE_LIMIT"] = (3, 600)
    job = _job(careers)
    for i in range(3):
        assert _apply(client, job, email=f"p{i}@example.com").status_code == 303
    r = _apply(client, job, email="p9@example.com")
    assert r.status_code == 429 and r.headers["Retry-After"] == "600"
    assert "Please wait a moment" in r.get_data(as_text=True)
    assert _count(careers, "application") == 3
    # another address is not affected
    other = app.test_client()
    r = _apply(other, job, email="p8@example.com", environ={"REMOTE_ADDR": "10.0.0.9"})
    assert r.status_code == 303


def test_csrf_is_required_and_a_stale_form_comes_back_filled(app, careers, client):
    job = _job(careers)
    r = _apply(client, job, tokens={"csrf_token": "forged", "form_token": "x" * 32})
    assert r.status_code == 400
    html = r.get_data(as_text=True)
    assert "This form has expired" in html and 'value="Ada Lovelace"' in html
    _nothing_created(app, careers)


# --- languages and hostile text -------------------------------------------------


def test_german_form_for_a_german_job(careers, client):
    job = _job(careers, language="de-DE")
    html = client.get(f"/careers/{job['data']['slug']}/apply").get_data(as_text=True)
    assert "Bewerbung absenden" in html and "Lebenslauf" in html and '<html lang="de"' in html
    r = _apply(client, job, name="")
    assert 'id="name-error">Pflichtfeld' in r.get_data(as_text=True)
    r = _apply(client, job)
    assert "Vielen Dank, Ada Lovelace!" in client.get(r.headers["Location"]).get_data(as_text=True)


def test_english_job_follows_the_browser_when_it_has_no_language(careers, client):
    job = _job(careers)
    url = f"/careers/{job['data']['slug']}/apply"
    assert "Bewerbung absenden" in client.get(url, headers={"Accept-Language": "de"}).get_data(
        as_text=True
    )
    job_en = _job(careers, title="Ops", language="en")
    url = f"/careers/{job_en['data']['slug']}/apply"
    html = client.get(url, headers={"Accept-Language": "de"}).get_data(as_text=True)
    assert "Send application" in html


def test_script_is_stored_as_text_and_escaped(careers, client, login):
    job = _job(careers)
    evil = '<script>alert("x")</script>'
    r = _apply(client, job, name=evil, cover_letter=evil, **{"q:why": evil})
    assert r.status_code == 303
    page = client.get(r.headers["Location"]).get_data(as_text=True)
    assert evil not in page and "&lt;script&gt;" in page
    [application] = careers.get("/data/application").get_json()["items"]
    assert application["data"]["cover_letter"] == evil
    staff = login("recruiter")
    html = staff.get(f"/applications/{application['id']}").get_data(as_text=True)
    assert evil not in html and "&lt;script&gt;" in html


def test_a_failing_write_leaves_no_candidate_and_no_file(app, careers, client, monkeypatch):
    from ats.services import applying

    job = _job(careers)

    def broken(*_a, **_kw):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(applying, "_careers_source", broken)  # after the candidate is made
    assert _apply(client, job, cv=(PDF, "cv.pdf")).status_code == 500  # the app's error page
    _nothing_created(app, careers)
