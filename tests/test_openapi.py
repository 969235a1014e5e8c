"""``/xapi2/openapi.json`` and ``/xapi2/schema`` (spec section 1, docs/api.md):
a valid OpenAPI 3.1 document generated from ``ats.fields`` that agrees with
the field tables of the spec and with what the API really answers."""

from __future__ import annotations

import re
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from ats import fields as F
from ats import validation
from tests.fuzzing import RATE_LIMIT_HEADERS

MODELS = (
    "job",
    "application",
    "interview",
    "application_note",
    "company_profile",
    "candidate",
    "source",
)
TITLES = {
    "job": "Job",
    "application": "Application",
    "interview": "Interview",
    "application_note": "ApplicationNote",
    "company_profile": "CompanyProfile",
    "candidate": "Candidate",
    "source": "Source",
}

# --- the spec's field tables (section 6), written out independently of ats.fields ---

SPEC_FIELDS = {
    "job": (
        "title slug status public department location country remote employment_type "
        "seniority headcount summary description responsibilities requirements nice_to_have "
        "benefits salary_min salary_max currency salary_visibility language color tags team_ids "
        "hiring_manager_id target_close_date external_apply_url ai_screen_enabled "
        "ai_screen_prompt knockout_questions screening_questions opened_at closed_at"
    ),
    "application": (
        "job_id candidate_id stage position source_id source_label applied_at cover_letter "
        "cv_url cv_blob_id answers tags rejected_reason rejected_note fit_score fit_flags "
        "fit_reasoning fit_computed_at previous_stage last_stage_at"
    ),
    "interview": (
        "application_id candidate_id job_id kind title scheduled_at duration_minutes "
        "interviewer_id interviewer_ids location meeting_url agenda notes status send_invite"
    ),
    "application_note": "parent_kind parent_id body pinned private",
    "company_profile": (
        "name display_name size industry summary website main_location logo_url banner_url "
        "accent_color imprint_url privacy_url show_about show_other_jobs "
        "public_careers_enabled retention_unit retention_value"
    ),
    "candidate": "name email phone location linkedin_url tags consent_talent_pool",
    "source": "name kind",
}
SPEC_FIELDS = {m: tuple(v.split()) for m, v in SPEC_FIELDS.items()}
SPEC_REQUIRED = {
    "job": {"title"},
    "application": {"job_id", "candidate_id"},
    "interview": {"application_id"},
    "application_note": {"parent_kind", "parent_id", "body"},
    "company_profile": {"name"},
    "candidate": {"name"},
    "source": {"name"},
}
SPEC_SERVER_MANAGED = {
    "job": {"opened_at", "closed_at"},
    "application": {"previous_stage", "last_stage_at"},
}
SPEC_CREATE_ONLY = {
    "application": {"job_id", "candidate_id", "applied_at", "cover_letter", "answers"},
    "interview": {"application_id", "candidate_id", "job_id"},
    "application_note": {"parent_kind", "parent_id"},
}
SPEC_ENUMS = {
    ("job", "status"): ("draft", "open", "paused", "closed", "filled"),
    ("job", "remote"): ("onsite", "hybrid", "remote"),
    ("job", "employment_type"): (
        "full_time",
        "part_time",
        "internship",
        "working_student",
        "freelance",
        "contract",
    ),
    ("job", "seniority"): ("junior", "mid", "senior", "lead", "principal"),
    ("job", "salary_visibility"): ("public", "team", "private"),
    ("application", "stage"): (
        "new",
        "review",
        "screening",
        "interview",
        "offer",
        "hired",
        "rejected",
        "talent_pool",
    ),
    ("application", "rejected_reason"): (
        "not_qualified",
        "salary_mismatch",
        "location_mismatch",
        "culture_mismatch",
        "withdrew",
        "ghosted",
        "filled_internally",
        "duplicate",
        "other",
    ),
    ("interview", "kind"): ("phone", "video", "onsite", "take_home"),
    ("interview", "status"): ("scheduled", "completed", "no_show", "cancelled", "rescheduled"),
    ("application_note", "parent_kind"): ("candidate", "application", "job"),
    ("company_profile", "size"): ("1-10", "11-50", "51-200", "201-500", "500+"),
    ("company_profile", "retention_unit"): ("weeks", "months", "years"),
    ("source", "kind"): ("careers_page", "job_board", "referral", "agency", "sourcing", "other"),
}
SPEC_FILTERS = {
    "job": (
        "title department location employment_type seniority remote status public "
        "hiring_manager_id tags"
    ).split(),
    "application": "job_id candidate_id stage source_id rejected_reason".split(),
    "interview": "application_id candidate_id job_id kind status interviewer_id".split(),
    "application_note": "parent_id parent_kind pinned private".split(),
    "company_profile": [],
    "candidate": "email tags".split(),
    "source": "name kind".split(),
}
SYSTEM_FILTERS = ("status", "is_archived", "owned_by", "created_by")
SPEC_SORTS = {
    "job": ("created_at", "updated_at", "title", "opened_at", "target_close_date"),
    "application": (
        "created_at",
        "updated_at",
        "applied_at",
        "fit_score",
        "position",
        "last_stage_at",
    ),
    "interview": ("scheduled_at", "created_at", "updated_at"),
    "application_note": ("created_at", "updated_at"),
    "company_profile": ("created_at", "updated_at"),
    "candidate": ("created_at", "updated_at", "name"),
    "source": ("name", "created_at", "updated_at"),
}
SPEC_MAX_PAGE = {
    "job": 200,
    "application": 500,
    "interview": 200,
    "application_note": 200,
    "company_profile": 5,
    "candidate": 200,
    "source": 200,
}
SPEC_DEFAULT_SORT = {
    "job": "created_at",
    "application": "position",
    "interview": "scheduled_at",
    "application_note": "created_at",
    "candidate": "created_at",
    "source": "name",
}

# which models can answer 409 on create / update / delete (spec section 4)
CONFLICT_ON_CREATE = {"job", "application", "company_profile", "candidate", "source"}
CONFLICT_ON_UPDATE = {"job", "candidate", "source"}
CONFLICT_ON_DELETE = {"job", "application", "candidate", "source"}


@pytest.fixture
def doc(client) -> dict[str, Any]:
    r = client.get("/xapi2/openapi.json")  # no token: it describes, it does not reveal
    assert r.status_code == 200
    assert r.mimetype == "application/json"
    return r.get_json()


def validator(doc: dict[str, Any], name: str) -> Draft202012Validator:
    schema = {"$ref": f"#/components/schemas/{name}", "components": doc["components"]}
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def assert_valid(doc: dict[str, Any], name: str, instance: Any) -> None:
    errors = sorted(validator(doc, name).iter_errors(instance), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message[:300]}" for e in errors]


def operations(doc: dict[str, Any], model: str) -> dict[str, dict[str, Any]]:
    base = f"/xapi2/data/{model}"
    paths = doc["paths"]
    return {
        "list": paths[base]["get"],
        "create": paths[base]["post"],
        "read": paths[f"{base}/{{id}}"]["get"],
        "update": paths[f"{base}/{{id}}"]["patch"],
        "delete": paths[f"{base}/{{id}}"]["delete"],
        "archive": paths[f"{base}/{{id}}/archive"]["post"],
        "unarchive": paths[f"{base}/{{id}}/unarchive"]["post"],
    }


def expected_errors(model: str) -> dict[str, set[int]]:
    """Every error status of each operation, no more: 429 everywhere (the rate
    limit), 422 where an Idempotency-Key is read, 409 where the spec has one."""
    return {
        "list": {400, 401, 403, 429},
        "create": {400, 401, 403, 413, 415, 422, 429}
        | ({409} if model in CONFLICT_ON_CREATE else set()),
        "read": {401, 403, 404, 429},
        "update": {400, 401, 403, 404, 413, 415, 429}
        | ({409} if model in CONFLICT_ON_UPDATE else set()),
        "delete": {400, 401, 403, 404, 429} | ({409} if model in CONFLICT_ON_DELETE else set()),
        # 400 and 413: the Idempotency-Key header and, with it, the body it hashes
        "archive": {400, 401, 403, 404, 413, 422, 429},
        "unarchive": {400, 401, 403, 404, 413, 422, 429},
    }


# --- the document itself -------------------------------------------------------------


def test_is_valid_openapi_3_1(doc):
    assert doc["openapi"].startswith("3.1")
    validate(doc)
    assert doc["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


def test_every_schema_is_valid_json_schema(doc):
    for schema in doc["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)


def test_one_path_per_model_and_no_generic_data_path(doc):
    data_paths = {p for p in doc["paths"] if p.startswith("/xapi2/data")}
    expected = set()
    for m in MODELS:
        base = f"/xapi2/data/{m}"
        expected |= {base, f"{base}/{{id}}", f"{base}/{{id}}/archive", f"{base}/{{id}}/unarchive"}
    assert data_paths == expected
    assert not any("{model}" in p for p in data_paths)
    for m in MODELS:
        base = f"/xapi2/data/{m}"
        methods = {p: {k for k in doc["paths"][p] if k != "parameters"} for p in expected}
        assert methods[base] == {"get", "post"}
        assert methods[f"{base}/{{id}}"] == {"get", "patch", "delete"}
        assert methods[f"{base}/{{id}}/archive"] == {"post"}
        assert methods[f"{base}/{{id}}/unarchive"] == {"post"}


def test_operation_ids_are_unique(doc):
    ids = [
        op["operationId"]
        for item in doc["paths"].values()
        for key, op in item.items()
        if key != "parameters"
    ]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("model", MODELS)
def test_every_operation_lists_its_error_statuses(doc, model):
    ops = operations(doc, model)
    success = {
        "list": "200",
        "create": "201",
        "read": "200",
        "update": "200",
        "delete": "204",
        "archive": "200",
        "unarchive": "200",
    }
    for action, wanted in expected_errors(model).items():
        responses = ops[action]["responses"]
        codes = {int(c) for c in responses if c.isdigit()}
        errors = {c for c in codes if c >= 400}
        assert errors == wanted, (model, action, sorted(wanted ^ errors))
        assert success[action] in responses, (model, action)
        for code in codes:
            if code >= 400:
                ref = responses[str(code)]["content"]["application/json"]["schema"]["$ref"]
                assert ref == "#/components/schemas/Error", (model, action, code)
        assert "WWW-Authenticate" in responses["401"].get("headers", {}), (model, action)
        assert responses["429"]["headers"]["Retry-After"]["required"] is True
        for code, response in responses.items():
            assert set(RATE_LIMIT_HEADERS) <= set(response["headers"]), (model, action, code)
    assert "Location" in ops["create"]["responses"]["201"]["headers"]
    t = TITLES[model]
    assert ops["list"]["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": f"#/components/schemas/{t}Page"
    }
    page = doc["components"]["schemas"][f"{t}Page"]
    assert page["properties"]["limit"]["maximum"] == SPEC_MAX_PAGE[model]
    for action in ("create", "read", "update", "archive", "unarchive"):
        schema = ops[action]["responses"][success[action]]["content"]["application/json"]
        assert schema["schema"] == {"$ref": f"#/components/schemas/{t}"}
    create_body = ops["create"]["requestBody"]["content"]["application/json"]["schema"]
    assert create_body == {"$ref": f"#/components/schemas/{t}Create"}
    patch_body = ops["update"]["requestBody"]["content"]["application/json"]["schema"]
    assert patch_body == {"$ref": f"#/components/schemas/{t}Patch"}
    cascade = [p for p in ops["delete"].get("parameters", []) if p["name"] == "cascade"]
    assert cascade and cascade[0]["in"] == "query"


@pytest.mark.parametrize("model", MODELS)
def test_create_and_patch_schemas_match_the_field_tables(doc, model):
    mdef = F.MODELS[model]
    schemas = doc["components"]["schemas"]
    t = TITLES[model]
    create, patch, data = schemas[f"{t}Create"], schemas[f"{t}Patch"], schemas[f"{t}Data"]

    # against ats.fields
    assert set(create["properties"]) == {f.name for f in mdef.fields if f.create}
    assert set(patch["properties"]) == {f.name for f in mdef.fields if f.patch}
    assert set(create["required"]) == {f.name for f in mdef.fields if f.required}
    assert not patch.get("required")
    assert set(data["properties"]) == {f.name for f in mdef.fields}
    assert set(data["required"]) == {f.name for f in mdef.fields}

    # against the spec's tables
    every = set(SPEC_FIELDS[model])
    managed = SPEC_SERVER_MANAGED.get(model, set())
    create_only = SPEC_CREATE_ONLY.get(model, set())
    assert set(data["properties"]) == every
    assert set(create["properties"]) == every - managed
    assert set(patch["properties"]) == every - managed - create_only
    assert set(create["required"]) == SPEC_REQUIRED[model]


@pytest.mark.parametrize("model", MODELS)
def test_field_limits_in_the_document(doc, model):
    mdef = F.MODELS[model]
    t = TITLES[model]
    create = doc["components"]["schemas"][f"{t}Create"]["properties"]
    for f in mdef.fields:
        if not f.create:
            continue
        s = create[f.name]
        types = s["type"] if isinstance(s["type"], list) else [s["type"]]
        # optional fields without a default may be null; required and not-null ones never
        assert ("null" in types) == f.nullable, f.name
        if f.type in (F.STRING, F.URL, F.EMAIL, F.REF):
            assert s["maxLength"] == f.max_length, f.name
        if f.type == F.INTEGER:
            assert "integer" in types, f.name
        if f.type == F.BOOL:
            assert types == ["boolean"], f.name


def test_some_limits_from_the_spec(doc):
    s = doc["components"]["schemas"]
    assert s["JobCreate"]["properties"]["title"]["maxLength"] == 200
    assert s["JobCreate"]["properties"]["description"]["maxLength"] == 16000
    assert s["JobCreate"]["properties"]["headcount"]["minimum"] == 0
    assert "integer" in s["JobCreate"]["properties"]["headcount"]["type"]
    assert s["ApplicationCreate"]["properties"]["fit_score"]["minimum"] == 0
    assert s["ApplicationCreate"]["properties"]["fit_score"]["maximum"] == 100
    duration = s["InterviewCreate"]["properties"]["duration_minutes"]
    assert (duration["minimum"], duration["maximum"]) == (1, 1440)
    assert s["ApplicationNoteCreate"]["properties"]["body"]["maxLength"] == 20000
    assert s["CompanyProfileCreate"]["properties"]["banner_url"]["maxLength"] == 2_500_000
    assert s["CompanyProfileCreate"]["properties"]["logo_url"]["maxLength"] == 1_500_000
    assert s["CandidateCreate"]["properties"]["email"]["maxLength"] == 320
    tags = s["JobCreate"]["properties"]["tags"]
    assert tags["maxItems"] == 50
    assert tags["uniqueItems"] is True
    assert tags["items"]["maxLength"] == 64


def test_enums_equal_the_field_choices(doc):
    schemas = doc["components"]["schemas"]
    seen = set()
    for model in MODELS:
        mdef = F.MODELS[model]
        t = TITLES[model]
        list_params = {p["name"]: p for p in operations(doc, model)["list"]["parameters"]}
        for f in mdef.fields:
            if f.type != F.ENUM:
                continue
            seen.add((model, f.name))
            assert tuple(f.choices) == SPEC_ENUMS[(model, f.name)], (model, f.name)
            for kind in ("Create", "Patch", "Data"):
                props = schemas[f"{t}{kind}"]["properties"]
                if f.name not in props:
                    continue
                enum = [v for v in props[f.name]["enum"] if v is not None]
                assert enum == list(f.choices), (model, kind, f.name)
                if None in props[f.name]["enum"]:
                    assert not f.required and f.default is None, (model, f.name)
            if f.name in list_params:
                items = list_params[f.name]["schema"]["items"]
                assert items["enum"] == list(f.choices), (model, f.name)
    assert seen == set(SPEC_ENUMS)


@pytest.mark.parametrize("model", MODELS)
def test_list_parameters_cover_every_filter_and_paging_key(doc, model):
    params = operations(doc, model)["list"]["parameters"]
    names = [p["name"] for p in params]
    assert len(names) == len(set(names))
    assert all(p["in"] == "query" for p in params)
    expected = {"limit", "offset", "after", "sort", *SYSTEM_FILTERS}
    if model in ("job", "candidate", "application", "application_note"):
        expected.add("q")  # full-text search (docs/api.md)
    for key in SPEC_FILTERS[model]:
        expected |= {key, f"data__{key}"}
    missing = expected - set(names)
    assert not missing, sorted(missing)
    # and nothing the API would refuse
    assert set(names) <= expected | {"data__status"}
    by_name = {p["name"]: p for p in params}
    assert by_name["limit"]["schema"]["type"] == "integer"
    assert by_name["limit"]["schema"]["minimum"] == 1
    assert by_name["offset"]["schema"]["minimum"] == 0
    sort = re.compile(by_name["sort"]["schema"]["pattern"])
    for key in SPEC_SORTS[model]:
        assert sort.search(key) and sort.search("-" + key), key
    assert sort.search(",".join(SPEC_SORTS[model]))
    assert not sort.search("nope")
    assert not sort.search("id")


@pytest.mark.parametrize("model", MODELS)
def test_every_documented_list_parameter_is_accepted(doc, api, model):
    """Each documented filter key works with a value of its documented type."""
    for p in operations(doc, model)["list"]["parameters"]:
        name, schema = p["name"], p["schema"]
        if name in ("limit", "offset"):
            value = "1"
        elif name == "after":
            continue  # needs an existing id
        elif name == "sort":
            value = "-" + F.MODELS[model].sorts[0]
        elif name == "q":
            value = "x"
        else:
            item = schema["items"]
            if "enum" in item:
                value = item["enum"][0]
            elif item["type"] == "boolean":
                value = "true"
            else:
                value = "x"
        r = api.get(f"/data/{model}", query_string={name: value})
        assert r.status_code == 200, (name, value, r.get_json())
    # and one the document does not list is refused
    assert api.get(f"/data/{model}?no_such_key=1").status_code == 400


# --- real answers against the document --------------------------------------------


def rich_objects(api) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """For every model: (request body, created object), with many fields set."""
    out: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}

    def make(model: str, body: dict[str, Any]) -> dict[str, Any]:
        out[model] = (body, api.create(model, **body))
        return out[model][1]

    source = make("source", {"name": "Referral", "kind": "referral"})
    job = make(
        "job",
        {
            "title": "Backend Engineer",
            "status": "open",
            "public": True,
            "department": "R&D",
            "location": "Berlin",
            "country": "Germany",
            "remote": "hybrid",
            "employment_type": "full_time",
            "seniority": "senior",
            "headcount": 2,
            "summary": "Build things",
            "salary_min": 60000,
            "salary_max": 80000.5,
            "currency": "EUR",
            "salary_visibility": "team",
            "language": "de-DE",
            "color": "#336699",
            "tags": ["python", "backend"],
            "team_ids": [api.user_id],
            "hiring_manager_id": api.user_id,
            "target_close_date": "2030-01-31",
            "external_apply_url": "https://example.com/apply",
            "ai_screen_enabled": True,
            "ai_screen_prompt": "Be fair",
            "screening_questions": [
                {"id": "q1", "label": "Years of Python?", "type": "number", "required": True},
                {"id": "q2", "label": "Stack?", "type": "choice", "choices": ["py", "go"]},
            ],
            "knockout_questions": [
                {"id": "k1", "label": "Work permit?", "type": "yes_no", "reject_if": False}
            ],
        },
    )
    candidate = make(
        "candidate",
        {
            "name": "Ada Lovelace",
            "email": "ada@example.com",
            "phone": "+44 20 1234",
            "location": "London",
            "linkedin_url": "https://www.linkedin.com/in/ada",
            "tags": ["math"],
            "consent_talent_pool": True,
        },
    )
    application = make(
        "application",
        {
            "job_id": job["id"],
            "candidate_id": candidate["id"],
            "stage": "review",
            "source_id": source["id"],
            "source_label": "Friend of Bob",
            "applied_at": "2026-01-02T03:04:05Z",
            "cover_letter": "Hello",
            "cv_url": "https://example.com/cv.pdf",
            "answers": [{"question_id": "q1", "value": 5}, {"question_id": "k1", "value": True}],
            "tags": ["strong"],
            "fit_score": 87.5,
            "fit_flags": ["python"],
            "fit_reasoning": "Fits",
            "fit_computed_at": "2026-01-02T05:04:05+02:00",
        },
    )
    make(
        "interview",
        {
            "application_id": application["id"],
            "kind": "video",
            "title": "First round",
            "scheduled_at": "2026-02-01T10:00:00Z",
            "duration_minutes": 45,
            "interviewer_id": api.user_id,
            "interviewer_ids": [api.user_id],
            "location": "Online",
            "meeting_url": "https://meet.example.com/abc",
            "agenda": "Intro",
            "notes": "Bring questions",
            "status": "scheduled",
        },
    )
    make(
        "application_note",
        {
            "parent_kind": "application",
            "parent_id": application["id"],
            "body": "**Strong** candidate",
            "pinned": True,
            "private": False,
        },
    )
    make(
        "company_profile",
        {
            "name": "Acme GmbH",
            "display_name": "Acme",
            "size": "11-50",
            "industry": "Software",
            "summary": "We make things",
            "website": "https://acme.example",
            "main_location": "Berlin",
            "logo_url": "data:image/png;base64,iVBORw0KGgo=",
            "banner_url": "https://acme.example/banner.png",
            "accent_color": "#ff6600",
            "imprint_url": "https://acme.example/imprint",
            "privacy_url": "https://acme.example/privacy",
            "show_about": True,
            "show_other_jobs": True,
            "public_careers_enabled": True,
            "retention_unit": "months",
            "retention_value": 6,
        },
    )
    return out


def assert_envelope_keys(doc: dict[str, Any], model: str, obj: dict[str, Any]) -> None:
    """The document describes every key of the answer, no more, no less."""
    t = TITLES[model]
    schemas = doc["components"]["schemas"]
    assert set(obj) == set(schemas[t]["properties"])
    assert set(obj["data"]) == set(schemas[f"{t}Data"]["properties"])


def test_real_objects_match_the_document(doc, api):
    objs = rich_objects(api)
    assert set(objs) == set(MODELS)
    for model, (body, created) in objs.items():
        t = TITLES[model]
        # the request the API accepted is valid against the Create schema
        assert_valid(doc, f"{t}Create", body)
        assert_valid(doc, t, created)
        assert_envelope_keys(doc, model, created)
        got = api.get(f"/data/{model}/{created['id']}").get_json()
        assert_valid(doc, t, got)
        page = api.get(f"/data/{model}").get_json()
        assert_valid(doc, f"{t}Page", page)
        assert created["id"] in [i["id"] for i in page["items"]]
        archived = api.post(f"/data/{model}/{created['id']}/archive")
        assert archived.status_code == 200
        assert_valid(doc, t, archived.get_json())
        page = api.get(f"/data/{model}?is_archived=true&limit=1").get_json()
        assert_valid(doc, f"{t}Page", page)


def test_minimal_objects_match_the_document(doc, api):
    """Objects with most fields unset (null) are valid too."""
    job = api.job(title="Minimal")
    candidate = api.candidate(name="Min")
    application = api.create("application", job_id=job["id"], candidate_id=candidate["id"])
    created = {
        "job": job,
        "candidate": candidate,
        "source": api.create("source", name="Minimal"),
        "application": application,
        "interview": api.create("interview", application_id=application["id"]),
        "application_note": api.create(
            "application_note", parent_kind="job", parent_id=job["id"], body="x"
        ),
        "company_profile": api.create("company_profile", name="Min"),
    }
    for model, obj in created.items():
        t = TITLES[model]
        assert_valid(doc, t, obj)
        assert_envelope_keys(doc, model, obj)
        assert_valid(doc, f"{t}Page", api.get(f"/data/{model}").get_json())


def test_patched_objects_match_the_document(doc, api):
    job = api.job()
    body = {"title": "Renamed", "status": "closed", "tags": None, "headcount": 3, "remote": None}
    assert_valid(doc, "JobPatch", body)
    r = api.patch(f"/data/job/{job['id']}", json=body)
    assert r.status_code == 200, r.get_json()
    assert_valid(doc, "Job", r.get_json())
    assert r.get_json()["data"]["closed_at"] is not None


def test_the_document_rejects_what_the_api_rejects(doc, api):
    """Values the API refuses with 400 are invalid against the Create schema too."""
    bad_jobs = [
        {"title": "x" * 201},
        {"title": "ok", "status": "nope"},
        {"title": "ok", "headcount": -1},
        {"title": "ok", "headcount": 1.5},
        {"title": "ok", "public": "yes"},
        {"title": "ok", "external_apply_url": "javascript:alert(1)"},
        {"title": "ok", "tags": ["a", "a"]},
        {"title": "ok", "currency": "euro"},
        {"title": None},
        {},
    ]
    v = validator(doc, "JobCreate")
    for body in bad_jobs:
        r = api.post("/data/job", json=body)
        assert r.status_code == 400, body
        assert_valid(doc, "Error", r.get_json())
        assert not v.is_valid(body), body
    job = api.job()
    v = validator(doc, "JobPatch")
    for body in [{"title": None}, {"title": ""}, {"status": None}, {"public": None}]:
        r = api.patch(f"/data/job/{job['id']}", json=body)
        assert r.status_code == 400, body
        assert not v.is_valid(body), body


def test_error_answers_match_the_document(doc, api, client, make_api):
    """The error statuses really returned are the ones each operation lists."""
    job = api.job(slug="taken")
    api.application(job=job)
    ops = operations(doc, "job")
    reader = make_api("job:read")
    item = f"/xapi2/data/job/{job['id']}"
    missing = "/xapi2/data/job/job_01J00000000000000000000000"
    h = api.headers()
    json_ct = "application/json"
    huge = b'{"title": "' + b"x" * (8 * 1024 * 1024 + 10) + b'"}'
    cases = [
        ("list", client.get("/xapi2/data/job?limit=0", headers=h)),
        ("list", client.get("/xapi2/data/job")),
        ("list", client.get("/xapi2/data/job", headers=reader.headers())),
        ("create", client.post("/xapi2/data/job", json={}, headers=h)),
        ("create", client.post("/xapi2/data/job", json={"title": "x"})),
        ("create", client.post("/xapi2/data/job", json={"title": "x"}, headers=reader.headers())),
        ("create", client.post("/xapi2/data/job", json={"title": "x", "slug": "taken"}, headers=h)),
        ("create", client.post("/xapi2/data/job", data=huge, content_type=json_ct, headers=h)),
        ("create", client.post("/xapi2/data/job", data="x", content_type="text/plain", headers=h)),
        ("read", client.get(item)),
        ("read", client.get(item, headers=make_api("job:list").headers())),
        ("read", client.get(missing, headers=h)),
        ("update", client.patch(item, json={"status": "nope"}, headers=h)),
        ("update", client.patch(item, json={"title": "x"})),
        ("update", client.patch(item, json={"title": "x"}, headers=reader.headers())),
        ("update", client.patch(missing, json={"title": "x"}, headers=h)),
        ("update", client.patch(item, data="x", content_type="text/plain", headers=h)),
        ("delete", client.delete(f"{item}?cascade=maybe", headers=h)),
        ("delete", client.delete(item)),
        ("delete", client.delete(item, headers=reader.headers())),
        ("delete", client.delete(missing, headers=h)),
        ("delete", client.delete(item, headers=h)),
        ("archive", client.post(f"{item}/archive")),
        ("archive", client.post(f"{item}/archive", headers=reader.headers())),
        ("archive", client.post(f"{missing}/archive", headers=h)),
        ("unarchive", client.post(f"{missing}/unarchive", headers=h)),
    ]  # fmt: skip
    seen = {}
    for action, r in cases:
        assert r.status_code >= 400, (action, r.status_code)
        assert str(r.status_code) in ops[action]["responses"], (action, r.status_code)
        assert_valid(doc, "Error", r.get_json())
        seen.setdefault(action, set()).add(r.status_code)
    assert seen == {
        "list": {400, 401, 403},
        "create": {400, 401, 403, 409, 413, 415},
        "read": {401, 403, 404},
        "update": {400, 401, 403, 404, 415},
        "delete": {400, 401, 403, 404, 409},
        "archive": {401, 403, 404},
        "unarchive": {404},
    }


def test_location_header_points_at_the_object(api):
    r = api.post("/data/job", json={"title": "Located"})
    assert r.status_code == 201
    location = r.headers["Location"]
    assert location.endswith(f"/xapi2/data/job/{r.get_json()['id']}")
    assert api.get(location.removeprefix("http://localhost")).get_json() == r.get_json()


# --- /xapi2/schema ----------------------------------------------------------------


def test_schema_lists_all_models(client):
    r = client.get("/xapi2/schema")  # no token needed
    assert r.status_code == 200
    models = r.get_json()["models"]
    assert set(models) == set(MODELS)
    for name, schema in models.items():
        assert schema["model"] == name
        assert schema["max_page"] == SPEC_MAX_PAGE[name]
        assert tuple(schema["sorts"]) == SPEC_SORTS[name]
        if name in SPEC_DEFAULT_SORT:
            assert schema["default_sort"] == SPEC_DEFAULT_SORT[name]
        assert schema["default_sort"] in schema["sorts"]
        assert [f["name"] for f in schema["fields"]] == list(SPEC_FIELDS[name])
        assert schema["id_prefix"] == F.MODELS[name].prefix + "_"


def test_schema_of_job(client):
    r = client.get("/xapi2/schema/job")
    assert r.status_code == 200
    s = r.get_json()
    assert s["model"] == "job"
    assert s["max_page"] == 200
    assert s["default_sort"] == "created_at"
    assert s["sorts"] == list(SPEC_SORTS["job"])
    assert set(s["filters"]) == set(SPEC_FILTERS["job"]) | set(SYSTEM_FILTERS)
    fields = {f["name"]: f for f in s["fields"]}
    assert set(fields) == set(SPEC_FIELDS["job"])

    title = fields["title"]
    assert title["max_length"] == 200
    assert title["required"] is True
    assert title["create"] is True and title["patch"] is True

    status = fields["status"]
    assert status["choices"] == list(SPEC_ENUMS[("job", "status")])
    assert status["required"] is False
    assert status["default"] == "draft"

    for name in ("opened_at", "closed_at"):
        assert fields[name]["create"] is False and fields[name]["patch"] is False
        assert fields[name]["server_managed"] is True

    assert fields["slug"]["max_length"] == 120
    assert fields["description"]["max_length"] == 16000
    assert fields["external_apply_url"]["max_length"] == 2048
    assert fields["remote"]["choices"] == ["onsite", "hybrid", "remote"]
    for f in s["fields"]:
        assert {"name", "type", "required", "create", "patch"} <= set(f), f
        if f["type"] == "enum":
            assert f["choices"], f
        if f["type"] in ("string", "url", "email"):
            assert isinstance(f["max_length"], int), f


@pytest.mark.parametrize("model", MODELS)
def test_schema_of_each_model_matches_the_fields(client, model):
    s = client.get(f"/xapi2/schema/{model}").get_json()
    mdef = F.MODELS[model]
    fields = {f["name"]: f for f in s["fields"]}
    for f in mdef.fields:
        entry = fields[f.name]
        assert entry["required"] == f.required == (f.name in SPEC_REQUIRED[model])
        assert entry["create"] == f.create
        assert entry["patch"] == f.patch
        if f.choices:
            assert entry["choices"] == list(f.choices)
    assert s["max_page"] == SPEC_MAX_PAGE[model]
    assert set(s["filters"]) == set(SPEC_FILTERS[model]) | set(SYSTEM_FILTERS)


def test_schema_of_unknown_model_is_404(client, doc):
    r = client.get("/xapi2/schema/nope")
    assert r.status_code == 404
    assert r.mimetype == "application/json"
    body = r.get_json()
    assert_valid(doc, "Error", body)
    assert "nope" in body["message"]


def test_schema_endpoints_are_in_the_document(doc):
    paths = doc["paths"]
    for path in ("/xapi2/schema", "/xapi2/schema/{model}", "/xapi2/openapi.json"):
        assert paths[path]["get"]["security"] == [], path
    model_param = paths["/xapi2/schema/{model}"]["get"]["parameters"][0]
    assert model_param["schema"]["enum"] == list(MODELS)
    assert "404" in paths["/xapi2/schema/{model}"]["get"]["responses"]


# --- the text rules: one definition for the API and the document ------------------


def test_blank_is_what_str_strip_removes():
    """The document's blank class is Python's white space, character for character."""
    python = {chr(c) for c in range(0x110000) if chr(c).isspace()}
    assert set(validation.BLANK_CHARS) == python


TEXTS = [
    "ok",
    " padded ",
    "",
    " ",
    "\t\n",
    "\x1c",  # white space to Python, not to ECMAScript's \s
    "\x85",
    "\ufeff",  # the other way round
    "a\x00b",
    "\x00",
    "https://example.com/x",
    "HTTPS://example.com",
    "http://a b",
    "http://a\x1c",
    "https://",
    "ftp://example.com",
    "javascript:alert(1)",
    "data:image/png;base64,iVBORw0KGgo=",
    "data:image/svg+xml;base64,PHN2Zz4=",
    "http://example.com",
    "ada@example.com",
    "ada@mail.test",  # special-use domains (RFC 6761): refused
    "ada@LOCALHOST",
    "ada@test.example.com",
]


@pytest.mark.parametrize(
    ("model", "field"),
    [
        ("job", "title"),  # required: not blank
        ("job", "department"),  # optional text
        ("job", "external_apply_url"),  # url
        ("company_profile", "logo_url"),  # https or an image data URL
        ("company_profile", "name"),
        ("candidate", "email"),
    ],
)
def test_the_document_accepts_the_texts_the_api_accepts(doc, model, field):
    """Each text is valid against the field's documented schema exactly when the
    API takes it (on create and as the only field of a PATCH)."""
    from ats.validation import Invalid, check_value

    mdef = F.MODELS[model]
    schema = doc["components"]["schemas"][f"{TITLES[model]}Create"]["properties"][field]
    v = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    for text in TEXTS:
        try:
            check_value(mdef[field], text)
            accepted = True
        except Invalid:
            accepted = False
        assert v.is_valid(text) == accepted, (field, text)


def test_early_years_keep_four_digits(doc, api):
    """A date-time before the year 1000 is still a date-time in every answer (the
    PATCH's object, the read, the list), as the document says (found by
    bench/fuzz.py: strftime wrote "94-10-07T...")."""
    app = api.application()
    r = api.patch(f"/data/application/{app['id']}", json={"fit_computed_at": "0094-10-07T23:02Z"})
    assert r.status_code == 200, r.get_json()
    answers = [r.get_json(), api.get(f"/data/application/{app['id']}").get_json()]
    answers += api.get("/data/application").get_json()["items"]
    for obj in answers:
        assert obj["data"]["fit_computed_at"] == "0094-10-07T23:02:00.000000Z"
        assert_valid(doc, "Application", obj)
