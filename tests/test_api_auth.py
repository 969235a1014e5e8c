"""Authentication and authorisation of xapi2 (spec section 2, docs/api.md "Roles",
"Browser sessions"): bearer tokens, scopes and wildcards, role limits, token
storage, and browser sessions with CSRF."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import pytest
from flask import session
from flask_wtf.csrf import generate_csrf
from sqlalchemy import text

from ats.extensions import db
from ats.models import ApiToken, User, utcnow
from ats.services import auth

MODELS = (
    "job",
    "application",
    "interview",
    "application_note",
    "company_profile",
    "candidate",
    "source",
)
ACTIONS = ("list", "read", "create", "update", "delete")


# --- helpers -------------------------------------------------------------------


def assert_error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    assert response.is_json, response.get_data(as_text=True)
    body = response.get_json()
    assert isinstance(body, dict)
    assert isinstance(body.get("error"), str) and body["error"]
    assert isinstance(body.get("message"), str) and body["message"]
    return body


def assert_401(response: Any) -> dict[str, Any]:
    body = assert_error(response, 401)
    assert response.headers.get("WWW-Authenticate", "").startswith("Bearer")
    return body


def assert_403_missing(response: Any, scope: str) -> None:
    body = assert_error(response, 403)
    assert body.get("missing_scope") == scope, body
    assert scope in body["message"], body


def new_token(app, email: str, scopes: str = "*", **kw: Any) -> tuple[str, str]:
    """A token for an existing user via the service: (token id, secret)."""
    with app.app_context():
        user = auth.find_user(email)
        token, secret = auth.create_token(user, auth.parse_scopes(scopes), **kw)
        return token.id, secret


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


class Names:
    """Distinct values for unique fields, so a test may make several objects."""

    counter = 0

    @classmethod
    def next(cls, base: str) -> str:
        cls.counter += 1
        return f"{base} {cls.counter}"


def create_body(api, model: str) -> dict[str, Any]:
    """A valid POST body for ``model``; referenced objects are made by ``api``."""
    if model == "job":
        return {"title": "Platform Engineer"}
    if model == "candidate":
        return {"name": "Grace Hopper"}
    if model == "source":
        return {"name": Names.next("LinkedIn"), "kind": "job_board"}
    if model == "company_profile":
        return {"name": "Acme GmbH"}
    if model == "application":
        return {"job_id": api.job()["id"], "candidate_id": api.candidate()["id"]}
    if model == "interview":
        return {"application_id": api.application()["id"], "kind": "video"}
    if model == "application_note":
        return {"parent_kind": "job", "parent_id": api.job()["id"], "body": "Looks good"}
    raise AssertionError(model)


def patch_body(model: str) -> dict[str, Any]:
    return {
        "job": {"title": "Staff Engineer"},
        "application": {"stage": "review"},
        "interview": {"title": "Second round"},
        "application_note": {"body": "Changed my mind"},
        "company_profile": {"display_name": "Acme"},
        "candidate": {"phone": "+49 30 123456"},
        "source": {"name": Names.next("Indeed")},
    }[model]


def request_for(api, model: str, action: str) -> tuple[str, str, dict[str, Any] | None, int]:
    """(method, url, json body, success status) of ``action`` on ``model``.

    Objects the call needs are made by ``api`` (an admin) beforehand. A create
    of the singleton company profile is only possible once, so the body is
    made here but the profile itself is not."""
    base = f"/xapi2/data/{model}"
    if action == "list":
        return "GET", base, None, 200
    if action == "create":
        return "POST", base, create_body(api, model), 201
    obj = api.create(model, **create_body(api, model))
    url = f"{base}/{obj['id']}"
    if action == "read":
        return "GET", url, None, 200
    if action == "update":
        return "PATCH", url, patch_body(model), 200
    if action == "delete":
        return "DELETE", url, None, 204
    raise AssertionError(action)


def token_for_user(app, user_id: str, scopes: str) -> str:
    with app.app_context():
        user = db.session.get(User, user_id)
        _token, secret = auth.create_token(user, auth.parse_scopes(scopes))
        return secret


# --- 401: no, malformed, unknown, expired, revoked token, deactivated user -------


def test_no_authorization_header_is_401_with_bearer_challenge(client):
    assert_401(client.get("/xapi2/data/job"))
    assert_401(client.post("/xapi2/data/job", json={"title": "x"}))


def test_without_a_token_even_an_unknown_model_is_401(client, api):
    """The token is checked before the path: no answer tells a stranger what exists."""
    assert_401(client.get("/xapi2/data/no_such_model"))
    assert_401(client.get("/xapi2/data/no_such_model/x1"))
    assert api.get("/data/no_such_model").status_code == 404


MALFORMED_HEADERS = (
    "Basic xyz",
    "Basic dXNlcjpwYXNz",
    "Bearer",
    "Bearer ",
    "Bearer abc",
    "Bearer pat_" + "A" * 43,
    "Token pat_abc",
)


def test_malformed_or_unknown_token_is_401(client):
    for header in MALFORMED_HEADERS:
        r = client.get("/xapi2/data/job", headers={"Authorization": header})
        assert r.status_code == 401, header
        assert_401(r)
        assert r.get_json()["error"] == "unauthorized"


def test_lower_case_scheme_is_accepted(client, api):
    """The auth scheme is case-insensitive (RFC 9110, 11.1)."""
    r = client.get("/xapi2/data/job", headers={"Authorization": f"bearer {api.token}"})
    assert r.status_code == 200


def test_unknown_token_cannot_write(client, api):
    before = api.get("/data/job").get_json()["total"]
    r = client.post(
        "/xapi2/data/job",
        json={"title": "x"},
        headers=bearer("pat_doesnotexist0000000000000000000000000000"),
    )
    assert_401(r)
    assert api.get("/data/job").get_json()["total"] == before


def test_valid_token_works(client, app, make_user):
    make_user("ok@example.com", "admin")
    _tid, secret = new_token(app, "ok@example.com")
    r = client.get("/xapi2/data/job", headers=bearer(secret))
    assert r.status_code == 200
    assert r.get_json()["object"] == "list"


def test_expired_token_is_401(client, app, make_user):
    make_user("exp@example.com", "admin")
    token_id, secret = new_token(app, "exp@example.com", expires_days=1)
    # still valid within its lifetime
    assert client.get("/xapi2/data/job", headers=bearer(secret)).status_code == 200
    with app.app_context():
        token = db.session.get(ApiToken, token_id)
        assert token.expires_at is not None
        assert token.expires_at > utcnow() + timedelta(hours=23)
        token.expires_at = utcnow() - timedelta(seconds=5)
        db.session.commit()
    r = client.get("/xapi2/data/job", headers=bearer(secret))
    body = assert_401(r)
    assert "expire" in body["message"]
    assert 'error="invalid_token"' in r.headers["WWW-Authenticate"]
    assert_401(client.post("/xapi2/data/job", json={"title": "x"}, headers=bearer(secret)))


def test_revoked_token_is_401(client, app, make_user, runner):
    make_user("rev@example.com", "admin")
    token_id, secret = new_token(app, "rev@example.com")
    assert client.get("/xapi2/data/job", headers=bearer(secret)).status_code == 200
    result = runner.invoke(args=["tokens", "revoke", token_id])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert db.session.get(ApiToken, token_id).revoked_at is not None
    assert_401(client.get("/xapi2/data/job", headers=bearer(secret)))
    assert_401(client.post("/xapi2/data/job", json={"title": "x"}, headers=bearer(secret)))


def test_other_tokens_survive_a_revoke(client, app, make_user, runner):
    make_user("two@example.com", "admin")
    first_id, first = new_token(app, "two@example.com")
    _second_id, second = new_token(app, "two@example.com")
    assert runner.invoke(args=["tokens", "revoke", first_id]).exit_code == 0
    assert_401(client.get("/xapi2/data/job", headers=bearer(first)))
    assert client.get("/xapi2/data/job", headers=bearer(second)).status_code == 200


def test_deactivated_user_is_401(client, app, make_user):
    user_id = make_user("gone@example.com", "admin")
    _tid, secret = new_token(app, "gone@example.com")
    assert client.get("/xapi2/data/job", headers=bearer(secret)).status_code == 200
    with app.app_context():
        db.session.get(User, user_id).active = False
        db.session.commit()
    assert_401(client.get("/xapi2/data/job", headers=bearer(secret)))
    assert_401(client.post("/xapi2/data/job", json={"title": "x"}, headers=bearer(secret)))


# --- 403: scopes ------------------------------------------------------------------


def test_read_only_token_can_read_but_nothing_else(api, make_api):
    job = api.job()
    reader = make_api("job:read")
    r = reader.get(f"/data/job/{job['id']}")
    assert r.status_code == 200
    assert r.get_json()["id"] == job["id"]

    assert_403_missing(reader.get("/data/job"), "job:list")
    assert_403_missing(reader.post("/data/job", json={"title": "Nope"}), "job:create")
    assert_403_missing(reader.patch(f"/data/job/{job['id']}", json={"title": "N"}), "job:update")
    assert_403_missing(reader.delete(f"/data/job/{job['id']}"), "job:delete")
    assert_403_missing(reader.post(f"/data/job/{job['id']}/archive"), "job:update")
    assert_403_missing(reader.post(f"/data/job/{job['id']}/unarchive"), "job:update")
    assert_403_missing(reader.get("/data/candidate"), "candidate:list")

    # nothing changed
    after = api.get(f"/data/job/{job['id']}").get_json()
    assert after == job
    assert api.get("/data/job").get_json()["total"] == 1


def test_model_wildcard(api, make_api):
    job = api.job()
    cand = api.candidate()
    jobs = make_api("job:*")
    assert jobs.get("/data/job").status_code == 200
    assert jobs.get(f"/data/job/{job['id']}").status_code == 200
    created = jobs.post("/data/job", json={"title": "Wild"})
    assert created.status_code == 201
    new_id = created.get_json()["id"]
    assert jobs.patch(f"/data/job/{new_id}", json={"title": "Wilder"}).status_code == 200
    assert jobs.post(f"/data/job/{new_id}/archive").status_code == 200
    assert jobs.delete(f"/data/job/{new_id}").status_code == 204
    # ... and nothing on other models
    assert_403_missing(jobs.get("/data/candidate"), "candidate:list")
    assert_403_missing(jobs.get(f"/data/candidate/{cand['id']}"), "candidate:read")
    assert_403_missing(jobs.post("/data/candidate", json={"name": "X"}), "candidate:create")


def test_action_wildcard(api, make_api):
    job = api.job()
    cand = api.candidate()
    readers = make_api("*:read")
    assert readers.get(f"/data/job/{job['id']}").status_code == 200
    assert readers.get(f"/data/candidate/{cand['id']}").status_code == 200
    assert_403_missing(readers.get("/data/job"), "job:list")
    assert_403_missing(readers.get("/data/candidate"), "candidate:list")
    assert_403_missing(readers.post("/data/job", json={"title": "X"}), "job:create")
    assert_403_missing(readers.patch(f"/data/job/{job['id']}", json={"title": "X"}), "job:update")
    assert_403_missing(readers.delete(f"/data/candidate/{cand['id']}"), "candidate:delete")


def test_combined_scopes(api, make_api):
    job = api.job()
    both = make_api("job:read,job:list,*:list")
    assert both.get("/data/job").status_code == 200
    assert both.get("/data/source").status_code == 200
    assert both.get(f"/data/job/{job['id']}").status_code == 200
    assert_403_missing(both.post("/data/job", json={"title": "X"}), "job:create")


def test_star_allows_everything(make_api):
    everything = make_api("*")
    assert everything.get("/data/job").status_code == 200
    job = everything.job()
    assert everything.patch(f"/data/job/{job['id']}", json={"title": "T"}).status_code == 200
    assert everything.delete(f"/data/job/{job['id']}").status_code == 204
    assert everything.post("/data/company_profile", json={"name": "Acme"}).status_code == 201


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("model", MODELS)
def test_each_scope_is_needed_and_sufficient(app, client, api, model, action):
    others = [f"{m}:{a}" for m in MODELS for a in ACTIONS if (m, a) != (model, action)]
    lacking = token_for_user(app, api.user_id, ",".join(others))
    having = token_for_user(app, api.user_id, f"{model}:{action}")
    method, url, body, ok = request_for(api, model, action)

    r = client.open(url, method=method, json=body, headers=bearer(lacking))
    assert_403_missing(r, f"{model}:{action}")

    r = client.open(url, method=method, json=body, headers=bearer(having))
    assert r.status_code == ok, (r.status_code, r.get_data(as_text=True))


def test_scope_check_does_not_leak_existence(make_api):
    """A token without read scope gets 403, not 404, for unknown ids too."""
    no_read = make_api("job:list")
    assert_403_missing(no_read.get("/data/job/job_01J00000000000000000000000"), "job:read")


# --- 403: roles -------------------------------------------------------------------


def test_recruiter_cannot_write_company_profile(api, make_api):
    profile = api.create("company_profile", name="Acme")
    recruiter = make_api("*", role="recruiter")

    r = recruiter.get(f"/data/company_profile/{profile['id']}")
    assert r.status_code == 200
    assert r.get_json()["data"]["name"] == "Acme"
    r = recruiter.get("/data/company_profile")
    assert r.status_code == 200
    assert [i["id"] for i in r.get_json()["items"]] == [profile["id"]]

    url = f"/data/company_profile/{profile['id']}"
    assert_403_missing(recruiter.patch(url, json={"name": "Evil"}), "company_profile:update")
    assert_403_missing(recruiter.delete(url), "company_profile:delete")
    assert_403_missing(recruiter.post(f"{url}/archive"), "company_profile:update")
    assert api.get(url).get_json() == profile


def test_recruiter_cannot_create_company_profile(api, make_api):
    recruiter = make_api("*", role="recruiter")
    r = recruiter.post("/data/company_profile", json={"name": "Evil"})
    assert_403_missing(r, "company_profile:create")
    assert api.get("/data/company_profile").get_json()["total"] == 0


def test_recruiter_may_write_other_models(make_api):
    recruiter = make_api("*", role="recruiter")
    job = recruiter.job()
    assert recruiter.patch(f"/data/job/{job['id']}", json={"title": "T"}).status_code == 200
    app = recruiter.application(job=recruiter.job(title="Other"))
    assert recruiter.delete(f"/data/application/{app['id']}").status_code == 204
    assert recruiter.delete(f"/data/job/{job['id']}").status_code == 204


def test_interviewer_reads_and_writes_notes_only(api, make_api):
    interviewer = make_api("*", role="interviewer")
    job = api.job(team_ids=[interviewer.user_id])  # interviewers see the jobs they are on

    assert interviewer.get(f"/data/job/{job['id']}").status_code == 200
    r = interviewer.get("/data/job")
    assert r.status_code == 200
    assert [i["id"] for i in r.get_json()["items"]] == [job["id"]]

    r = interviewer.post(
        "/data/application_note",
        json={"parent_kind": "job", "parent_id": job["id"], "body": "Strong team"},
    )
    assert r.status_code == 201, r.get_json()
    note = r.get_json()
    assert note["created_by"] == interviewer.user_id
    r = interviewer.patch(f"/data/application_note/{note['id']}", json={"body": "Edited"})
    assert r.status_code == 200

    assert_403_missing(interviewer.post("/data/job", json={"title": "Nope"}), "job:create")
    assert_403_missing(
        interviewer.patch(f"/data/job/{job['id']}", json={"title": "N"}), "job:update"
    )
    assert_403_missing(interviewer.delete(f"/data/job/{job['id']}"), "job:delete")
    assert_403_missing(interviewer.post("/data/candidate", json={"name": "X"}), "candidate:create")
    assert api.get("/data/job").get_json()["total"] == 1


def test_role_and_scope_intersect(api, make_api):
    """A recruiter's token limited to job:read cannot list, even though the role could."""
    job = api.job()
    recruiter = make_api("job:read", role="recruiter")
    assert recruiter.get(f"/data/job/{job['id']}").status_code == 200
    assert_403_missing(recruiter.get("/data/job"), "job:list")


# --- token storage ------------------------------------------------------------------


def test_tokens_are_stored_hashed(app, client, make_user):
    make_user("hash@example.com", "admin")
    token_id, secret = new_token(app, "hash@example.com", name="ci")
    assert secret.startswith("pat_")
    assert len(secret) >= 36
    assert client.get("/xapi2/data/job", headers=bearer(secret)).status_code == 200
    with app.app_context():
        rows = db.session.execute(text("SELECT * FROM api_token")).mappings().all()
        assert rows
        for row in rows:
            for column, value in row.items():
                assert secret not in str(value), column
                assert secret[4:] not in str(value), column
        token = db.session.get(ApiToken, token_id)
        # keyed: HMAC-SHA256 under a key derived from SECRET_KEY, not a plain hash
        assert token.token_hash == auth.hash_token(secret)
        assert token.token_hash != hashlib.sha256(secret.encode()).hexdigest()
        assert token.prefix == secret[4:12] and token.scopes == ["*"]


def test_last_used_at_is_recorded(app, client, make_user):
    make_user("used@example.com", "admin")
    token_id, secret = new_token(app, "used@example.com")
    with app.app_context():
        assert db.session.get(ApiToken, token_id).last_used_at is None
    start = utcnow()
    assert client.get("/xapi2/data/job", headers=bearer(secret)).status_code == 200
    with app.app_context():
        used = db.session.get(ApiToken, token_id).last_used_at
    assert used is not None
    assert start - timedelta(seconds=1) <= used <= utcnow() + timedelta(seconds=1)


def test_last_used_at_is_not_set_by_a_refused_token(app, client, make_user, runner):
    make_user("refused@example.com", "admin")
    token_id, secret = new_token(app, "refused@example.com")
    assert runner.invoke(args=["tokens", "revoke", token_id]).exit_code == 0
    assert_401(client.get("/xapi2/data/job", headers=bearer(secret)))
    with app.app_context():
        assert db.session.get(ApiToken, token_id).last_used_at is None


# --- browser sessions -------------------------------------------------------------


def login(client, user_id: str) -> None:
    with client.session_transaction() as s:
        s["_user_id"] = f"{user_id}:1"  # Flask-Login's alternative id: user and session version
        s["_fresh"] = True


def csrf_token(app, client) -> str:
    """A CSRF token valid for the client's session (same raw token in both)."""
    with app.test_request_context():
        token = generate_csrf()
        raw = session["csrf_token"]
    with client.session_transaction() as s:
        s["csrf_token"] = raw
    return token


def test_session_can_read_without_token(app, client, make_user, api):
    job = api.job()
    login(client, make_user("browser@example.com", "recruiter"))
    r = client.get("/xapi2/data/job")
    assert r.status_code == 200, r.get_json()
    assert [i["id"] for i in r.get_json()["items"]] == [job["id"]]
    assert client.get(f"/xapi2/data/job/{job['id']}").status_code == 200


def test_session_write_without_csrf_is_403(app, client, make_user, api):
    login(client, make_user("browser@example.com", "recruiter"))
    r = client.post("/xapi2/data/job", json={"title": "No CSRF"})
    body = assert_error(r, 403)
    assert "missing_scope" not in body  # refused for the missing CSRF token, not a scope
    assert "csrf" in body["message"].lower()
    job = api.job()
    assert_error(client.patch(f"/xapi2/data/job/{job['id']}", json={"title": "N"}), 403)
    assert_error(client.delete(f"/xapi2/data/job/{job['id']}"), 403)
    assert api.get("/data/job").get_json()["total"] == 1


def test_session_write_with_bad_csrf_is_403(app, client, make_user, api):
    login(client, make_user("browser@example.com", "recruiter"))
    csrf_token(app, client)
    r = client.post(
        "/xapi2/data/job", json={"title": "Forged"}, headers={"X-CSRFToken": "forged-token"}
    )
    assert_error(r, 403)
    assert api.get("/data/job").get_json()["total"] == 0


def test_session_write_with_csrf_works(app, client, make_user, api):
    user_id = make_user("browser@example.com", "recruiter")
    login(client, user_id)
    token = csrf_token(app, client)
    r = client.post("/xapi2/data/job", json={"title": "With CSRF"}, headers={"X-CSRFToken": token})
    assert r.status_code == 201, r.get_json()
    job = r.get_json()
    assert job["created_by"] == user_id
    r = client.patch(
        f"/xapi2/data/job/{job['id']}", json={"title": "Edited"}, headers={"X-CSRFToken": token}
    )
    assert r.status_code == 200
    assert r.get_json()["data"]["title"] == "Edited"
    r = client.delete(f"/xapi2/data/job/{job['id']}", headers={"X-CSRFToken": token})
    assert r.status_code == 204


def test_session_is_limited_by_role(app, client, make_user):
    login(client, make_user("iv@example.com", "interviewer"))
    token = csrf_token(app, client)
    r = client.post("/xapi2/data/job", json={"title": "No"}, headers={"X-CSRFToken": token})
    assert_error(r, 403)
    assert r.get_json().get("missing_scope") == "job:create"


def test_session_of_deactivated_user_is_401(app, client, make_user):
    user_id = make_user("off@example.com", "admin")
    login(client, user_id)
    assert client.get("/xapi2/data/job").status_code == 200
    with app.app_context():
        db.session.get(User, user_id).active = False
        db.session.commit()
    assert_401(client.get("/xapi2/data/job"))


def test_anonymous_session_with_csrf_is_still_401(app, client):
    token = csrf_token(app, client)
    r = client.post("/xapi2/data/job", json={"title": "x"}, headers={"X-CSRFToken": token})
    assert_401(r)
