"""Full-text search (ats.services.search, docs/api.md "Search"): ``?q=`` on the
xapi2 lists of job, candidate, application and application_note and the
recruiters' search boxes find by words, prefixes, phrases and without accents,
in CVs and by the candidate's name; the index follows every insert, update and
delete (triggers), never shows what a user may not list, and no query text
makes a 500. Runs on SQLite and, with ``--db=postgres``, on PostgreSQL."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from sqlalchemy import inspect, text, update

from ats.errors import BadRequest
from ats.extensions import db
from ats.models import Application
from ats.services import search
from ats.services.retention import SYSTEM, erase_candidate

HX = {"HX-Request": "true"}


def titles(api, model: str, q: str, **params) -> list[str]:
    r = api.get(f"/data/{model}", query_string={"q": q, **params})
    assert r.status_code == 200, r.get_json()
    key = {"job": "title", "candidate": "name", "application_note": "body"}[model]
    return [item["data"][key] for item in r.get_json()["items"]]


def ids(api, model: str, q: str, **params) -> list[str]:
    r = api.get(f"/data/{model}", query_string={"q": q, **params})
    assert r.status_code == 200, r.get_json()
    return [item["id"] for item in r.get_json()["items"]]


def set_cv_text(app, application_id: str, cv_text: str | None) -> None:
    """As the scoring worker does: a Core UPDATE, no ORM flush."""
    with app.app_context():
        db.session.execute(
            update(Application).where(Application.id == application_id).values(cv_text=cv_text)
        )
        db.session.commit()


def index_rows(app, model: str) -> int:
    with app.app_context():
        return db.session.scalar(text(f"SELECT count(*) FROM {model}_fts"))


# --- the query language ------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "fts5", "tsquery"),
    [
        ("backend eng", '"backend"* AND "eng"*', "('backend':*) & ('eng':*)"),
        ('"Backend Engineer"', '"backend engineer"', "('backend' <-> 'engineer')"),
        ("node.js", '"node js"*', "('node' <-> 'js':*)"),
        ("python -java", '("python"*) NOT ("java"*)', "('python':*) & !('java':*)"),
        ('a NEAR(b) "c', '"a"* AND "near b"* AND "c"', "('a':*) & ('near' <-> 'b':*) & ('c')"),
        ("x:y OR z*", '"x y"* AND "or"* AND "z"*', "('x' <-> 'y':*) & ('or':*) & ('z':*)"),
    ],
)
def test_user_text_becomes_quoted_terms(raw, fts5, tsquery):
    query = search.parse(raw)
    assert search.fts5_expression(query) == fts5
    assert search.tsquery_text(query) == tsquery


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("x" * 257, "at most 256 characters"),
        ("a\x00b", "NUL"),
        ('* : ( ) - "" \'', "nothing to search for"),
        ("-python", "not excluded"),
        (" ".join(f"w{i}" for i in range(17)), "at most 16"),
    ],
)
def test_text_that_cannot_be_a_search_is_refused(raw, message):
    with pytest.raises(BadRequest) as info:
        search.parse(raw)
    assert message in info.value.fields["q"]


def test_blank_text_is_no_search():
    assert search.parse("   ") is None


# --- finding ------------------------------------------------------------------------


@pytest.fixture
def jobs(api):
    return {
        "backend": api.job(
            title="Backend Engineer",
            department="Engineering",
            description="Python services on PostgreSQL in Zürich.",
            tags=["python"],
        ),
        "frontend": api.job(
            title="Frontend-Entwickler:in",
            location="München",
            requirements="React, TypeScript; engineering mindset",
        ),
        "sales": api.job(title="Sales Lead", summary="Grow the DACH region"),
    }


@pytest.mark.parametrize(
    ("q", "found"),
    [
        ("backend", ["Backend Engineer"]),
        ("eng", ["Backend Engineer", "Frontend-Entwickler:in"]),  # prefix, in any field
        ("backend python", ["Backend Engineer"]),  # every word
        ("backend react", []),
        ('"backend engineer"', ["Backend Engineer"]),  # phrase
        ('"engineer backend"', []),
        ('"engin"', []),  # a phrase is exact
        ("zurich", ["Backend Engineer"]),  # accents folded, both ways
        ("MÜNCHEN", ["Frontend-Entwickler:in"]),
        ("munchen", ["Frontend-Entwickler:in"]),
        ("entwickler", ["Frontend-Entwickler:in"]),  # hyphenated words split
        ("frontend-entwickler", ["Frontend-Entwickler:in"]),
        ("eng -react", ["Backend Engineer"]),  # excluded
        ("dach", ["Sales Lead"]),
        ("python", ["Backend Engineer"]),  # tags
    ],
)
def test_jobs_by_words_prefixes_phrases_and_accents(api, jobs, q, found):
    assert sorted(titles(api, "job", q)) == sorted(found)


def test_best_match_first_then_sort_and_paging(api):
    weak = api.job(title="Office Manager", benefits="kubernetes lessons")
    strong = api.job(title="Kubernetes Engineer")
    middle = api.job(title="SRE", department="Kubernetes")
    assert ids(api, "job", "kubernetes") == [strong["id"], middle["id"], weak["id"]]
    # an explicit sort wins; ties by id
    assert ids(api, "job", "kubernetes", sort="created_at") == [
        weak["id"],
        strong["id"],
        middle["id"],
    ]
    page = api.get("/data/job?q=kubernetes&limit=2").get_json()
    assert page["total"] == 3 and page["has_more"] and page["next_after"] is None
    rest = api.get("/data/job?q=kubernetes&limit=2&offset=2").get_json()
    assert [i["id"] for i in rest["items"]] == [weak["id"]]
    # after means creation order, as without q
    keyset = api.get(f"/data/job?q=kubernetes&after={weak['id']}").get_json()
    assert [i["id"] for i in keyset["items"]] == [strong["id"], middle["id"]]
    # filters still apply
    assert ids(api, "job", "kubernetes", department="Kubernetes") == [middle["id"]]


def test_applications_by_cv_text_and_by_candidate(app, api):
    job = api.job(title="Data Engineer")
    ada = api.candidate(name="Ada Lovelace", email="ada@analytical.example")
    grace = api.candidate(name="Grace Hopper")
    a = api.application(job, ada)
    g = api.application(job, grace, cover_letter="I wrote the first compiler.")
    set_cv_text(app, a["id"], "Ten years of Python and Kubernetes at Analytical Engines Ltd.")
    assert ids(api, "application", "kubernetes") == [a["id"]]
    assert ids(api, "application", "lovelace") == [a["id"]]
    assert ids(api, "application", "ada python") == [a["id"]]  # name and CV together
    assert ids(api, "application", "analytical.example") == [a["id"]]
    assert ids(api, "application", "compiler") == [g["id"]]
    # the candidate renamed: their applications follow
    api.patch(f"/data/candidate/{ada['id']}", json={"name": "Augusta King"})
    assert ids(api, "application", "augusta") == [a["id"]]
    assert ids(api, "application", "lovelace") == []
    # the CV replaced
    set_cv_text(app, a["id"], "Rust and Go")
    assert ids(api, "application", "kubernetes") == []
    assert ids(api, "application", "rust") == [a["id"]]
    set_cv_text(app, a["id"], None)
    assert ids(api, "application", "rust") == []


def test_candidates_by_name_email_phone_and_tag(api):
    ada = api.candidate(name="Ada Lovelace", email="ada@analytical.example", tags=["python"])
    api.candidate(name="Grace Hopper", email="grace@navy.example", phone="+1 555 0100")
    assert titles(api, "candidate", "lovelace") == ["Ada Lovelace"]
    assert titles(api, "candidate", "GRACE@NAVY") == ["Grace Hopper"]
    assert titles(api, "candidate", "555") == ["Grace Hopper"]
    assert titles(api, "candidate", "pyth") == ["Ada Lovelace"]
    api.patch(f"/data/candidate/{ada['id']}", json={"tags": ["rust"]})
    assert titles(api, "candidate", "python") == []
    assert titles(api, "candidate", "rust") == ["Ada Lovelace"]


def test_private_notes_stay_private(api, make_api):
    job = api.job()
    mine = api.create("application_note", parent_kind="job", parent_id=job["id"],
                      body="Salary band **confirmed**", private=True)  # fmt: skip
    api.create("application_note", parent_kind="job", parent_id=job["id"], body="Salary public")
    other = make_api()  # an admin too: private notes are their author's only
    assert titles(other, "application_note", "salary") == ["Salary public"]
    assert other.get("/data/application_note?q=confirmed").get_json()["total"] == 0
    assert ids(api, "application_note", "salary confirmed") == [mine["id"]]


def test_update_and_delete_keep_the_index_in_step(app, api):
    job = api.job(title="Haskell Wizard")
    assert titles(api, "job", "haskell") == ["Haskell Wizard"]
    api.patch(f"/data/job/{job['id']}", json={"title": "Scala Wizard"})
    assert titles(api, "job", "haskell") == []
    assert titles(api, "job", "scala") == ["Scala Wizard"]
    before = index_rows(app, "job")
    assert api.delete(f"/data/job/{job['id']}").status_code == 204
    assert titles(api, "job", "scala") == []
    assert index_rows(app, "job") == before - 1


def test_archived_objects_only_with_is_archived(api):
    job = api.job(title="Archived Astronaut")
    api.post(f"/data/job/{job['id']}/archive")
    assert titles(api, "job", "astronaut") == []
    assert titles(api, "job", "astronaut", is_archived="true") == ["Archived Astronaut"]


def test_erased_candidates_leave_nothing_in_the_index(app, api):
    job = api.job(title="Typesetter")
    knuth = api.candidate(name="Donald Knuth", email="knuth@example.org")
    a = api.application(job, knuth, cover_letter="TeX and METAFONT")
    set_cv_text(app, a["id"], "The Art of Computer Programming")
    api.create("application_note", parent_kind="application", parent_id=a["id"], body="Knuth note")
    rows = {m: index_rows(app, m) for m in ("candidate", "application", "application_note")}
    with app.app_context():
        erase_candidate(knuth["id"], SYSTEM)
    for model, count in rows.items():
        assert index_rows(app, model) == count - 1, model
    for model in ("candidate", "application", "application_note"):
        assert api.get(f"/data/{model}?q=knuth").get_json()["total"] == 0
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            assert db.session.scalar(text("SELECT count(*) FROM search_key")) == index_rows(
                app, "job"
            )


# --- the API's q --------------------------------------------------------------------

HOSTILE = [
    '"',
    '""',
    '"unclosed phrase',
    "*",
    "a*",
    "*a",
    "NEAR",
    "NEAR(a b, 2)",
    "a NEAR b",
    "-",
    "--a",
    "a -",
    "-a -b",
    ":",
    "title:backend",
    "{title}: x",
    "(",
    ")",
    "((a) OR b",
    "a AND OR NOT b",
    "^a",
    "a + b",
    "'; DROP TABLE job; --",
    "\\",
    "%_%",
    "!a & b | c <-> d",
    "a:*",
    "x" * 256,
    "x" * 1000,
    "a\x00b",
    "\x00",
    "ß ǅ ﬁ ①",
    "🙂",
    " ",
]


@pytest.mark.parametrize("q", HOSTILE)
@pytest.mark.parametrize("model", search.MODELS)
def test_hostile_queries_answer_or_400_never_500(api, model, q):
    r = api.get(f"/data/{model}", query_string={"q": q})
    assert r.status_code in (200, 400), (q, r.status_code)
    body = r.get_json()
    if r.status_code == 400:
        assert body["error"] == "bad_request" and "q" in body["fields"], body


def test_q_is_refused_where_there_is_no_full_text_search(api):
    for model in ("source", "interview", "company_profile"):
        r = api.get(f"/data/{model}?q=x")
        assert r.status_code == 400
        assert "job, candidate, application, application_note" in r.get_json()["fields"]["q"]
    r = api.get("/data/job?q=a&q=b")
    assert r.status_code == 400 and r.get_json()["fields"]["q"] == "give q once"


def test_blank_q_lists_everything(api, jobs):
    assert api.get("/data/job?q=").get_json()["total"] == 3
    assert api.get("/data/job?q=%20%20").get_json()["total"] == 3


def test_interviewers_find_only_what_they_see(api, make_api):
    interviewer = make_api(role="interviewer")
    mine = api.job(title="Rocket Scientist", hiring_manager_id=interviewer.user_id)
    api.job(title="Rocket Mechanic")
    assert ids(interviewer, "job", "rocket") == [mine["id"]]
    assert interviewer.get("/data/job?q=rocket").get_json()["total"] == 1


def test_openapi_documents_q_where_it_works(client):
    doc = client.get("/xapi2/openapi.json").get_json()
    for model in ("job", "candidate", "application", "application_note", "source", "interview"):
        params = {p["name"]: p for p in doc["paths"][f"/xapi2/data/{model}"]["get"]["parameters"]}
        assert ("q" in params) == (model in search.MODELS), model
        if "q" in params:
            assert params["q"]["schema"]["maxLength"] == search.MAX_LENGTH


# --- the pages ----------------------------------------------------------------------


def test_job_search_box(login, jobs):
    client = login("recruiter")
    r = client.get("/jobs?q=zurich", headers=HX)
    html = r.get_data(as_text=True)
    assert "Backend Engineer" in html and "Sales Lead" not in html
    r = client.get("/jobs", query_string={"q": "x" * 1000})
    assert r.status_code == 200 and "at most 256 characters" in r.get_data(as_text=True)
    assert client.get("/jobs", query_string={"q": '"(NEAR'}).status_code == 200


def test_candidate_search_box_best_match_first(login, api):
    api.candidate(name="Lovelace Fan", tags=["ada"])
    api.candidate(name="Ada Lovelace")
    client = login("recruiter")
    html = client.get("/candidates?q=ada").get_data(as_text=True)
    assert html.index("Ada Lovelace") < html.index("Lovelace Fan")
    assert 'value="relevance" selected' in html
    html = client.get("/candidates?q=ada&sort=name").get_data(as_text=True)
    assert html.index("Ada Lovelace") < html.index("Lovelace Fan")
    r = client.get("/candidates", query_string={"q": "-ada"})
    assert r.status_code == 200 and "not excluded" in r.get_data(as_text=True)


def test_candidate_search_box_looks_into_cvs(app, login, api):
    ada = api.candidate(name="Ada Lovelace")
    api.candidate(name="Grace Hopper")
    application = api.application(api.job(), ada)
    set_cv_text(app, application["id"], "Kubernetes operator, Bernoulli numbers")
    html = login("recruiter").get("/candidates?q=bernoulli", headers=HX).get_data(as_text=True)
    assert "Ada Lovelace" in html and "Grace Hopper" not in html


# --- the schema ---------------------------------------------------------------------


def test_migration_indexes_what_search_says(app):
    path = Path(__file__).parent.parent / "ats/migrations/versions/0006_full_text_search.py"
    spec = importlib.util.spec_from_file_location("migration_0006", path)
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    assert migration.DOCUMENTS == search.DOCUMENTS, "DOCUMENTS changed: write a migration"
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            for model, columns in search.DOCUMENTS.items():
                indexed = [c["name"] for c in inspect(db.engine).get_columns(f"{model}_fts")]
                assert indexed == [name for name, _ in columns], model


def test_every_indexed_table_keeps_its_triggers_at_head(app):
    """A later migration that recreates a table (SQLite batch mode) drops its
    triggers silently: the index would stop following it."""
    with app.app_context():
        sqlite = db.engine.dialect.name == "sqlite"
        if sqlite:
            sql = "SELECT tbl_name, name FROM sqlite_master WHERE type = 'trigger'"
        else:
            sql = (
                "SELECT c.relname, t.tgname FROM pg_trigger t "
                "JOIN pg_class c ON c.oid = t.tgrelid WHERE NOT t.tgisinternal"
            )
        triggers = set(map(tuple, db.session.execute(text(sql))))
    for model in search.MODELS:
        assert (model, f"{model}_fts_insert") in triggers, model
        assert (model, f"{model}_fts_update") in triggers, model
        if sqlite:  # PostgreSQL: ON DELETE CASCADE
            assert (model, f"{model}_fts_delete") in triggers, model
    assert ("candidate", "application_fts_candidate") in triggers


def test_candidates_by_their_applications_as_far_as_one_may_see(app, api, make_api):
    interviewer = make_api(role="interviewer")
    theirs = api.job(title="Theirs", hiring_manager_id=interviewer.user_id)
    other = api.job(title="Other")
    ada = api.candidate(name="Ada Lovelace")
    api.candidate(name="Grace Hopper")
    a = api.application(theirs, ada)
    b = api.application(other, ada)
    set_cv_text(app, a["id"], "Analytical engine programmes")
    set_cv_text(app, b["id"], "Secretword in the CV for the other job")
    assert titles(api, "candidate", "analytical") == ["Ada Lovelace"]
    assert titles(api, "candidate", "secretword") == ["Ada Lovelace"]
    assert titles(api, "candidate", "lovelace analytical") == ["Ada Lovelace"]
    assert titles(interviewer, "candidate", "analytical") == ["Ada Lovelace"]
    assert titles(interviewer, "candidate", "secretword") == []
    assert titles(interviewer, "candidate", "lovelace") == ["Ada Lovelace"]
