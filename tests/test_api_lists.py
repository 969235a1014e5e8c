"""xapi2 lists (spec section 5): page shape, limit/offset, filters, archiving,
sorting, tie-breaking, totals, offset and keyset paging.

Read-only checks share one module-scoped database (``world``) so that the many
parametrized cases stay fast; tests that change objects use the per-test ``api``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest
from conftest import Api

from ats import create_app
from ats import fields as F
from ats.database import writing
from ats.extensions import db
from ats.ids import new_id
from ats.models import User
from ats.services import auth
from ats.services.query import filter_keys

PAGE_KEYS = {"object", "items", "limit", "offset", "has_more", "next_after", "total"}
BULK = 25  # candidates tagged "bulk" in the world, more than one default page


# --- helpers -----------------------------------------------------------------


def ids(page: dict[str, Any]) -> list[str]:
    return [item["id"] for item in page["items"]]


def _path(model: str, params: Any = None) -> str:
    query = urlencode(params or {}, doseq=True)
    return f"/data/{model}" + (f"?{query}" if query else "")


def listing(api: Api, model: str, params: Any = None) -> dict[str, Any]:
    r = api.get(_path(model, params))
    assert r.status_code == 200, r.get_json()
    page = r.get_json()
    assert set(page) == PAGE_KEYS
    return page


def rejected(api: Api, model: str, params: Any) -> dict[str, Any]:
    r = api.get(_path(model, params))
    assert r.status_code == 400, r.get_json()
    body = r.get_json()
    assert isinstance(body.get("error"), str) and isinstance(body.get("message"), str)
    return body


def expected_filter_keys(mdef: F.ModelDef) -> set[str]:
    """What the field tables promise: each filter in plain and data__ form, plus system keys."""
    keys = set(F.ENVELOPE_FILTERS)
    for name in mdef.filters:
        keys |= {name, f"data__{name}"}
    return keys


# --- the shared world ------------------------------------------------------


def _user_api(app: Any, email: str, role: str = "admin", scopes: str = "*") -> Api:
    """A user and token without the slow password hash (no one logs in with it)."""
    with app.app_context():
        with writing():
            user = User(id=new_id("usr"), email=email, name=email, role=role, password_hash="!")
            db.session.add(user)
        _token, secret = auth.create_token(user, auth.parse_scopes(scopes))
        return Api(app.test_client(), secret, user.id)


def _by_value(objs: list[dict], values: list[Any]) -> list[str]:
    """Ids ordered by value ascending, NULL lowest (values are distinct)."""
    pairs = sorted(zip(values, objs, strict=True), key=lambda p: (p[0] is not None, p[0] or 0))
    return [o["id"] for _, o in pairs]


class World:
    def __init__(self, app: Any) -> None:
        self.app = app
        self.users = 0
        self.a = self.user()
        self.b = self.user()
        self._scenarios: dict[tuple[str, str], tuple[Api, list[str]]] = {}
        a, b = self.a, self.b
        self.src = {
            "A": a.create("source", name="Alpha board", kind="job_board"),
            "B": b.create("source", name="Beta referral", kind="referral"),
        }
        self.cand = {
            "A": a.candidate(name="Anna", email="anna@example.com", tags=["python", "remote"]),
            "B": b.candidate(name="Bert", email="Bert@Example.com", tags=["java"]),
        }
        self.job = {
            "A": a.job(
                title="Alpha",
                department="Eng",
                location="Berlin",
                employment_type="full_time",
                seniority="senior",
                remote="hybrid",
                status="open",
                public=True,
                hiring_manager_id=a.user_id,
                tags=["python", "backend"],
            ),
            "B": b.job(
                title="Beta",
                department="Sales",
                location="Paris",
                employment_type="part_time",
                seniority="junior",
                remote="onsite",
                status="draft",
                public=False,
                hiring_manager_id=b.user_id,
                tags=["sales"],
            ),
        }
        self.app_ = {
            k: u.create(
                "application",
                job_id=self.job[k]["id"],
                candidate_id=self.cand[k]["id"],
                stage=stage,
                source_id=self.src[k]["id"],
                rejected_reason=reason,
            )
            for k, u, stage, reason in (
                ("A", a, "review", "other"),
                ("B", b, "screening", "duplicate"),
            )
        }
        self.interview = {
            k: u.create(
                "interview",
                application_id=self.app_[k]["id"],
                kind=kind,
                status=status,
                interviewer_id=u.user_id,
            )
            for k, u, kind, status in (
                ("A", a, "phone", "scheduled"),
                ("B", b, "video", "completed"),
            )
        }
        self.note = {
            "A": a.create(
                "application_note",
                parent_kind="candidate",
                parent_id=self.cand["A"]["id"],
                body="first impression",
                pinned=True,
                private=True,
            ),
            "B": b.create(
                "application_note",
                parent_kind="job",
                parent_id=self.job["B"]["id"],
                body="job note",
                pinned=False,
                private=False,
            ),
        }
        self.company = a.create("company_profile", name="Acme")
        self.bulk = [a.candidate(name=f"Bulk {i:02d}", tags=["bulk"]) for i in range(BULK)]

    def user(self, role: str = "admin", scopes: str = "*") -> Api:
        self.users += 1
        return _user_api(self.app, f"world{self.users}@example.com", role, scopes)

    def pair(self, model: str) -> dict[str, dict]:
        return {
            "job": self.job,
            "application": self.app_,
            "interview": self.interview,
            "application_note": self.note,
            "candidate": self.cand,
            "source": self.src,
        }[model]

    # sort scenarios: each made by its own user, so created_by isolates them
    def scenario(self, model: str, key: str) -> tuple[Api, list[str]]:
        if (model, key) not in self._scenarios:
            self._scenarios[model, key] = self._build(model, key)
        return self._scenarios[model, key]

    def _build(self, model: str, key: str) -> tuple[Api, list[str]]:
        if model == "company_profile":
            return self.a, [self.company["id"]]
        u = self.user()
        shared: dict[str, Any] = {}

        def new(i: int, **data: Any) -> dict:
            if model == "job":
                return u.job(**{"title": f"Job {i}", **data})
            if model == "candidate":
                return u.candidate(**{"name": f"Cand {i}", **data})
            if model == "source":
                return u.create("source", **{"name": f"{u.user_id} {i}", **data})
            if model == "application":
                if "job" not in shared:
                    shared["job"] = u.job()
                return u.application(shared["job"], u.candidate(name=f"C{i}"), **data)
            if "app" not in shared:
                shared["app"] = u.application()
            if model == "interview":
                return u.create("interview", application_id=shared["app"]["id"], **data)
            return u.create(
                "application_note",
                parent_kind="application",
                parent_id=shared["app"]["id"],
                **{"body": f"note {i}", **data},
            )

        def patch(obj: dict, body: dict) -> None:
            r = u.patch(f"/data/{model}/{obj['id']}", json=body)
            assert r.status_code == 200, r.get_json()

        if key == "created_at":
            return u, [new(i)["id"] for i in range(3)]
        if key == "updated_at":
            objs = [new(i) for i in range(3)]
            bodies = {
                "job": {"title": "changed"},
                "candidate": {"name": "changed"},
                "source": {"kind": "other"},
                "application": {"fit_score": 42},
                "interview": {"title": "changed"},
                "application_note": {"body": "changed"},
            }
            order = [objs[1], objs[2], objs[0]]
            for obj in order:
                patch(obj, bodies[model])
            return u, [o["id"] for o in order]
        if (model, key) == ("job", "opened_at"):
            objs = [new(i) for i in range(4)]
            for obj in (objs[2], objs[0], objs[3]):  # objs[1] is never opened: NULL
                patch(obj, {"status": "open"})
            return u, [objs[1]["id"], objs[2]["id"], objs[0]["id"], objs[3]["id"]]
        if (model, key) == ("application", "last_stage_at"):
            objs = [new(i) for i in range(3)]
            order = [objs[1], objs[2], objs[0]]
            for obj in order:
                patch(obj, {"stage": "review"})
            return u, [o["id"] for o in order]
        values: dict[tuple[str, str], list[Any]] = {
            ("job", "title"): ["Bravo", "Charlie", "Alpha"],
            ("job", "target_close_date"): ["2026-05-01", None, "2026-01-15", "2026-03-01"],
            ("candidate", "name"): ["Bea", "Abe", "Cid"],
            ("source", "name"): ["B", "A", "C"],
            ("application", "applied_at"): [
                "2026-02-01T10:00:00Z",
                "2026-01-01T10:00:00Z",
                "2026-03-01T10:00:00Z",
            ],
            ("application", "fit_score"): [50, None, 10, 90],
            ("application", "position"): [2, 3, 1],
            # the +02:00 one is 07:00Z: before 08:00Z
            ("interview", "scheduled_at"): [
                "2026-06-01T09:00:00Z",
                None,
                "2026-05-01T09:00:00+02:00",
                "2026-05-01T08:00:00Z",
            ],
        }
        vals = values[model, key]
        if (model, key) == ("source", "name"):
            vals = [f"{v} {u.user_id}" for v in vals]
        objs = [new(i, **{key: v}) for i, v in enumerate(vals)]
        if (model, key) == ("interview", "scheduled_at"):
            sortable = ["2026-06-01T09", None, "2026-05-01T07", "2026-05-01T08"]
            return u, _by_value(objs, sortable)
        return u, _by_value(objs, vals)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, databases: Any):
    tmp = tmp_path_factory.mktemp("lists")
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": databases.new(tmp),
            "SECRET_KEY": "test",
            "DATA_DIR": str(tmp / "data"),
            "TESTING": True,
        }
    )
    yield World(app)
    with app.app_context():
        db.engine.dispose()


# --- page shape, limit, offset -----------------------------------------------------


@pytest.mark.parametrize("model", list(F.MODELS))
def test_page_shape(world, model):
    page = listing(world.a, model)
    assert page["object"] == "list"
    assert page["limit"] == min(20, F.MODELS[model].max_page) and page["offset"] == 0
    assert isinstance(page["has_more"], bool) and isinstance(page["total"], int)
    assert page["items"] and all(item["object"] == model for item in page["items"])
    assert len(page["items"]) == min(page["total"], 20)
    assert page["has_more"] is (page["total"] > 20)
    for item in page["items"]:
        assert set(item) >= {"id", "object", "data", "status", "is_archived", "created_at"}
        assert set(item["data"]) == {f.name for f in F.MODELS[model].fields}


def test_default_limit_is_20(world):
    page = listing(world.a, "candidate", {"tags": "bulk"})
    assert page["limit"] == 20
    assert len(page["items"]) == 20
    assert page["has_more"] is True
    assert page["total"] == BULK


def test_explicit_limit(world):
    page = listing(world.a, "candidate", {"tags": "bulk", "limit": 3})
    assert page["limit"] == 3 and len(page["items"]) == 3 and page["has_more"] is True


@pytest.mark.parametrize("model", list(F.MODELS))
def test_limit_capped_at_max_page(world, model):
    max_page = F.MODELS[model].max_page
    page = listing(world.a, model, {"limit": max_page + 1})
    assert page["limit"] == max_page
    page = listing(world.a, model, {"limit": 10**6})
    assert page["limit"] == max_page


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("limit", "0"),
        ("limit", "-1"),
        ("limit", "abc"),
        ("limit", "2.5"),
        ("limit", ""),
        ("offset", "-1"),
        ("offset", "x"),
        ("offset", "1.5"),
    ],
)
def test_bad_limit_or_offset(world, param, value):
    body = rejected(world.a, "job", {param: value})
    assert param in body["message"]


def test_offset_too_large(world):
    body = rejected(world.a, "job", {"offset": 2**31})
    assert "offset" in body["message"]
    assert listing(world.a, "job", {"offset": 2**31 - 1})["items"] == []


def test_offset_beyond_the_end(world):
    page = listing(world.a, "candidate", {"tags": "bulk", "offset": 1000})
    assert page["items"] == [] and page["has_more"] is False and page["total"] == BULK
    assert page["offset"] == 1000


# --- filters -----------------------------------------------------------------


@pytest.mark.parametrize("model", list(F.MODELS))
def test_filter_keys_follow_the_field_tables(model):
    mdef = F.MODELS[model]
    assert set(filter_keys(mdef)) == expected_filter_keys(mdef)


FILTER_CASES = [
    (model, key)
    for model, mdef in F.MODELS.items()
    for key in sorted(expected_filter_keys(mdef) | set(filter_keys(mdef)))
]


def _filter_value(mdef: F.ModelDef, obj: dict, key: str) -> str:
    name = key.removeprefix("data__")
    if name in ("owned_by", "created_by"):
        return obj[name]
    if name == "is_archived":
        return "false"
    if name == "status" and not mdef.has_status_field:
        return "active"
    value = obj["data"][name]
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return value[0]
    assert isinstance(value, str), (key, value)
    return value


@pytest.mark.parametrize(("model", "key"), FILTER_CASES)
def test_every_filter_key_is_accepted_and_filters(world, model, key):
    mdef = F.MODELS[model]
    if model == "company_profile":
        me = world.company
        value = _filter_value(mdef, me, key)
        assert ids(listing(world.a, model, {key: value})) == [me["id"]]
        if key in ("owned_by", "created_by"):
            assert ids(listing(world.a, model, {key: world.b.user_id})) == []
        return
    pair = world.pair(model)
    value = _filter_value(mdef, pair["A"], key)
    got = ids(listing(world.a, model, {key: value, "limit": 200}))
    assert pair["A"]["id"] in got
    matches_both = key == "is_archived" or (key == "status" and not mdef.has_status_field)
    if matches_both:
        assert pair["B"]["id"] in got
    else:
        assert pair["B"]["id"] not in got


def ab(world: World, model: str, params: Any) -> str:
    """Which of the world's two objects A and B of a model the filter returns: "AB", "A", ..."""
    got = set(
        ids(
            listing(
                world.a, model, params if isinstance(params, list) else {**params, "limit": 200}
            )
        )
    )
    return "".join(k for k, obj in world.pair(model).items() if obj["id"] in got)


def test_repeated_key_is_in(world):
    assert ab(world, "application", [("stage", "review"), ("stage", "screening")]) == "AB"
    assert ab(world, "application", {"stage": "review"}) == "A"
    assert ab(world, "application", {"stage": ["screening", "offer"]}) == "B"
    assert ab(world, "application", {"stage": ["offer", "hired"]}) == ""
    jobs = [world.job["A"]["id"], world.job["B"]["id"]]
    assert ab(world, "application", {"job_id": jobs}) == "AB"
    assert ab(world, "job", {"department": ["Eng", "Sales"]}) == "AB"
    assert ab(world, "source", {"kind": ["referral", "agency"]}) == "B"


def test_different_keys_combine_with_and(world):
    job_a, job_b = world.job["A"]["id"], world.job["B"]["id"]
    assert ab(world, "application", {"stage": "review", "job_id": job_b}) == ""
    assert ab(world, "application", {"stage": "review", "job_id": job_a}) == "A"
    page = listing(world.a, "job", {"department": "Eng", "status": "draft"})
    assert page["items"] == [] and page["total"] == 0
    assert ab(world, "job", {"department": "Eng", "status": "open", "public": "true"}) == "A"
    assert ab(world, "job", {"department": "Eng", "public": "false"}) == ""
    # IN inside a key, AND across keys
    params = [("stage", "review"), ("stage", "screening"), ("job_id", job_b)]
    assert ab(world, "application", params) == "B"


def test_tags_filter_matches_objects_containing_the_tag(world):
    assert ab(world, "job", {"tags": "backend"}) == "A"
    assert ab(world, "job", {"tags": "python"}) == "A"
    assert ab(world, "job", {"data__tags": "sales"}) == "B"
    assert listing(world.a, "job", {"tags": "pyth"})["total"] == 0
    assert ab(world, "job", {"tags": ["backend", "sales"]}) == "AB"
    # an object with several of the tags asked for comes once
    page = listing(world.a, "job", {"tags": ["python", "backend"]})
    assert ids(page).count(world.job["A"]["id"]) == 1
    assert page["total"] == len(page["items"])
    assert ab(world, "candidate", {"tags": "remote"}) == "A"
    assert ab(world, "candidate", {"tags": "java"}) == "B"


def test_boolean_filters(world):
    assert ab(world, "job", {"public": "true"}) == "A"
    assert ab(world, "job", {"public": "false"}) == "B"
    assert ab(world, "application_note", {"pinned": "true"}) == "A"
    assert ab(world, "application_note", {"data__pinned": "false"}) == "B"
    assert ab(world, "application_note", {"private": "true"}) == "A"
    assert ab(world, "application_note", {"private": "false"}) == "B"


@pytest.mark.parametrize("value", ["yes", "1", "TRUE", ""])
def test_boolean_filter_rejects_other_words(world, value):
    body = rejected(world.a, "job", {"public": value})
    assert "public" in body["message"]


@pytest.mark.parametrize(
    ("model", "key", "value"),
    [
        ("job", "status", "archived"),
        ("job", "status", "active"),  # job has its own status field
        ("job", "data__remote", "mars"),
        ("application", "stage", "nope"),
        ("application", "status", "open"),
        ("interview", "status", "active"),
        ("source", "kind", "newspaper"),
        ("candidate", "status", "deleted"),
    ],
)
def test_enum_filter_with_unknown_value(world, model, key, value):
    body = rejected(world.a, model, {key: value})
    assert key.removeprefix("data__") in body["message"]
    for choice in filter_keys(F.MODELS[model])[key].field.choices:  # the valid values
        assert choice in body["message"]


@pytest.mark.parametrize("model", list(F.MODELS))
def test_unknown_filter_key(world, model):
    body = rejected(world.a, model, {"colour": "red"})
    assert "colour" in body["message"]
    for key in (*F.MODELS[model].filters, *F.ENVELOPE_FILTERS):
        assert key in body["message"]


def test_field_that_is_not_a_filter_is_rejected(world):
    body = rejected(world.a, "job", {"description": "x"})
    assert "description" in body["message"] and "department" in body["message"]
    rejected(world.a, "candidate", {"data__name": "Anna"})
    # only models with their own status field have data__status
    body = rejected(world.a, "application", {"data__status": "active"})
    assert "data__status" in body["message"]


def test_owned_by_and_created_by(world):
    for model in ("job", "candidate", "application_note", "source"):
        pair = world.pair(model)
        for key in ("owned_by", "created_by"):
            got = ids(listing(world.a, model, {key: world.b.user_id}))
            assert pair["B"]["id"] in got and pair["A"]["id"] not in got
            both = ids(listing(world.a, model, {key: [world.a.user_id, world.b.user_id]}))
            assert {pair["A"]["id"], pair["B"]["id"]} <= set(both)


def test_status_filters_the_models_own_status(world):
    assert ab(world, "job", {"status": "open"}) == "A"
    assert ab(world, "job", {"data__status": "draft"}) == "B"
    assert listing(world.a, "job", {"status": "paused"})["total"] == 0
    assert ab(world, "interview", {"status": "completed"}) == "B"
    assert ab(world, "interview", {"status": "scheduled"}) == "A"
    assert ab(world, "interview", {"status": ["scheduled", "completed"]}) == "AB"
    # models without one filter on the envelope's status
    page = listing(world.a, "source", {"status": "active"})
    assert {world.src["A"]["id"], world.src["B"]["id"]} <= set(ids(page))
    assert all(item["status"] == "active" for item in page["items"])


def test_interviewer_id_matches_lead_or_panel(api, make_user):
    lead, panel1, panel2 = (make_user(f"i{i}@example.com", "interviewer") for i in range(3))
    application = api.application()
    only_lead = api.create("interview", application_id=application["id"], interviewer_id=lead)
    only_panel = api.create(
        "interview", application_id=application["id"], interviewer_ids=[panel1, lead]
    )
    other = api.create(
        "interview",
        application_id=application["id"],
        interviewer_id=panel2,
        interviewer_ids=[panel2],
    )
    nobody = api.create("interview", application_id=application["id"])

    def got(*users: str) -> set[str]:
        return set(ids(listing(api, "interview", {"interviewer_id": list(users)})))

    assert got(lead) == {only_lead["id"], only_panel["id"]}
    assert got(panel1) == {only_panel["id"]}
    assert got(panel2) == {other["id"]}
    assert got(panel1, panel2) == {only_panel["id"], other["id"]}
    assert set(ids(listing(api, "interview", {"data__interviewer_id": panel1}))) == {
        only_panel["id"]
    }
    assert nobody["id"] not in got(lead, panel1, panel2)
    # the panel is maintained on PATCH: panel1 leaves, panel2 joins
    r = api.patch(f"/data/interview/{only_panel['id']}", json={"interviewer_ids": [panel2]})
    assert r.status_code == 200
    assert got(panel1) == set()
    assert got(panel2) == {only_panel["id"], other["id"]}


@pytest.mark.parametrize(
    ("value", "who"),
    [
        ("anna@example.com", "A"),
        ("ANNA@EXAMPLE.COM", "A"),
        ("bert@example.com", "B"),
        ("Bert@Example.com", "B"),
        ("BERT@example.COM", "B"),
    ],
)
def test_candidate_email_filter_is_case_insensitive(world, value, who):
    assert ids(listing(world.a, "candidate", {"email": value})) == [world.cand[who]["id"]]
    assert ids(listing(world.a, "candidate", {"data__email": value})) == [world.cand[who]["id"]]


# --- archiving ---------------------------------------------------------------


def _make(api: Api, model: str) -> dict:
    if model == "company_profile":
        return api.create("company_profile", name="Acme")
    if model == "interview":
        return api.create("interview", application_id=api.application()["id"])
    if model == "application_note":
        return api.create(
            "application_note", parent_kind="job", parent_id=api.job()["id"], body="x"
        )
    if model == "source":
        return api.create("source", name=new_id("s"))
    return {"job": api.job, "candidate": api.candidate, "application": api.application}[model]()


@pytest.mark.parametrize("model", list(F.MODELS))
def test_archive_and_unarchive(api, model):
    obj = _make(api, model)
    mine = {"created_by": api.user_id}
    assert obj["id"] in ids(listing(api, model, mine))

    r = api.post(f"/data/{model}/{obj['id']}/archive")
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["id"] == obj["id"] and r.get_json()["is_archived"] is True
    assert obj["id"] not in ids(listing(api, model, {"limit": 200}))
    assert obj["id"] not in ids(listing(api, model, {"is_archived": "false", "limit": 200}))
    page = listing(api, model, {"is_archived": "true"})
    assert obj["id"] in ids(page) and all(i["is_archived"] for i in page["items"])
    got = api.get(f"/data/{model}/{obj['id']}")
    assert got.status_code == 200 and got.get_json()["is_archived"] is True

    r = api.post(f"/data/{model}/{obj['id']}/unarchive")
    assert r.status_code == 200 and r.get_json()["is_archived"] is False
    assert obj["id"] in ids(listing(api, model, {"limit": 200}))
    assert obj["id"] not in ids(listing(api, model, {"is_archived": "true"}))
    assert api.get(f"/data/{model}/{obj['id']}").get_json()["is_archived"] is False


def test_archived_objects_counted_only_when_asked(api):
    jobs = [api.job(title=f"J{i}") for i in range(3)]
    api.post(f"/data/job/{jobs[1]['id']}/archive")
    page = listing(api, "job")
    assert page["total"] == 2 and set(ids(page)) == {jobs[0]["id"], jobs[2]["id"]}
    page = listing(api, "job", {"is_archived": "true"})
    assert page["total"] == 1 and ids(page) == [jobs[1]["id"]]


def test_archive_unknown_id_is_404(api):
    assert api.post("/data/job/job_01JD0000000000000000000000/archive").status_code == 404
    assert api.post("/data/job/job_01JD0000000000000000000000/unarchive").status_code == 404


# --- sorting -----------------------------------------------------------------

SORT_CASES = [(model, key) for model, mdef in F.MODELS.items() for key in mdef.sorts]


@pytest.mark.parametrize(("model", "key"), SORT_CASES)
def test_sort_on_every_key(world, model, key):
    u, expected = world.scenario(model, key)
    mine = {"created_by": u.user_id, "limit": 50}
    assert ids(listing(u, model, {**mine, "sort": key})) == expected
    assert ids(listing(u, model, {**mine, "sort": f"-{key}"})) == expected[::-1]


@pytest.mark.parametrize(
    ("model", "key"),
    [
        ("application", "position"),
        ("interview", "scheduled_at"),
        ("source", "name"),
        ("job", "created_at"),
        ("candidate", "created_at"),
        ("application_note", "created_at"),
    ],
)
def test_default_sort(world, model, key):
    assert F.MODELS[model].default_sort == key
    u, expected = world.scenario(model, key)
    assert ids(listing(u, model, {"created_by": u.user_id})) == expected


def test_default_sort_ignores_creation_order(world):
    # the scenarios are made in an order that differs from the sort
    for model, key in (("application", "position"), ("interview", "scheduled_at")):
        u, expected = world.scenario(model, key)
        by_creation = ids(listing(u, model, {"created_by": u.user_id, "sort": "created_at"}))
        assert by_creation != expected


def test_sort_on_several_keys(world):
    u = world.user()
    rows = [
        ("Same", "2026-01-01"),
        ("Other", "2026-03-01"),
        ("Same", "2026-05-01"),
        ("Other", "2026-02-01"),
    ]
    jobs = [u.job(title=t, target_close_date=d)["id"] for t, d in rows]
    mine = {"created_by": u.user_id}
    got = ids(listing(u, "job", {**mine, "sort": "title,-target_close_date"}))
    assert got == [jobs[1], jobs[3], jobs[2], jobs[0]]
    got = ids(listing(u, "job", {**mine, "sort": "-title,target_close_date"}))
    assert got == [jobs[0], jobs[2], jobs[3], jobs[1]]
    got = ids(listing(u, "job", {**mine, "sort": "-target_close_date,title"}))
    assert got == [jobs[2], jobs[1], jobs[3], jobs[0]]


@pytest.mark.parametrize("model", list(F.MODELS))
@pytest.mark.parametrize("sort", ["nope", "-nope", "created_at,nope", "data__title"])
def test_unknown_sort_key(world, model, sort):
    body = rejected(world.a, model, {"sort": sort})
    assert sort.split(",")[-1].lstrip("-") in body["message"]
    for key in F.MODELS[model].sorts:
        assert key in body["message"]


def test_sort_on_a_filter_only_field_is_rejected(world):
    body = rejected(world.a, "job", {"sort": "department"})
    assert "department" in body["message"]


def test_ties_are_broken_by_id_in_the_sort_direction(world):
    u = world.user()
    same = [u.job(title="Same", target_close_date="2026-01-01")["id"] for _ in range(4)]
    last = u.job(title="Zed", target_close_date="2026-01-01")["id"]
    mine = {"created_by": u.user_id}
    assert ids(listing(u, "job", {**mine, "sort": "title"})) == sorted(same) + [last]
    assert ids(listing(u, "job", {**mine, "sort": "-title"})) == [last] + sorted(same)[::-1]
    # several keys: the tie-break follows the last key's direction
    everyone = sorted([*same, last])
    got = ids(listing(u, "job", {**mine, "sort": "-title,target_close_date"}))
    assert got == [last] + sorted(same)
    got = ids(listing(u, "job", {**mine, "sort": "title,-target_close_date"}))
    assert got == sorted(same)[::-1] + [last]
    got = ids(listing(u, "job", {**mine, "sort": "target_close_date"}))
    assert got == everyone
    got = ids(listing(u, "job", {**mine, "sort": "-target_close_date"}))
    assert got == everyone[::-1]


def test_ties_broken_by_id_on_applications(world):
    u = world.user()
    job = u.job()
    apps = [u.application(job, u.candidate(), fit_score=70, position=5)["id"] for _ in range(4)]
    mine = {"created_by": u.user_id}
    assert ids(listing(u, "application", {**mine, "sort": "fit_score"})) == sorted(apps)
    assert ids(listing(u, "application", {**mine, "sort": "-fit_score"})) == sorted(apps)[::-1]
    assert ids(listing(u, "application", mine)) == sorted(apps)  # default: position
    assert ids(listing(u, "application", {**mine, "sort": "-position"})) == sorted(apps)[::-1]


def test_paging_through_ties_is_stable(world):
    u = world.user()
    same = [u.candidate(name="Twin")["id"] for _ in range(7)]
    seen: list[str] = []
    for offset in range(0, 7, 3):
        params = {"created_by": u.user_id, "sort": "name", "limit": 3, "offset": offset}
        seen += ids(listing(u, "candidate", params))
    assert seen == sorted(same)


# --- totals and paging ---------------------------------------------------------


def _bulk_ids(world: World, sort: str = "created_at") -> list[str]:
    page = listing(world.a, "candidate", {"tags": "bulk", "sort": sort, "limit": 200})
    assert page["total"] == BULK and page["has_more"] is False
    return ids(page)


def test_total_counts_every_match(world):
    first = _bulk_ids(world)
    for params in (
        {"offset": 10, "limit": 5},
        {"offset": 24, "limit": 5},
        {"offset": 30},
        {"after": first[10], "limit": 5},
        {"after": first[-1]},
        {"after": first[10], "sort": "-created_at", "limit": 5},
    ):
        page = listing(world.a, "candidate", {"tags": "bulk", **params})
        assert page["total"] == BULK, params
    page = listing(world.a, "candidate", {"tags": "bulk", "after": first[10], "limit": 5})
    assert ids(page) == first[11:16]


def test_bulk_created_in_order(world):
    assert _bulk_ids(world) == [c["id"] for c in world.bulk]


@pytest.mark.parametrize("sort", ["created_at", "-created_at", "name", "-name", "updated_at"])
def test_offset_paging_walks_every_item_once(world, sort):
    everything = _bulk_ids(world, sort)
    seen: list[str] = []
    offset = 0
    while True:
        page = listing(
            world.a, "candidate", {"tags": "bulk", "sort": sort, "limit": 7, "offset": offset}
        )
        assert page["offset"] == offset and page["total"] == BULK
        seen += ids(page)
        if not page["has_more"]:
            break
        assert len(page["items"]) == 7
        offset += 7
    assert seen == everything
    assert len(set(seen)) == BULK


@pytest.mark.parametrize("sort", ["created_at", "-created_at", None])
def test_keyset_paging_walks_every_item_once(world, sort):
    everything = _bulk_ids(world, sort or "created_at")
    params: dict[str, Any] = {"tags": "bulk", "limit": 7}
    if sort:
        params["sort"] = sort
    seen: list[str] = []
    page = listing(world.a, "candidate", params)
    pages = 1
    while True:
        seen += ids(page)
        assert page["total"] == BULK
        if not page["has_more"]:
            assert page["next_after"] is None
            break
        assert page["next_after"] == page["items"][-1]["id"]
        page = listing(world.a, "candidate", {**params, "after": page["next_after"]})
        pages += 1
        assert pages < 10
    assert seen == everything
    assert len(set(seen)) == BULK
    assert pages == 4


def test_after_without_sort_implies_created_at(world):
    order = _bulk_ids(world)
    page = listing(world.a, "candidate", {"tags": "bulk", "after": order[4], "limit": 3})
    assert ids(page) == order[5:8]
    assert page["next_after"] == order[7]
    # a model whose default sort is not created_at: after still means created_at
    u, expected = world.scenario("source", "name")
    by_creation = ids(listing(u, "source", {"created_by": u.user_id, "sort": "created_at"}))
    assert by_creation != expected
    page = listing(u, "source", {"created_by": u.user_id, "after": by_creation[0]})
    assert ids(page) == by_creation[1:]


def test_after_descending(world):
    order = _bulk_ids(world, "-created_at")
    page = listing(
        world.a, "candidate", {"tags": "bulk", "sort": "-created_at", "after": order[2], "limit": 2}
    )
    assert ids(page) == order[3:5]


@pytest.mark.parametrize(
    "sort", ["name", "-name", "updated_at", "created_at,name", "name,created_at"]
)
def test_after_needs_a_created_at_sort(world, sort):
    first = world.bulk[0]["id"]
    body = rejected(world.a, "candidate", {"tags": "bulk", "sort": sort, "after": first})
    assert "after" in body["message"]


def test_after_with_sort_title_on_jobs(world):
    body = rejected(world.a, "job", {"sort": "title", "after": world.job["A"]["id"]})
    assert "after" in body["message"]


@pytest.mark.parametrize(
    "after",
    [
        "cand_01JD0000000000000000000000",
        "nonsense",
        "job_01JD0000000000000000000000",
    ],
)
def test_after_unknown_id(world, after):
    body = rejected(world.a, "candidate", {"after": after})
    assert "after" in body["message"]


def test_after_with_an_id_of_another_model(world):
    body = rejected(world.a, "candidate", {"after": world.job["A"]["id"]})
    assert "after" in body["message"]


@pytest.mark.parametrize("offset", ["0", "5"])
def test_after_with_offset(world, offset):
    first = world.bulk[0]["id"]
    body = rejected(world.a, "candidate", {"after": first, "offset": offset})
    assert "after" in body["message"] or "offset" in body["message"]


def test_next_after_null_at_the_end_and_for_other_sorts(world):
    page = listing(world.a, "candidate", {"tags": "bulk", "limit": BULK})
    assert page["has_more"] is False and page["next_after"] is None
    page = listing(world.a, "candidate", {"tags": "bulk", "limit": BULK - 1})
    assert page["has_more"] is True and page["next_after"] == page["items"][-1]["id"]
    page = listing(world.a, "candidate", {"tags": "bulk", "limit": 5, "sort": "name"})
    assert page["has_more"] is True and page["next_after"] is None
    page = listing(world.a, "candidate", {"tags": "bulk", "limit": 5, "sort": "-created_at,name"})
    assert page["has_more"] is True and page["next_after"] is None
    page = listing(world.a, "candidate", {"tags": "bulk", "limit": 5, "sort": "-created_at"})
    assert page["has_more"] is True and page["next_after"] == page["items"][-1]["id"]
    # applications default to position: no keyset
    u = world.user()
    job = u.job()
    for _ in range(3):
        u.application(job, u.candidate())
    page = listing(u, "application", {"created_by": u.user_id, "limit": 2})
    assert page["has_more"] is True and page["next_after"] is None


# --- the list total, reused while nothing changed (query.list_serialized) ------------


def test_the_reused_total_follows_every_write(app, api):
    """The count is kept per connection while the database is unchanged; any
    write, ours or another connection's (another process), makes it count again."""
    from sqlalchemy import create_engine, text

    job = api.job()
    apps = [api.application(job=job) for _ in range(3)]
    path = f"/data/application?job_id={job['id']}&limit=1"

    def total() -> int:
        response = api.get(path)
        assert response.status_code == 200, response.get_json()
        return response.get_json()["total"]

    assert total() == 3
    assert total() == 3  # the reused count
    assert api.post(f"/data/application/{apps[0]['id']}/archive").status_code == 200
    assert total() == 2  # our own write
    with app.app_context():
        url = db.engine.url.render_as_string(hide_password=False)
    other = create_engine(url)  # another connection, as another process would be
    try:
        with other.begin() as conn:
            conn.execute(
                text("UPDATE application SET is_archived = :yes WHERE id = :id"),
                {"yes": True, "id": apps[1]["id"]},
            )
    finally:
        other.dispose()
    assert total() == 1
    api.application(job=job)
    assert total() == 2
    assert api.get(path + "&is_archived=true").get_json()["total"] == 2
