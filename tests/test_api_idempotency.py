"""``Idempotency-Key`` on every xapi2 POST (docs/api.md "Retrying a POST",
draft-ietf-httpapi-idempotency-key-header): the first request runs and its
success is stored with the write; the same request again gets the stored answer
(``Idempotent-Replayed: true``) and creates nothing; the same key on another
request is a 422; keys are per user, errors are not stored, keys last 24 hours."""

from __future__ import annotations

import hashlib
import json
import threading
from datetime import timedelta
from typing import Any

import pytest
from conftest import Api
from sqlalchemy import select

from ats.errors import BadRequest
from ats.extensions import db
from ats.models import IdempotencyKey, User
from ats.services import auth, idempotency

KEY = "8e03978e-40d5-43e8-bc93-6894a57f9324"


def post(api: Api, path: str, body: Any = None, key: str | None = KEY, **kw: Any) -> Any:
    """POST as the Api fixture does, plus the Idempotency-Key header."""
    headers = api.headers({"Idempotency-Key": key} if key is not None else {})
    url = path if path.startswith("/xapi2") else "/xapi2" + path
    if body is None:
        return api.client.post(url, headers=headers, **kw)
    return api.client.post(url, json=body, headers=headers, **kw)


def total(api: Api, model: str, **filters: str) -> int:
    r = api.get(f"/data/{model}", query_string={"limit": 1, **filters})
    assert r.status_code == 200, r.get_json()
    return r.get_json()["total"]


def key_rows(app) -> list[IdempotencyKey]:
    with app.app_context():
        return list(db.session.scalars(select(IdempotencyKey).order_by(IdempotencyKey.id)))


def age_keys(app, hours: float) -> None:
    """Move every stored key ``hours`` into the past."""
    with app.app_context():
        for row in db.session.scalars(select(IdempotencyKey)):
            row.created_at -= timedelta(hours=hours)
        db.session.commit()


# --- replay -----------------------------------------------------------------------


def test_a_repeated_create_replays_the_stored_answer(api, app):
    first = post(api, "/data/job", {"title": "Backend Engineer"})
    assert first.status_code == 201
    assert "Idempotent-Replayed" not in first.headers
    job = first.get_json()
    assert first.headers["Location"].endswith(f"/xapi2/data/job/{job['id']}")

    again = post(api, "/data/job", {"title": "Backend Engineer"})
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_data() == first.get_data()
    assert again.headers["Location"] == first.headers["Location"]
    assert again.mimetype == "application/json"
    assert total(api, "job") == 1


def test_the_replay_is_the_stored_answer_not_a_fresh_read(api):
    first = post(api, "/data/job", {"title": "Backend Engineer"})
    job_id = first.get_json()["id"]
    assert api.patch(f"/data/job/{job_id}", json={"title": "Renamed"}).status_code == 200
    again = post(api, "/data/job", {"title": "Backend Engineer"})
    assert again.get_json()["data"]["title"] == "Backend Engineer"
    assert again.get_data() == first.get_data()
    assert api.get(f"/data/job/{job_id}").get_json()["data"]["title"] == "Renamed"


def test_the_stored_row_fingerprints_the_request(api, app):
    raw = json.dumps({"name": "Ada Lovelace"}).encode()
    r = post(api, "/data/candidate", data=raw, content_type="application/json")
    assert r.status_code == 201
    (row,) = key_rows(app)
    assert (row.user_id, row.key, row.method, row.path) == (
        api.user_id,
        KEY,
        "POST",
        "/xapi2/data/candidate",
    )
    assert row.body_sha256 == hashlib.sha256(raw).hexdigest()
    assert (row.status, row.body.encode(), row.location) == (
        201,
        r.get_data(),
        r.headers["Location"],
    )


def test_without_a_key_every_post_creates(api, app):
    assert post(api, "/data/job", {"title": "A"}, key=None).status_code == 201
    assert post(api, "/data/job", {"title": "A"}, key=None).status_code == 201
    assert total(api, "job") == 2
    assert key_rows(app) == []


@pytest.mark.parametrize("action", ["archive", "unarchive"])
def test_archive_and_unarchive_replay(api, action):
    job = api.job()
    if action == "unarchive":
        assert api.post(f"/data/job/{job['id']}/archive").status_code == 200
    path = f"/data/job/{job['id']}/{action}"
    first = post(api, path)
    assert first.status_code == 200
    assert first.get_json()["is_archived"] is (action == "archive")
    # someone flips it back; a retry of the lost answer must not flip it again
    other = "unarchive" if action == "archive" else "archive"
    assert api.post(f"/data/job/{job['id']}/{other}").status_code == 200

    again = post(api, path)
    assert again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_data() == first.get_data()
    assert "Location" not in again.headers
    now = api.get(f"/data/job/{job['id']}").get_json()
    assert now["is_archived"] is (action != "archive")


def test_a_quoted_key_is_the_same_key(api):
    """The draft sends the key as a structured-field string; bare keys are common."""
    first = post(api, "/data/source", {"name": "Referral"}, key="abc")
    again = post(api, "/data/source", {"name": "Referral"}, key='"abc"')
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.get_json()["id"] == first.get_json()["id"]
    assert total(api, "source") == 1


def test_a_replay_still_needs_the_scope(api, app):
    assert post(api, "/data/job", {"title": "A"}).status_code == 201
    with app.app_context():
        user = db.session.get(User, api.user_id)
        _token, secret = auth.create_token(user, ["job:read"])
    reader = Api(app.test_client(), secret, api.user_id)
    r = post(reader, "/data/job", {"title": "A"})
    assert r.status_code == 403
    assert "Idempotent-Replayed" not in r.headers


# --- the same key for something else ---------------------------------------------


def test_same_key_with_another_body_is_422(api, app):
    job = post(api, "/data/job", {"title": "A"}).get_json()
    r = post(api, "/data/job", {"title": "B"})
    assert r.status_code == 422
    body = r.get_json()
    assert body["error"] == "idempotency_key_reused"
    assert "body" in body["message"]
    assert total(api, "job") == 1
    # and the first answer is still there for a real retry
    assert post(api, "/data/job", {"title": "A"}).get_json()["id"] == job["id"]


def test_same_key_on_another_path_is_422(api):
    job = post(api, "/data/job", {"title": "A"}).get_json()
    r = post(api, "/data/candidate", {"title": "A"})
    assert r.status_code == 422
    assert r.get_json()["error"] == "idempotency_key_reused"
    assert "/xapi2/data/job" in r.get_json()["message"]
    assert total(api, "candidate") == 0
    r = post(api, f"/data/job/{job['id']}/archive")
    assert r.status_code == 422
    assert api.get(f"/data/job/{job['id']}").get_json()["is_archived"] is False


def test_keys_are_per_user(api, make_api):
    other = make_api()
    mine = post(api, "/data/job", {"title": "A"})
    theirs = post(other, "/data/job", {"title": "A"})
    assert theirs.status_code == 201
    assert "Idempotent-Replayed" not in theirs.headers
    assert theirs.get_json()["id"] != mine.get_json()["id"]
    assert theirs.get_json()["created_by"] == other.user_id
    assert total(api, "job") == 2
    # and another user's key with another body is no 422 either
    assert post(other, "/data/job", {"title": "Z"}, key="k2").status_code == 201
    assert post(api, "/data/job", {"title": "Y"}, key="k2").status_code == 201


# --- errors are not stored ----------------------------------------------------------


def test_a_refused_request_is_not_stored(api, app):
    r = post(api, "/data/job", {"title": ""})
    assert r.status_code == 400
    assert key_rows(app) == []
    # corrected body, same key: runs (it would be a 422 had the 400 been stored)
    fixed = post(api, "/data/job", {"title": "Backend Engineer"})
    assert fixed.status_code == 201
    assert "Idempotent-Replayed" not in fixed.headers
    assert (
        post(api, "/data/job", {"title": "Backend Engineer"}).headers["Idempotent-Replayed"]
        == "true"
    )
    assert total(api, "job") == 1


def test_a_conflict_is_not_stored(api, app):
    taken = api.create("source", name="Referral")
    assert post(api, "/data/source", {"name": "Referral"}).status_code == 409
    assert key_rows(app) == []
    assert api.delete(f"/data/source/{taken['id']}").status_code == 204
    r = post(api, "/data/source", {"name": "Referral"})  # the same request, retried
    assert r.status_code == 201
    assert "Idempotent-Replayed" not in r.headers
    assert r.get_json()["id"] != taken["id"]


def test_a_missing_object_is_not_stored(api, app):
    r = post(api, "/data/job/job_01JD0000000000000000000000/archive")
    assert r.status_code == 404
    assert key_rows(app) == []


@pytest.mark.parametrize(
    "key",
    ["", "x" * 256, "tab\there", "caf\xe9", '""'],
    ids=["empty", "too-long", "control", "latin-1", "empty-quoted"],
)
def test_a_malformed_key_is_400_naming_the_header(api, app, key):
    r = post(api, "/data/job", {"title": "A"}, key=key)
    assert r.status_code == 400, r.get_json()
    assert r.get_json()["error"] == "bad_request"
    assert "Idempotency-Key" in r.get_json()["message"]
    assert total(api, "job") == 0
    assert key_rows(app) == []


def test_the_longest_key_and_spaces_are_accepted(api):
    assert post(api, "/data/job", {"title": "A"}, key="k" * 255).status_code == 201
    assert post(api, "/data/job", {"title": "A"}, key="a key with spaces").status_code == 201
    assert total(api, "job") == 2


# --- 24 hours -----------------------------------------------------------------------


def test_a_key_expires_after_24_hours(api, app):
    first = post(api, "/data/job", {"title": "A"}).get_json()
    age_keys(app, 23.9)
    assert post(api, "/data/job", {"title": "A"}).headers["Idempotent-Replayed"] == "true"
    age_keys(app, 0.2)  # now 24.1 hours old
    again = post(api, "/data/job", {"title": "A"})
    assert again.status_code == 201
    assert "Idempotent-Replayed" not in again.headers
    assert again.get_json()["id"] != first["id"]
    assert total(api, "job") == 2
    assert len(key_rows(app)) == 1  # the expired row made way for the new one


def test_expired_keys_of_every_user_are_purged(api, app, make_api):
    post(api, "/data/job", {"title": "A"}, key="old")
    age_keys(app, 25)
    post(make_api(), "/data/job", {"title": "B"}, key="new")
    assert [r.key for r in key_rows(app)] == ["new"]


# --- races --------------------------------------------------------------------------


def test_concurrent_twins_create_one_object(api, app):
    """On SQLite the lookup inside BEGIN IMMEDIATE makes the twins take turns."""
    n = 6
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def send(i: int) -> None:
        client = app.test_client()
        barrier.wait()
        results[i] = client.post(
            "/xapi2/data/job",
            json={"title": "Race"},
            headers=api.headers({"Idempotency-Key": KEY}),
        )

    threads = [threading.Thread(target=send, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.status_code for r in results] == [201] * n
    replayed = [r.headers.get("Idempotent-Replayed") for r in results]
    assert replayed.count("true") == n - 1
    assert len({r.get_data() for r in results}) == 1
    assert total(api, "job") == 1


def _lookup_misses_once(monkeypatch) -> None:
    """Make the first lookup miss, as it does on PostgreSQL for a twin that runs
    alongside the first request instead of waiting for it."""
    real = idempotency._find
    calls = iter(range(1_000))

    def find(user_id: str, key: str) -> Any:
        return None if next(calls) == 0 else real(user_id, key)

    monkeypatch.setattr(idempotency, "_find", find)


def test_a_twin_stopped_by_the_key_constraint_gets_the_stored_answer(api, app, monkeypatch):
    body = _note_body(api)
    first = post(api, "/data/application_note", body)
    assert first.status_code == 201
    _lookup_misses_once(monkeypatch)
    again = post(api, "/data/application_note", body)
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_data() == first.get_data()
    assert total(api, "application_note") == 1


def test_a_twin_stopped_by_a_unique_rule_gets_the_stored_answer(api, app, monkeypatch):
    first = post(api, "/data/company_profile", {"name": "Acme"})
    assert first.status_code == 201
    _lookup_misses_once(monkeypatch)
    again = post(api, "/data/company_profile", {"name": "Acme"})  # the singleton: a 409
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_data() == first.get_data()


def test_a_real_conflict_stays_a_conflict(api, app, monkeypatch):
    api.create("company_profile", name="Acme")
    _lookup_misses_once(monkeypatch)
    r = post(api, "/data/company_profile", {"name": "Other"})
    assert r.status_code == 409
    assert key_rows(app) == []


def test_an_expired_key_does_not_answer_for_a_conflict(api, app):
    """The purge is rolled back with the conflict; the expired row must stay unseen."""
    assert post(api, "/data/company_profile", {"name": "Acme"}).status_code == 201
    age_keys(app, 25)
    r = post(api, "/data/company_profile", {"name": "Acme"})
    assert r.status_code == 409
    assert r.get_json()["error"] == "conflict"


def _note_body(api: Api) -> dict[str, Any]:
    return {"parent_kind": "job", "parent_id": api.job()["id"], "body": "Strong"}


# --- the document ---------------------------------------------------------------------


def test_every_post_documents_the_header_and_the_422(client):
    doc = client.get("/xapi2/openapi.json").get_json()
    param = doc["components"]["parameters"]["IdempotencyKey"]
    assert (param["name"], param["in"], param["required"]) == ("Idempotency-Key", "header", False)
    assert param["schema"]["maxLength"] == 255
    posts = 0
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method != "post":
                continue
            posts += 1
            assert {"$ref": "#/components/parameters/IdempotencyKey"} in op["parameters"], path
            assert "422" in op["responses"], path
            success = next(c for c in op["responses"] if c.startswith("2"))
            assert "Idempotent-Replayed" in op["responses"][success]["headers"], path
    assert posts == 3 * 7
    for method, item in doc["paths"]["/xapi2/data/job/{id}"].items():
        if method != "parameters":
            assert "422" not in item["responses"], method


def test_parse_key_and_the_window():
    assert idempotency.KEEP_FOR == timedelta(hours=24)
    assert idempotency.parse_key(None) is None
    assert idempotency.parse_key("abc") == "abc"
    assert idempotency.parse_key('"a\\"b"') == 'a"b'
    with pytest.raises(BadRequest, match="Idempotency-Key"):
        idempotency.parse_key("a\x00b")
