"""xapi2 against its own OpenAPI document (issue 8): Schemathesis fuzzes every
operation with an admin token, in-process, and no answer may be a 5xx, have a
status, content type, body or header the document does not give, accept what the
document forbids or refuse what it allows (bar the rules in
``tests.fuzzing.BEYOND_SCHEMA``). And every status the document gives an
operation is real: a request per (operation, status), built from the document,
gets it.

The run is bounded (``MAX_EXAMPLES`` per operation, derandomized: the same
requests on every run); bench/fuzz.py is the long run."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from jsonschema import Draft202012Validator

from ats import create_app
from ats import fields as F
from ats.extensions import db
from ats.services import idempotency, search
from tests import fuzzing
from tests.conftest import Api

MAX_EXAMPLES = 5
# Coverage (Schemathesis' deterministic boundary values and mutations: some 5,000
# requests, ~20 s of CPU) is left to bench/fuzz.py; here examples, fuzzing and
# the stateful phase (links between operations: create, then read, change,
# delete what was made).
PHASES = ("examples", "fuzzing", "stateful")


@pytest.fixture
def admin(make_api) -> Api:
    return make_api()


@pytest.fixture
def world(admin: Api) -> fuzzing.World:
    return fuzzing.seed(admin.client, admin.token, admin.user_id)


@pytest.fixture
def hypothesis_home(tmp_path):
    """Hypothesis' own files (caches) in tmp_path, not in a .hypothesis/ of the checkout."""
    from hypothesis import configuration

    before = configuration.storage_directory(intent_to_write=False).home_directory
    configuration.set_hypothesis_home_dir(tmp_path / "hypothesis")
    yield
    configuration.set_hypothesis_home_dir(before)


def test_every_operation_answers_as_documented(
    app, admin: Api, world: fuzzing.World, hypothesis_home: None
) -> None:
    """Schemathesis' engine, every check, over every operation."""
    phases = {p: {"enabled": p in PHASES} for p in ("examples", "coverage", "fuzzing", "stateful")}
    config = fuzzing.config(admin.token, MAX_EXAMPLES, phases=phases)
    schema = schemathesis.openapi.from_wsgi(fuzzing.OPENAPI, app, config=config)
    fuzzing.use_real_ids(schema, world)
    report = fuzzing.run(schema)
    # every operation but the document's own (Schemathesis leaves its source out)
    operations = {f"{m} {p}" for m, p, _ in fuzzing.documented(schema.raw_schema)}
    assert set(report.statuses) == operations - {f"GET {fuzzing.OPENAPI}"}
    assert not report.errors, "\n\n".join(report.errors)
    assert not report.failures, "\n\n".join(map(str, report.failures[:20]))
    # the seeded rows were reached: some reads by id found their object
    assert any(report.statuses[f"GET /xapi2/data/{m}/{{id}}"][200] for m in world.ids)


# --- every documented status is real ---------------------------------------------------
#
# For each operation of the document and each status it lists, a request that gets
# it. The requests are written per kind of operation and status (not per
# endpoint): a status the document gives an operation with no recipe here, or
# whose recipe gets another answer, fails. The converse (no status outside the
# document) is the fuzzing's status_code_conformance.

KINDS = ("list", "read", "update", "archive", "unarchive", "create", "delete")
SMALL_LIMIT = 4096  # MAX_JSON_BYTES for these tests: a 413 needs no 8 MiB body


class Run:
    """The state the requests of one model share: its app, tokens and objects."""

    def __init__(self, app: Any, make_api: Callable[..., Api], admin: Api, world: fuzzing.World):
        self.app, self.make_api, self.admin, self.world = app, make_api, admin, world
        self.client = admin.client
        self.current = {m: ids[0] for m, ids in world.ids.items()}
        self.n = 0

    def request(self, method: str, path: str, token: str | None = "admin", **kw: Any) -> Any:
        headers = dict(kw.pop("headers", {}))
        if token == "admin":
            token = self.admin.token
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return self.client.open(path, method=method, headers=headers, **kw)

    def fresh(self, model: str) -> dict[str, Any]:
        """A body that creates an object now (a singleton's one is deleted first)."""
        self.n += 1
        w = self.world.ids
        if model == "company_profile":
            self.request("DELETE", f"/xapi2/data/{model}/{self.current[model]}?cascade=true")
            return {"name": f"Fresh {self.n}"}
        if model == "application":
            candidate = self.request("POST", "/xapi2/data/candidate", json={"name": "Fresh"})
            return {"job_id": w["job"][0], "candidate_id": candidate.get_json()["id"]}
        return {
            "job": {"title": f"Fresh {self.n}"},
            "candidate": {"name": f"Fresh {self.n}"},
            "source": {"name": f"Fresh {self.n}"},
            "interview": {"application_id": w["application"][0]},
            "application_note": {"parent_kind": "job", "parent_id": w["job"][0], "body": "x"},
        }[model]

    def create(self, model: str, body: dict[str, Any], **kw: Any) -> Any:
        r = self.request("POST", f"/xapi2/data/{model}", json=body, **kw)
        if r.status_code == 201:
            self.current[model] = r.get_json()["id"]
        return r


def _patchable(model: str, body: dict[str, Any]) -> dict[str, Any]:
    mdef = F.MODELS[model]
    return {k: v for k, v in body.items() if mdef[k].patch}


def outsider(r: Run, model: str) -> str:
    """A token without any scope on the model."""
    return r.make_api("job:read" if model == "source" else "source:read").token


def nowhere(model: str) -> str:
    """The path of an object that does not exist."""
    return f"/xapi2/data/{model}/{F.MODELS[model].prefix}_{'0' * 26}"


def _recipes() -> dict[tuple[str, int], Callable[[Run, str, str], Any]]:
    """(kind, status) -> a request (run, model) that gets that status."""
    big = {"title": "x" * SMALL_LIMIT}
    key = idempotency.HEADER

    def bad_key() -> dict[str, str]:
        return {key: "k" * (idempotency.KEY_MAX_LENGTH + 1)}

    def reused_key(r: Run, first: Callable[[dict], Any], second: Callable[[dict], Any]) -> Any:
        r.n += 1
        headers = {key: f"reused-{r.n}"}
        assert first(headers).status_code < 300
        return second(headers)

    def collection(model: str) -> str:
        return f"/xapi2/data/{model}"

    def item(r: Run, model: str) -> str:
        return f"/xapi2/data/{model}/{r.current[model]}"

    def action(kind: str) -> dict[int, Callable[[Run, str], Any]]:
        """archive and unarchive: one table for both."""
        path = lambda r, m: f"{item(r, m)}/{kind}"  # noqa: E731
        other = "unarchive" if kind == "archive" else "archive"
        return {
            200: lambda r, m: r.request("POST", path(r, m)),
            400: lambda r, m: r.request("POST", path(r, m), headers=bad_key()),
            401: lambda r, m: r.request("POST", path(r, m), token=None),
            403: lambda r, m: r.request("POST", path(r, m), token=outsider(r, m)),
            404: lambda r, m: r.request("POST", nowhere(m) + f"/{kind}"),
            413: lambda r, m: r.request("POST", path(r, m), json=big, headers={key: f"big-{r.n}"}),
            422: lambda r, m: reused_key(
                r,
                lambda h: r.request("POST", path(r, m), headers=h),
                lambda h: r.request("POST", f"{item(r, m)}/{other}", headers=h),
            ),
        }

    table: dict[str, dict[int, Callable[[Run, str], Any]]] = {
        "list": {
            200: lambda r, m: r.request("GET", collection(m)),
            400: lambda r, m: r.request("GET", collection(m) + "?limit=0"),
            401: lambda r, m: r.request("GET", collection(m), token=None),
            403: lambda r, m: r.request("GET", collection(m), token=outsider(r, m)),
        },
        "read": {
            200: lambda r, m: r.request("GET", item(r, m)),
            401: lambda r, m: r.request("GET", item(r, m), token=None),
            403: lambda r, m: r.request("GET", item(r, m), token=outsider(r, m)),
            404: lambda r, m: r.request("GET", nowhere(m)),
        },
        "update": {
            200: lambda r, m: r.request("PATCH", item(r, m), json={}),
            400: lambda r, m: r.request("PATCH", item(r, m), json=[]),
            401: lambda r, m: r.request("PATCH", item(r, m), json={}, token=None),
            403: lambda r, m: r.request("PATCH", item(r, m), json={}, token=outsider(r, m)),
            404: lambda r, m: r.request("PATCH", nowhere(m), json={}),
            # a second object takes the first one's unique values
            409: lambda r, m: r.request(
                "PATCH",
                f"{collection(m)}/{r.create(m, r.fresh(m)).get_json()['id']}",
                json=_patchable(m, r.world.bodies[m]),
            ),
            413: lambda r, m: r.request("PATCH", item(r, m), json=big),
            415: lambda r, m: r.request("PATCH", item(r, m), data="{}", content_type="text/plain"),
        },
        "archive": action("archive"),
        "unarchive": action("unarchive"),
        "create": {
            201: lambda r, m: r.create(m, r.fresh(m)),
            400: lambda r, m: r.request("POST", collection(m), json=[]),
            401: lambda r, m: r.request("POST", collection(m), json={}, token=None),
            403: lambda r, m: r.request("POST", collection(m), json={}, token=outsider(r, m)),
            409: lambda r, m: r.request("POST", collection(m), json=r.world.bodies[m]),
            413: lambda r, m: r.request("POST", collection(m), json=big),
            415: lambda r, m: r.request(
                "POST", collection(m), data="{}", content_type="text/plain"
            ),
            422: lambda r, m: reused_key(
                r,
                lambda h: r.create(m, r.fresh(m), headers=h),
                lambda h: r.request("POST", collection(m), json={**r.fresh(m), "x": 1}, headers=h),
            ),
        },
        "delete": {
            204: lambda r, m: r.request("DELETE", item(r, m) + "?cascade=true"),
            400: lambda r, m: r.request("DELETE", item(r, m) + "?cascade=maybe"),
            401: lambda r, m: r.request("DELETE", item(r, m), token=None),
            403: lambda r, m: r.request("DELETE", item(r, m), token=outsider(r, m)),
            404: lambda r, m: r.request("DELETE", nowhere(m)),
            # the seeded object: others point at it
            409: lambda r, m: r.request("DELETE", f"{collection(m)}/{r.world.ids[m][0]}"),
        },
    }
    return {
        (kind, status): fn for kind, by_status in table.items() for status, fn in by_status.items()
    }


RECIPES = _recipes()


def kind_of(method: str, path: str) -> tuple[str, str] | None:
    """(kind, model) of a data operation, from its method and path."""
    model = fuzzing.model_of(path)
    if model is None:
        return None
    if path.endswith("/archive") or path.endswith("/unarchive"):
        return path.rsplit("/", 1)[1], model
    if path.endswith("{id}"):
        return {"GET": "read", "PATCH": "update", "DELETE": "delete"}[method], model
    return {"GET": "list", "POST": "create"}[method], model


def operations_of(doc: dict[str, Any], model: str) -> list[tuple[str, str, dict[str, Any]]]:
    ops = [op for op in fuzzing.documented(doc) if fuzzing.model_of(op[1]) == model]
    return sorted(ops, key=lambda op: KINDS.index(kind_of(op[0], op[1])[0]))


def check_answer(doc: dict[str, Any], op: dict[str, Any], status: int, r: Any) -> None:
    """The answer is the documented one: status, content type, body, required headers."""
    documented = op["responses"][str(status)]
    assert r.status_code == status, r.get_data(as_text=True)[:500]
    for name, header in documented.get("headers", {}).items():
        if header.get("required"):
            assert name in r.headers, name
    content = documented.get("content")
    if content is None:
        assert not r.get_data()
        return
    assert r.mimetype in content, r.mimetype
    schema = {**content[r.mimetype]["schema"], "components": doc["components"]}
    errors = list(Draft202012Validator(schema).iter_errors(r.get_json()))
    assert not errors, [e.message[:300] for e in errors]


@pytest.mark.parametrize("model", list(F.MODELS))
def test_every_documented_status_is_real(app, make_api, admin: Api, world, model: str) -> None:
    app.config["MAX_JSON_BYTES"] = SMALL_LIMIT
    doc = admin.client.get(fuzzing.OPENAPI).get_json()
    run = Run(app, make_api, admin, world)
    for method, path, op in operations_of(doc, model):
        kind, _ = kind_of(method, path)
        # errors first, the success last: a delete's 409 needs the object it removes
        for status in sorted(map(int, op["responses"]), key=lambda s: (s < 300, s)):
            if status == 429:
                continue  # test_every_operation_can_be_rate_limited
            recipe = RECIPES.get((kind, status))
            assert recipe is not None, f"{method} {path}: no way known to get {status}"
            check_answer(doc, op, status, recipe(run, model))


PUBLIC = {
    ("/xapi2/schema", 200): "/xapi2/schema",
    ("/xapi2/schema/{model}", 200): "/xapi2/schema/job",
    ("/xapi2/schema/{model}", 404): "/xapi2/schema/nope",
    ("/xapi2/openapi.json", 200): "/xapi2/openapi.json",
}


def test_every_documented_status_of_the_public_operations_is_real(client) -> None:
    doc = client.get(fuzzing.OPENAPI).get_json()
    for method, path, op in fuzzing.documented(doc):
        if fuzzing.model_of(path):
            continue
        assert op["security"] == [], path
        for status in map(int, op["responses"]):
            if status == 429:
                continue  # test_every_operation_can_be_rate_limited
            assert (path, status) in PUBLIC, f"{method} {path}: no way known to get {status}"
            check_answer(doc, op, status, client.get(PUBLIC[(path, status)]))


def _sample_path(path: str, world: fuzzing.World) -> str:
    model = fuzzing.model_of(path)
    return path.replace("{id}", world.ids[model][0] if model else "").replace("{model}", "job")


def test_every_operation_can_be_rate_limited(app, admin: Api, world: fuzzing.World) -> None:
    """With ATS_API_RATE_LIMIT at 1 a minute, the token's second request, whatever
    the operation, is the documented 429 with Retry-After; the first one carries
    the documented X-RateLimit-* headers."""
    limited = create_app(
        {
            **{k: app.config[k] for k in ("SQLALCHEMY_DATABASE_URI", "SECRET_KEY", "DATA_DIR")},
            "TESTING": True,
            "API_RATE_LIMIT": "1 per minute",
            "RATELIMIT_STORAGE_URI": "memory://",
        }
    )
    client = limited.test_client()
    doc = admin.client.get(fuzzing.OPENAPI).get_json()  # from the app without a limit
    auth = {"Authorization": f"Bearer {admin.token}"}
    first = client.get("/xapi2/data/job", headers=auth)
    list_job = doc["paths"]["/xapi2/data/job"]["get"]
    check_answer(doc, list_job, 200, first)
    for name in fuzzing.RATE_LIMIT_HEADERS:
        assert name in first.headers, name
    assert first.headers["X-RateLimit-Remaining"] == "0"
    try:
        for method, path, op in fuzzing.documented(doc):
            assert "429" in op["responses"], (method, path)
            r = client.open(_sample_path(path, world), method=method, headers=auth, json={})
            check_answer(doc, op, 429, r)
            assert r.get_json()["error"] == "rate_limited"
            assert int(r.headers["Retry-After"]) <= 60
    finally:
        with limited.app_context():
            db.engine.dispose()


@pytest.mark.parametrize("model", list(F.MODELS))
def test_text_no_database_holds_is_a_4xx(api: Api, model: str) -> None:
    """A NUL in an id or a cursor: 404 / 400 like any unknown one, never the 500 of a
    database that cannot compare such text (PostgreSQL; found by bench/fuzz.py)."""
    mdef = F.MODELS[model]
    nul = f"/xapi2/data/{model}/{mdef.prefix}_%00"
    for method, path in [
        ("GET", nul),
        ("PATCH", nul),
        ("DELETE", nul),
        ("POST", nul + "/archive"),
        ("POST", nul + "/unarchive"),
    ]:
        r = api.client.open(path, method=method, headers=api.headers(), json={})
        assert r.status_code == 404, (method, path, r.status_code)
    queries = ["after=%00", f"after={mdef.prefix}_%00&sort=-created_at"]
    if model in search.MODELS:
        queries.append("after=%00&q=x")  # the full-text search's path
    for query in queries:
        r = api.get(f"/data/{model}?{query}")
        assert r.status_code == 400, (query, r.status_code)
        assert r.get_json()["fields"] == {"after": "must not contain NUL characters"}
