"""Application notes (spec sections 5 and 6): private notes are their author's
alone on every path, note filters, parent rules, the body limit; and the
company profile singleton."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import Api

NOTES = "/data/application_note"


def ids(page: dict[str, Any]) -> list[str]:
    return [item["id"] for item in page["items"]]


def notes(api: Api, **params: Any) -> dict[str, Any]:
    r = api.get(NOTES, query_string={"limit": 200, **params})
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def note(api: Api, parent_kind: str, parent: dict, **data: Any) -> dict:
    return api.create(
        "application_note",
        **{"parent_kind": parent_kind, "parent_id": parent["id"], "body": "a note", **data},
    )


def missing_note_response(api: Api) -> dict:
    r = api.get(f"{NOTES}/note_01JD0000000000000000000000")
    assert r.status_code == 404
    return r.get_json()


# --- private notes --------------------------------------------------------------


@pytest.fixture
def private(api, make_api):
    """User A (``api``) with a private note on a candidate; user B an admin with '*'."""
    candidate = api.candidate()
    secret = note(api, "candidate", candidate, body="only for me", private=True)
    public = note(api, "candidate", candidate, body="for everyone")
    return {
        "a": api,
        "b": make_api("*", "admin"),
        "candidate": candidate,
        "secret": secret,
        "public": public,
    }


def test_private_note_is_404_for_another_admin(private):
    b, secret = private["b"], private["secret"]
    url = f"{NOTES}/{secret['id']}"
    missing = missing_note_response(b)
    for response in (
        b.get(url),
        b.patch(url, json={"body": "hijacked", "private": False}),
        b.delete(url),
        b.delete(url + "?cascade=true"),
        b.post(url + "/archive"),
        b.post(url + "/unarchive"),
    ):
        assert response.status_code == 404
        body = response.get_json()
        # indistinguishable from an id that does not exist
        assert body["error"] == missing["error"]
        assert body["message"].replace(secret["id"], "X") == missing["message"].replace(
            "note_01JD0000000000000000000000", "X"
        )
    # and nothing happened to it
    got = private["a"].get(url)
    assert got.status_code == 200
    assert got.get_json() == secret


def test_private_note_is_absent_from_another_users_lists(private):
    b, secret, public = private["b"], private["secret"], private["public"]
    candidate = private["candidate"]
    for params in (
        {},
        {"private": "true"},
        {"data__private": "true"},
        {"parent_id": candidate["id"]},
        {"data__parent_id": candidate["id"]},
        {"parent_kind": "candidate"},
        {"created_by": private["a"].user_id},
        {"owned_by": private["a"].user_id},
        {"pinned": "false"},
        {"sort": "-updated_at"},
        {"is_archived": "false"},
    ):
        page = notes(b, **params)
        assert secret["id"] not in ids(page), params
        assert page["total"] == len(page["items"]), params
    assert notes(b, private="true")["total"] == 0
    page = notes(b, parent_id=candidate["id"])
    assert ids(page) == [public["id"]] and page["total"] == 1


def test_private_note_is_hidden_when_archived_too(private):
    a, b, secret = private["a"], private["b"], private["secret"]
    assert a.post(f"{NOTES}/{secret['id']}/archive").status_code == 200
    assert secret["id"] not in ids(notes(b, is_archived="true"))
    assert ids(notes(a, is_archived="true")) == [secret["id"]]


def test_private_note_cannot_be_an_after_cursor_for_others(private):
    b, secret = private["b"], private["secret"]
    for params in ({"after": secret["id"]}, {"after": secret["id"], "sort": "-created_at"}):
        r = b.get(NOTES, query_string=params)
        assert r.status_code == 400, r.get_json()
        assert "after" in r.get_json()["message"]
    # paging past the public note does not reach the private one either
    assert ids(notes(b, after=private["public"]["id"], sort="-created_at")) == []
    # for its author it is a cursor like any other
    a = private["a"]
    page = notes(a, after=secret["id"])
    assert ids(page) == [private["public"]["id"]]
    page = notes(a, after=private["public"]["id"], sort="-created_at")
    assert ids(page) == [secret["id"]]


def test_author_sees_the_private_note_everywhere(private):
    a, secret, candidate = private["a"], private["secret"], private["candidate"]
    assert a.get(f"{NOTES}/{secret['id']}").get_json() == secret
    assert secret["data"]["private"] is True and secret["created_by"] == a.user_id
    both = {secret["id"], private["public"]["id"]}
    assert set(ids(notes(a))) == both
    assert ids(notes(a, private="true")) == [secret["id"]]
    assert set(ids(notes(a, parent_id=candidate["id"]))) == both
    assert notes(a, parent_id=candidate["id"])["total"] == 2
    r = a.patch(f"{NOTES}/{secret['id']}", json={"body": "edited"})
    assert r.status_code == 200 and r.get_json()["data"]["body"] == "edited"
    assert r.get_json()["data"]["private"] is True


def test_public_note_is_visible_to_others(private):
    b, public = private["b"], private["public"]
    got = b.get(f"{NOTES}/{public['id']}")
    assert got.status_code == 200 and got.get_json() == public
    assert public["id"] in ids(notes(b))
    assert ids(notes(b, private="false")) == [public["id"]]
    r = b.patch(f"{NOTES}/{public['id']}", json={"pinned": True})
    assert r.status_code == 200 and r.get_json()["data"]["pinned"] is True


def test_private_flag_can_be_switched_by_the_author(private):
    a, b, secret = private["a"], private["b"], private["secret"]
    url = f"{NOTES}/{secret['id']}"
    assert a.patch(url, json={"private": False}).status_code == 200
    assert b.get(url).status_code == 200
    assert secret["id"] in ids(notes(b))
    assert a.patch(url, json={"private": True}).status_code == 200
    assert b.get(url).status_code == 404
    assert secret["id"] not in ids(notes(b))


def test_each_user_sees_only_their_own_private_notes(private, make_api):
    a, b, candidate = private["a"], private["b"], private["candidate"]
    b_secret = note(b, "candidate", candidate, private=True)
    interviewer = make_api("*", "recruiter")  # a third user
    i_secret = note(interviewer, "candidate", candidate, private=True)
    assert ids(notes(a, private="true")) == [private["secret"]["id"]]
    assert ids(notes(b, private="true")) == [b_secret["id"]]
    assert ids(notes(interviewer, private="true")) == [i_secret["id"]]
    assert a.get(f"{NOTES}/{b_secret['id']}").status_code == 404
    assert interviewer.get(f"{NOTES}/{private['secret']['id']}").status_code == 404
    assert b.delete(f"{NOTES}/{b_secret['id']}").status_code == 204
    assert a.delete(f"{NOTES}/{private['secret']['id']}").status_code == 204


# --- filters -----------------------------------------------------------------------


@pytest.fixture
def board(api):
    job = api.job()
    candidate = api.candidate()
    application = api.application(job, candidate)
    return {
        "job": job,
        "candidate": candidate,
        "application": application,
        "on_job": note(api, "job", job, pinned=True),
        "on_candidate": note(api, "candidate", candidate),
        "on_application": note(api, "application", application, pinned=True),
        "on_application_2": note(api, "application", application),
    }


def test_pinned_filter(api, board):
    assert set(ids(notes(api, pinned="true"))) == {
        board["on_job"]["id"],
        board["on_application"]["id"],
    }
    assert set(ids(notes(api, data__pinned="false"))) == {
        board["on_candidate"]["id"],
        board["on_application_2"]["id"],
    }
    r = api.get(NOTES, query_string={"pinned": "yes"})
    assert r.status_code == 400 and "pinned" in r.get_json()["message"]


def test_parent_filters(api, board):
    def got(**params: Any) -> set[str]:
        return set(ids(notes(api, **params)))

    assert got(parent_kind="application") == {
        board["on_application"]["id"],
        board["on_application_2"]["id"],
    }
    assert got(data__parent_kind="job") == {board["on_job"]["id"]}
    assert got(parent_id=board["candidate"]["id"]) == {board["on_candidate"]["id"]}
    assert got(data__parent_id=board["application"]["id"]) == {
        board["on_application"]["id"],
        board["on_application_2"]["id"],
    }
    assert got(parent_id=[board["job"]["id"], board["candidate"]["id"]]) == {
        board["on_job"]["id"],
        board["on_candidate"]["id"],
    }
    assert got(parent_id=board["application"]["id"], pinned="true") == {
        board["on_application"]["id"]
    }
    assert got(parent_kind="job", parent_id=board["candidate"]["id"]) == set()
    r = api.get(NOTES, query_string={"parent_kind": "interview"})
    assert r.status_code == 400 and "parent_kind" in r.get_json()["message"]


# --- writing notes -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("parent_kind", "parent_id"),
    [
        ("candidate", "cand_01JD0000000000000000000000"),
        ("job", "job_01JD0000000000000000000000"),
        ("application", "app_01JD0000000000000000000000"),
        ("candidate", "nonsense"),
    ],
)
def test_note_on_a_missing_parent_is_400(api, parent_kind, parent_id):
    r = api.post(NOTES, json={"parent_kind": parent_kind, "parent_id": parent_id, "body": "x"})
    assert r.status_code == 400, r.get_json()
    body = r.get_json()
    assert body["error"] == "validation_failed" and "parent_id" in body["fields"]
    assert notes(api)["total"] == 0


def test_note_parent_must_be_of_parent_kind(api):
    job = api.job()
    candidate = api.candidate()
    for kind, parent in (("candidate", job), ("job", candidate), ("application", job)):
        r = api.post(NOTES, json={"parent_kind": kind, "parent_id": parent["id"], "body": "x"})
        assert r.status_code == 400, r.get_json()
        assert "parent_id" in r.get_json()["fields"]
    r = api.post(NOTES, json={"parent_kind": "source", "parent_id": job["id"], "body": "x"})
    assert r.status_code == 400 and "parent_kind" in r.get_json()["fields"]
    r = api.post(NOTES, json={"body": "x"})
    assert r.status_code == 400
    assert {"parent_kind", "parent_id"} <= set(r.get_json()["fields"])
    assert notes(api)["total"] == 0


def test_parent_kind_and_parent_id_are_create_only(api):
    job, candidate = api.job(), api.candidate()
    created = note(api, "job", job)
    url = f"{NOTES}/{created['id']}"
    r = api.patch(url, json={"parent_kind": "candidate", "parent_id": candidate["id"]})
    assert r.status_code == 200, r.get_json()
    assert r.get_json() == created  # ignored: nothing changed, not even updated_at
    r = api.patch(url, json={"parent_kind": "nonsense", "parent_id": None, "body": "new"})
    assert r.status_code == 200, r.get_json()
    data = r.get_json()["data"]
    assert data["parent_kind"] == "job" and data["parent_id"] == job["id"]
    assert data["body"] == "new"
    assert ids(notes(api, parent_id=job["id"])) == [created["id"]]
    assert ids(notes(api, parent_id=candidate["id"])) == []


def test_body_max_20000_characters(api):
    job = api.job()
    for body in ("x" * 20000, "é" * 20000, "🙂" * 20000):
        created = note(api, "job", job, body=body)
        assert created["data"]["body"] == body
        assert api.get(f"{NOTES}/{created['id']}").get_json()["data"]["body"] == body
    r = api.post(NOTES, json={"parent_kind": "job", "parent_id": job["id"], "body": "x" * 20001})
    assert r.status_code == 400 and "body" in r.get_json()["fields"]
    url = f"{NOTES}/{created['id']}"
    r = api.patch(url, json={"body": "y" * 20001})
    assert r.status_code == 400 and "body" in r.get_json()["fields"]
    assert api.get(url).get_json()["data"]["body"] == "🙂" * 20000
    assert api.patch(url, json={"body": "y" * 20000}).status_code == 200


@pytest.mark.parametrize("body", [None, "", "   ", 5, ["x"]])
def test_body_is_required_text(api, body):
    job = api.job()
    r = api.post(NOTES, json={"parent_kind": "job", "parent_id": job["id"], "body": body})
    assert r.status_code == 400 and "body" in r.get_json()["fields"]
    created = note(api, "job", job)
    r = api.patch(f"{NOTES}/{created['id']}", json={"body": body})
    assert r.status_code == 400 and "body" in r.get_json()["fields"]


# --- company profile singleton -----------------------------------------------------

PROFILES = "/data/company_profile"


def test_company_profile_is_a_singleton(api, make_api):
    profile = api.create("company_profile", name="Acme")
    r = api.post(PROFILES, json={"name": "Other"})
    assert r.status_code == 409, r.get_json()
    assert r.get_json()["error"] == "conflict"
    assert (
        "company_profile" in r.get_json().get("fields", {})
        or "company" in (r.get_json()["message"])
    )
    # another admin cannot make a second one either
    r = make_api("*", "admin").post(PROFILES, json={"name": "Mine"})
    assert r.status_code == 409

    page = api.get(PROFILES).get_json()
    assert page["total"] == 1 and ids(page) == [profile["id"]]
    assert page["items"][0]["data"]["name"] == "Acme"

    r = api.patch(f"{PROFILES}/{profile['id']}", json={"name": "Acme GmbH", "size": "11-50"})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["data"]["name"] == "Acme GmbH" and r.get_json()["data"]["size"] == "11-50"
    page = api.get(PROFILES).get_json()
    assert page["total"] == 1 and page["items"][0]["data"]["name"] == "Acme GmbH"
    assert api.get(PROFILES, query_string={"is_archived": "false"}).get_json()["total"] == 1


def test_company_profile_can_be_made_again_after_delete(api):
    profile = api.create("company_profile", name="Acme")
    assert api.delete(f"{PROFILES}/{profile['id']}").status_code == 204
    assert api.get(PROFILES).get_json()["total"] == 0
    again = api.create("company_profile", name="Acme 2")
    assert again["id"] != profile["id"]
    assert api.get(PROFILES).get_json()["total"] == 1
