"""Errors of xapi2 (spec sections 2, 4 and 5, docs/api.md "Errors"): one JSON
shape for every error status, 415/400/413 for bodies, 404/405 for unknown
things, an HTML 404 for browsers, and nothing half-written after an error."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import func, select

from ats import create_app
from ats.extensions import db
from ats.services import auth

ALLOWED_KEYS = {"error", "message", "fields", "dependents", "missing_scope"}
MISSING = "01J00000000000000000000000"  # a well-formed ULID no object has


def assert_error(response: Any, status: int) -> dict[str, Any]:
    """The one error shape: ``{"error", "message"[, "fields"]}`` (plus the
    documented ``dependents`` on a DELETE 409 and ``missing_scope`` on a 403)."""
    text = response.get_data(as_text=True)
    assert response.status_code == status, (response.status_code, text[:500])
    assert response.mimetype == "application/json", (response.mimetype, text[:500])
    body = response.get_json()
    assert isinstance(body, dict), text[:500]
    assert set(body) <= ALLOWED_KEYS, body
    assert isinstance(body["error"], str) and re.fullmatch(r"[a-z][a-z_]*", body["error"]), body
    assert isinstance(body["message"], str) and body["message"].strip(), body
    if "fields" in body:
        assert isinstance(body["fields"], dict) and body["fields"], body
        for key, message in body["fields"].items():
            assert isinstance(key, str) and isinstance(message, str) and message, body
    if "dependents" in body:
        assert status == 409, body
        assert all(isinstance(v, int) and v > 0 for v in body["dependents"].values()), body
    if "missing_scope" in body:
        assert status == 403, body
        assert isinstance(body["missing_scope"], str), body
    return body


def row_counts(app) -> dict[str, int]:
    """Rows in every table, to show that a failed request wrote nothing."""
    with app.app_context():
        return {
            name: db.session.scalar(select(func.count()).select_from(table))
            for name, table in db.metadata.tables.items()
        }


# --- one shape on every error status ---------------------------------------------


def test_every_error_status_has_the_one_shape(api, client, make_api):
    job = api.job()
    api.application(job=job)
    source = api.create("source", name="Referral")

    # 400: validation, with fields
    body = assert_error(api.post("/data/job", json={"title": ""}), 400)
    assert body["error"] == "validation_failed"
    assert "title" in body["fields"]
    # 400: a bad list argument
    body = assert_error(api.get("/data/job?limit=0"), 400)
    body = assert_error(api.get("/data/job?nope=1"), 400)
    assert "nope" in body["message"]
    # 401
    r = client.get("/xapi2/data/job")
    assert_error(r, 401)
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    # 403
    body = assert_error(make_api("job:read").get("/data/job"), 403)
    assert body["missing_scope"] == "job:list"
    # 404
    assert_error(api.get(f"/data/job/job_{MISSING}"), 404)
    # 405
    assert_error(client.put(f"/xapi2/data/job/{job['id']}", json={}, headers=api.headers()), 405)
    # 409: unique value, naming the field
    body = assert_error(api.post("/data/source", json={"name": "Referral"}), 409)
    assert "name" in body["fields"]
    # 409: dependents
    body = assert_error(api.delete(f"/data/job/{job['id']}"), 409)
    assert body["dependents"] == {"application": 1}
    # 415
    assert_error(api.post("/data/job", data="title=x", content_type="text/plain"), 415)
    # the source is untouched
    assert api.get(f"/data/source/{source['id']}").get_json() == source


def test_validation_lists_every_failing_field(api, app):
    before = row_counts(app)
    r = api.post(
        "/data/job",
        json={
            "title": "x" * 201,
            "status": "nope",
            "headcount": -1,
            "public": "yes",
            "external_apply_url": "javascript:alert(1)",
            "tags": ["python", "python"],
        },
    )
    body = assert_error(r, 400)
    assert body["error"] == "validation_failed"
    assert set(body["fields"]) == {
        "title",
        "status",
        "headcount",
        "public",
        "external_apply_url",
        "tags",
    }
    assert row_counts(app) == before


def test_missing_required_field_is_named(api):
    body = assert_error(api.post("/data/job", json={"department": "R&D"}), 400)
    assert body["error"] == "validation_failed"
    assert "title" in body["fields"]
    body = assert_error(api.post("/data/application", json={}), 400)
    assert {"job_id", "candidate_id"} <= set(body["fields"])


# --- 415: not JSON --------------------------------------------------------------------


@pytest.mark.parametrize("method", ["post", "patch"])
def test_non_json_body_is_415(api, app, method):
    job = api.job()
    url = "/data/job" if method == "post" else f"/data/job/{job['id']}"
    send = getattr(api, method)
    before = row_counts(app)
    assert_error(send(url, data='{"title": "x"}', content_type="text/plain"), 415)
    assert_error(send(url, data={"title": "Form"}), 415)  # form-urlencoded
    assert_error(send(url, data={"title": "Form"}, content_type="multipart/form-data"), 415)
    assert_error(send(url, data='{"title": "x"}'), 415)  # no Content-Type at all
    assert row_counts(app) == before
    assert api.get(f"/data/job/{job['id']}").get_json() == job


def test_json_with_charset_is_accepted(api):
    r = api.post(
        "/data/job", data='{"title": "Charset"}', content_type="application/json; charset=utf-8"
    )
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["data"]["title"] == "Charset"


# --- 400: not a JSON object ---------------------------------------------------------


BAD_BODIES = [
    pytest.param('{"title": ', id="truncated"),
    pytest.param("{'title': 'x'}", id="single-quotes"),
    pytest.param("", id="empty"),
    pytest.param(b'{"title": "\xff"}', id="not-utf8"),
    pytest.param('[{"title": "x"}]', id="array"),
    pytest.param('"title"', id="string"),
    pytest.param("42", id="number"),
    pytest.param("true", id="bool"),
    pytest.param("null", id="null"),
]


@pytest.mark.parametrize("raw", BAD_BODIES)
def test_body_that_is_not_a_json_object_is_400(api, app, raw):
    job = api.job()
    before = row_counts(app)
    body = assert_error(api.post("/data/job", data=raw, content_type="application/json"), 400)
    assert body["error"] != "validation_failed"
    assert_error(
        api.patch(f"/data/job/{job['id']}", data=raw, content_type="application/json"), 400
    )
    assert row_counts(app) == before
    assert api.get(f"/data/job/{job['id']}").get_json() == job


def test_lone_surrogate_in_a_string_is_400_not_500(api, app):
    """``"\\ud800"`` parses to a string that is not valid Unicode and cannot be
    stored: every value is checked before it reaches the database (spec 4)."""
    job = api.job(tags=["python"])
    before = row_counts(app)
    for raw, field in [
        ('{"title": "\\ud800"}', "title"),
        ('{"title": "ok", "tags": ["\\udfff"]}', "tags"),
        ('{"title": "ok", "department": "R\\udc00D"}', "department"),
    ]:
        r = api.post("/data/job", data=raw, content_type="application/json")
        body = assert_error(r, 400)
        assert field in body.get("fields", {}) or field in body["message"], body
    r = api.patch(
        f"/data/job/{job['id']}", data='{"title": "\\ud800"}', content_type="application/json"
    )
    assert_error(r, 400)
    assert row_counts(app) == before
    assert api.get(f"/data/job/{job['id']}").get_json() == job


# --- 413: too large ---------------------------------------------------------------


@pytest.fixture
def small_app(tmp_path, databases):
    """The conftest ``app``, with a 2 KiB body limit."""
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": databases.new(tmp_path),
            "SECRET_KEY": "test",
            "DATA_DIR": str(tmp_path / "data"),
            "TESTING": True,
            "MAX_JSON_BYTES": 2048,
        }
    )
    yield app
    with app.app_context():
        db.engine.dispose()


def test_body_over_configured_limit_is_413(small_app):
    with small_app.app_context():
        user = auth.create_user("big@example.com", "quiet-otter-harbour-7", "Big", "admin")
        _token, secret = auth.create_token(user, ["*"])
    client = small_app.test_client()
    headers = {"Authorization": f"Bearer {secret}"}

    r = client.post("/xapi2/data/job", json={"title": "Fits"}, headers=headers)
    assert r.status_code == 201
    job = r.get_json()
    before = row_counts(small_app)

    big = {"title": "Too big", "description": "x" * 4000}
    assert_error(client.post("/xapi2/data/job", json=big, headers=headers), 413)
    assert_error(client.patch(f"/xapi2/data/job/{job['id']}", json=big, headers=headers), 413)
    assert row_counts(small_app) == before
    got = client.get(f"/xapi2/data/job/{job['id']}", headers=headers).get_json()
    assert got == job

    # just under the limit is fine
    r = client.post(
        "/xapi2/data/job", json={"title": "Almost", "description": "y" * 1800}, headers=headers
    )
    assert r.status_code == 201, r.get_json()


def test_body_over_default_8_mib_is_413(api, app):
    assert app.config["MAX_JSON_BYTES"] == 8 * 1024 * 1024
    before = row_counts(app)
    raw = b'{"title": "Huge", "description": "' + b"x" * (8 * 1024 * 1024) + b'"}'
    assert_error(api.post("/data/job", data=raw, content_type="application/json"), 413)
    assert row_counts(app) == before


def test_large_company_profile_fits_the_default_limit(api):
    """The 8 MiB default is chosen to fit a 2.5 MB banner and a 1.5 MB logo."""
    prefix = "data:image/png;base64,"
    banner = prefix + "A" * (2_500_000 - len(prefix))
    logo = prefix + "B" * (1_500_000 - len(prefix))
    r = api.post(
        "/data/company_profile", json={"name": "Acme", "banner_url": banner, "logo_url": logo}
    )
    assert r.status_code == 201, r.get_data(as_text=True)[:300]
    assert len(r.get_json()["data"]["banner_url"]) == 2_500_000


# --- 404 and 405 ------------------------------------------------------------------


def test_unknown_model_is_404(api, client):
    for url in ("/data/nope", f"/data/nope/nope_{MISSING}"):
        body = assert_error(api.get(url), 404)
        assert "nope" in body["message"]
    assert_error(api.post("/data/nope", json={"name": "x"}), 404)
    assert_error(api.patch(f"/data/nope/nope_{MISSING}", json={"name": "x"}), 404)
    assert_error(api.delete(f"/data/nope/nope_{MISSING}"), 404)
    assert_error(api.get("/schema/nope"), 404)


@pytest.mark.parametrize(
    "obj_id",
    [
        f"job_{MISSING}",
        "job_",
        "nonsense",
        f"JOB_{MISSING}",
    ],
)
def test_unknown_id_is_404(api, obj_id):
    api.job()
    assert_error(api.get(f"/data/job/{obj_id}"), 404)
    assert_error(api.patch(f"/data/job/{obj_id}", json={"title": "x"}), 404)
    assert_error(api.delete(f"/data/job/{obj_id}"), 404)
    assert_error(api.post(f"/data/job/{obj_id}/archive"), 404)
    assert_error(api.post(f"/data/job/{obj_id}/unarchive"), 404)


def test_id_of_another_model_is_404(api, app):
    cand = api.candidate()
    job = api.job()
    # the candidate's id under /job, and the job's id (with the candidate's prefix) under /candidate
    assert_error(api.get(f"/data/job/{cand['id']}"), 404)
    assert_error(api.patch(f"/data/job/{cand['id']}", json={"title": "x"}), 404)
    assert_error(api.delete(f"/data/job/{cand['id']}"), 404)
    assert_error(api.get(f"/data/candidate/{job['id']}"), 404)
    swapped = "cand_" + job["id"].removeprefix("job_")
    assert_error(api.get(f"/data/candidate/{swapped}"), 404)
    assert api.get(f"/data/candidate/{cand['id']}").get_json() == cand
    assert api.get(f"/data/job/{job['id']}").get_json() == job


@pytest.mark.parametrize(
    "path",
    ["/xapi2", "/xapi2/", "/xapi2/nope", "/xapi2/data", "/xapi2/data/job/x/y", "/xapi2/v1/job"],
)
def test_unknown_path_under_xapi2_is_json_404(api, client, path):
    assert_error(client.get(path, headers=api.headers()), 404)
    # a browser gets JSON there too: it is the API
    assert_error(client.get(path, headers={"Accept": "text/html"}), 404)


def test_put_and_other_unsupported_methods_are_405(api, client):
    job = api.job()
    item = f"/xapi2/data/job/{job['id']}"
    headers = api.headers()
    assert_error(client.put(item, json={"title": "x"}, headers=headers), 405)
    assert_error(client.put("/xapi2/data/job", json={"title": "x"}, headers=headers), 405)
    assert_error(client.patch("/xapi2/data/job", json={"title": "x"}, headers=headers), 405)
    assert_error(client.delete("/xapi2/data/job", headers=headers), 405)
    assert_error(client.post(item, json={"title": "x"}, headers=headers), 405)
    assert_error(client.get(f"{item}/archive", headers=headers), 405)
    assert api.get(item).get_json() == job


def test_405_names_the_allowed_methods(api, client):
    """HTTP (RFC 9110, 15.5.6): a 405 response MUST carry an Allow header."""
    job = api.job()
    r = client.put(f"/xapi2/data/job/{job['id']}", json={}, headers=api.headers())
    assert r.status_code == 405
    allowed = {m.strip() for m in r.headers.get("Allow", "").split(",") if m.strip()}
    assert {"GET", "PATCH", "DELETE"} <= allowed


def test_browser_gets_html_404_for_unknown_page(client):
    r = client.get("/no-such-page", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert r.status_code == 404
    assert r.mimetype == "text/html"
    text = r.get_data(as_text=True)
    assert text.lstrip().lower().startswith("<!doctype html")
    assert "404" in text


def test_json_client_gets_json_404_for_unknown_page(client):
    r = client.get("/no-such-page", headers={"Accept": "application/json"})
    assert_error(r, 404)


def test_private_note_of_another_user_is_404(api, make_api):
    job = api.job()
    note = api.create(
        "application_note", parent_kind="job", parent_id=job["id"], body="mine", private=True
    )
    other_admin = make_api("*")
    url = f"/data/application_note/{note['id']}"
    assert_error(other_admin.get(url), 404)
    assert_error(other_admin.patch(url, json={"body": "theirs"}), 404)
    assert_error(other_admin.delete(url), 404)
    assert_error(other_admin.post(f"{url}/archive"), 404)
    assert other_admin.get("/data/application_note").get_json()["total"] == 0
    assert api.get(url).get_json() == note


# --- nothing half-written ---------------------------------------------------------


def test_failed_create_writes_nothing(api, app):
    job = api.job()
    before = row_counts(app)
    # valid tags (which go to the member table) with an invalid field
    assert_error(api.post("/data/job", json={"title": "x" * 201, "tags": ["a", "b"]}), 400)
    # a valid reference with an unknown one
    r = api.post("/data/application", json={"job_id": job["id"], "candidate_id": f"cand_{MISSING}"})
    assert assert_error(r, 400)["fields"].keys() == {"candidate_id"}
    # an interview for an unknown application
    assert_error(api.post("/data/interview", json={"application_id": f"app_{MISSING}"}), 400)
    # a note on an unknown parent
    r = api.post(
        "/data/application_note",
        json={"parent_kind": "candidate", "parent_id": job["id"], "body": "x"},
    )
    assert "parent_id" in assert_error(r, 400)["fields"]
    assert row_counts(app) == before


def test_failed_patch_changes_nothing(api, app):
    job = api.job(tags=["python"])
    before = row_counts(app)
    r = api.patch(
        f"/data/job/{job['id']}",
        json={"title": "Changed", "tags": ["go", "rust"], "status": "nope"},
    )
    body = assert_error(r, 400)
    assert set(body["fields"]) == {"status"}
    assert api.get(f"/data/job/{job['id']}").get_json() == job
    assert row_counts(app) == before
    # the tags filter still finds it under the old tag only
    assert api.get("/data/job?tags=python").get_json()["total"] == 1
    assert api.get("/data/job?tags=go").get_json()["total"] == 0


def test_conflicts_write_nothing(api, app):
    api.job(title="Backend", slug="backend")
    api.create("source", name="Referral")
    api.create("company_profile", name="Acme")
    before = row_counts(app)
    body = assert_error(api.post("/data/job", json={"title": "Other", "slug": "backend"}), 409)
    assert "slug" in body["fields"]
    body = assert_error(api.post("/data/source", json={"name": "Referral"}), 409)
    assert "name" in body["fields"]
    assert_error(api.post("/data/company_profile", json={"name": "Second"}), 409)
    assert row_counts(app) == before
    assert api.get("/data/company_profile").get_json()["total"] == 1


def test_refused_delete_removes_nothing(api, app):
    application = api.application()
    job_id = application["data"]["job_id"]
    api.create("application_note", parent_kind="job", parent_id=job_id, body="Note")
    api.create("interview", application_id=application["id"])
    before = row_counts(app)
    body = assert_error(api.delete(f"/data/job/{job_id}"), 409)
    assert body["dependents"] == {"application": 1, "interview": 1, "application_note": 1}
    assert_error(api.delete(f"/data/job/{job_id}?cascade=maybe"), 400)
    assert_error(api.delete(f"/data/application/{application['id']}"), 409)
    assert row_counts(app) == before
    assert api.get(f"/data/job/{job_id}").status_code == 200


def test_refused_requests_write_nothing(api, app, client, make_api):
    job = api.job()
    reader = make_api("job:read")
    before = row_counts(app)
    assert_error(reader.post("/data/job", json={"title": "x"}), 403)
    assert_error(reader.patch(f"/data/job/{job['id']}", json={"title": "x"}), 403)
    assert_error(reader.delete(f"/data/job/{job['id']}"), 403)
    assert_error(client.post("/xapi2/data/job", json={"title": "x"}), 401)
    assert_error(client.delete(f"/xapi2/data/job/{job['id']}"), 401)
    assert row_counts(app) == before
    assert api.get(f"/data/job/{job['id']}").get_json() == job
