"""Every write constraint of the contract (section 4, 6 and 8, and docs/api.md),
enforced through the real API: POST and PATCH over the Flask test client.

The per-field tests are generated from ``ats.fields.MODELS``, so every row of
every table is exercised. They share one database per module, and one object
per model to PATCH (``Env.target``), which keeps over a thousand requests fast;
a test that compares an object or a row count reads it afresh first.
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
from conftest import Api

from ats import create_app
from ats import fields as F
from ats.extensions import db
from ats.services import auth

MODELS = F.MODELS
MISSING_ID = "01JD0000000000000000000000"  # a well-formed ULID no object has

# --- the shared environment ---------------------------------------------------------------


class Env:
    """One app and database for the module, an admin ``Api`` and fixed objects."""

    def __init__(self, api: Api, users: list[str]) -> None:
        self.api = api
        self.users = users
        self._salt = itertools.count(1)
        self.job = api.job(title="Shared job")
        self.other_job = api.job(title="Other job")
        self.candidate = api.candidate(name="Shared candidate")
        self.application = api.application(job=self.job, candidate=self.candidate)
        self.source = api.create("source", name="Shared source")
        self.spare_candidate = api.candidate(name="Never applies")
        self._targets: dict[str, dict[str, Any]] = {}

    def salt(self) -> int:
        return next(self._salt)

    def clear_profile(self) -> None:
        for item in self.api.get("/data/company_profile").get_json()["items"]:
            r = self.api.delete(f"/data/company_profile/{item['id']}")
            assert r.status_code == 204, r.get_json()

    def base(self, model: str, cheap: bool = False) -> dict[str, Any]:
        """A minimal valid POST body; the one company profile is removed first.

        ``cheap`` bodies are for requests that must fail validation: they skip
        the set-up a successful POST needs (a candidate who has not applied yet,
        no company profile); were the request wrongly accepted, the answer would
        still not be the expected 400."""
        if model == "job":
            return {"title": "Backend Engineer"}
        if model == "candidate":
            return {"name": "Ada Lovelace"}
        if model == "source":
            return {"name": f"Source {self.salt()}"}
        if model == "application":
            if cheap:
                return {"job_id": self.job["id"], "candidate_id": self.spare_candidate["id"]}
            cand = self.api.candidate(name=f"Applicant {self.salt()}")
            return {"job_id": self.job["id"], "candidate_id": cand["id"]}
        if model == "interview":
            return {"application_id": self.application["id"]}
        if model == "application_note":
            return {"parent_kind": "job", "parent_id": self.job["id"], "body": "Hello"}
        if model == "company_profile":
            if not cheap:
                self.clear_profile()
            return {"name": "Acme"}
        raise AssertionError(model)

    def post(self, model: str, body: dict[str, Any] | None = None, **data: Any) -> Any:
        return self.api.post(f"/data/{model}", json={**self.base(model), **(body or {}), **data})

    def post_bad(self, model: str, body: dict[str, Any] | None = None, **data: Any) -> Any:
        """POST a body that must be rejected (see ``base(cheap=True)``)."""
        body = {**self.base(model, cheap=True), **(body or {}), **data}
        return self.api.post(f"/data/{model}", json=body)

    def fresh(self, model: str, **data: Any) -> dict[str, Any]:
        r = self.post(model, data)
        assert r.status_code == 201, (model, r.get_json())
        return r.get_json()

    def target(self, model: str) -> dict[str, Any]:
        """The module's object of ``model`` to PATCH (the company profile: the one there
        is, made when absent). Tests read it afresh before comparing."""
        if model == "company_profile":
            items = self.api.get("/data/company_profile").get_json()["items"]
            return items[0] if items else self.fresh(model)
        if model not in self._targets:
            self._targets[model] = self.fresh(model)
        return self._targets[model]

    def read(self, model: str, obj_id: str) -> dict[str, Any]:
        r = self.api.get(f"/data/{model}/{obj_id}")
        assert r.status_code == 200, r.get_json()
        return r.get_json()

    def patch(self, model: str, obj_id: str, body: Any) -> Any:
        return self.api.patch(f"/data/{model}/{obj_id}", json=body)

    def total(self, model: str) -> int:
        r = self.api.get(f"/data/{model}?limit=1")
        assert r.status_code == 200, r.get_json()
        return r.get_json()["total"]


@pytest.fixture(scope="module")
def env(databases: Any, tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("validation")
    # Several hundred commits: keep the database in memory-backed storage where there
    # is some (fsync is free there); the configuration is the application's own.
    shm = Path("/dev/shm")
    db_dir = Path(tempfile.mkdtemp(prefix="ats-validation-", dir=shm)) if shm.is_dir() else tmp
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": databases.new(db_dir),
            "SECRET_KEY": "test",
            "DATA_DIR": str(tmp / "data"),
            "TESTING": True,
        }
    )
    with app.app_context():
        admin = auth.create_user("admin@example.com", "quiet-otter-harbour-7", "admin", "admin")
        _token, secret = auth.create_token(admin, ["*"])
        other = auth.create_user("u1@example.com", "quiet-otter-harbour-7", "u1", "recruiter")
        admin_id = admin.id
        users = [other.id, admin_id]  # two existing users for the user-id fields
    yield Env(Api(app.test_client(), secret, admin_id), users)
    with app.app_context():
        db.engine.dispose()
    if db_dir != tmp:
        shutil.rmtree(db_dir, ignore_errors=True)


# --- expectations -------------------------------------------------------------------------


def assert_invalid(r: Any, *names: str, only: bool = True, ctx: Any = "") -> dict[str, str]:
    """A 400 validation_failed naming ``names`` (and, with ``only``, nothing else)."""
    body = r.get_json()
    assert r.status_code == 400, (ctx, r.status_code, body)
    assert body["error"] == "validation_failed", (ctx, body)
    assert isinstance(body.get("message"), str) and body["message"], (ctx, body)
    fields = body.get("fields") or {}
    for name in names:
        assert name in fields, f"{ctx}: {name} not named in {fields}"
        assert isinstance(fields[name], str) and fields[name], (ctx, fields)
    if only:
        assert set(fields) == set(names), f"{ctx}: expected exactly {sorted(names)}, got {fields}"
    return fields


def assert_conflict(r: Any, name: str | None) -> None:
    body = r.get_json()
    assert r.status_code == 409, (r.status_code, body)
    assert body["error"] == "conflict", body
    if name is not None:
        assert name in (body.get("fields") or {}), f"409 does not name {name}: {body}"


def _rows(pred) -> list[tuple[str, F.Field]]:
    return [(m.name, f) for m in MODELS.values() for f in m.fields if pred(m, f)]


def _ids(params: list) -> list[str]:
    return [f"{m}.{f.name}" for m, f, *_ in params]


def writable(f: F.Field) -> bool:
    return f.create or f.patch


SCREENING = [
    {"id": "s_text", "label": "Why us?", "type": "text"},
    {"id": "s_years", "label": "Years of Python?", "type": "number", "required": True},
    {"id": "s_remote", "label": "Remote is fine?", "type": "yes_no"},
    {"id": "s_lang", "label": "Language", "type": "choice", "choices": ["en", "de"]},
]
KNOCKOUT = [
    {"id": "k_visa", "label": "Need a visa?", "type": "yes_no", "reject_if": True},
    {"id": "k_years", "label": "Years?", "type": "number", "reject_if": {"lt": 2}},
    {
        "id": "k_city",
        "label": "City",
        "type": "choice",
        "choices": ["Berlin", "Paris"],
        "reject_if": ["Paris"],
        "required": True,
    },
    {"id": "k_word", "label": "Say no", "type": "text", "reject_if": "no"},
]


def valid_value(env: Env, model: str, f: F.Field) -> Any:
    """A valid value for the field, given the model's base body."""
    special: dict[tuple[str, str], Any] = {
        ("job", "slug"): lambda: f"slug-{env.salt()}",
        ("job", "currency"): "EUR",
        ("job", "language"): "en-GB",
        ("job", "hiring_manager_id"): env.users[0],
        ("job", "target_close_date"): "2026-12-31",
        ("job", "knockout_questions"): KNOCKOUT,
        ("job", "screening_questions"): SCREENING,
        ("interview", "interviewer_id"): env.users[0],
        ("interview", "candidate_id"): env.application["data"]["candidate_id"],
        ("interview", "job_id"): env.application["data"]["job_id"],
        ("company_profile", "accent_color"): "#aabbcc",
        ("company_profile", "logo_url"): "https://cdn.example.com/logo.png",
        ("company_profile", "banner_url"): "data:image/png;base64,iVBORw0KGgo=",
        ("source", "name"): lambda: f"Source {env.salt()}",
        ("application", "answers"): [],
        ("application", "cv_blob_id"): lambda: _stored_pdf(env),
    }
    if (model, f.name) in special:
        v = special[(model, f.name)]
        return v() if callable(v) else v
    refs = {
        "job": env.job["id"],
        "candidate": env.candidate["id"],
        "source": env.source["id"],
        "application": env.application["id"],
    }
    by_type: dict[str, Any] = {
        F.STRING: "hello",
        F.URL: "https://example.com/x",
        F.EMAIL: f"person{env.salt()}@example.com",
        F.NUMBER: 5,
        F.INTEGER: 3,
        F.BOOL: True,
        F.ENUM: f.choices[-1] if f.choices else None,
        F.TAGS: ["alpha", "beta"],
        F.DATETIME: "2026-11-23T09:15:00Z",
        F.DATE: "2026-12-31",
        F.REF: refs.get(f.ref or ""),
        F.LIST: env.users if f.item == F.ITEM_USER else None,
    }
    return by_type[f.type]


# --- max lengths --------------------------------------------------------------------------

# Fields whose format cannot reach the table's max length: the test checks max + 1 is
# rejected and that the longest well-formed value is accepted.
FORMAT_SHORTER_THAN_MAX = {
    ("job", "currency"): "EUR",
    ("company_profile", "accent_color"): "#aabbccdd",
    # RFC 5321: an address has at most 254 characters, fewer than the 320 of the table
    ("candidate", "email"): "a" * 64 + "@" + "b" * 63 + "." + "c" * 63 + "." + "d" * 58 + ".io",
}
# ids (refs, user ids, ids that must match the application or the parent) are ~30
# characters; only max + 1 can be checked.
ID_LIKE = {
    ("job", "hiring_manager_id"),
    ("interview", "interviewer_id"),
    ("interview", "candidate_id"),
    ("interview", "job_id"),
    ("application_note", "parent_id"),
    ("application", "cv_blob_id"),  # must name an uploaded file
}


def value_of_length(env: Env, model: str, f: F.Field, n: int) -> Any:
    """A well-formed value of exactly ``n`` characters (formats allowing), or None."""
    name = f.name
    if f.type == F.URL:
        return "https://x.io/" + "a" * (n - 13)
    if f.data_url:
        return "data:image/png;base64," + "A" * (n - 22)
    if f.type == F.DATETIME:
        base = "2026-11-23T09:15:00.123456+02:00"  # 32 characters, valid ISO 8601
        return base if n == len(base) else (base + "0" * n)[:n]
    if f.type == F.EMAIL:
        if n <= (f.max_length or 0):
            return None  # longer than RFC 5321 allows; FORMAT_SHORTER_THAN_MAX has the longest
        local = "a" * 64 + "@"
        domain = ".".join(["b" * 63] * ((n - len(local)) // 64 + 1))
        return (local + domain)[:n]
    if (
        f.type in (F.REF, F.DATE)
        or (model, name) in ID_LIKE
        or (model, name) in FORMAT_SHORTER_THAN_MAX
    ):
        return None if n <= (f.max_length or 0) else "a" * n
    if (model, name) == ("job", "slug"):
        return (f"s{env.salt()}-" + "a" * n)[:n]
    if (model, name) == ("job", "language"):
        tag = "en-abcdefgh-abcd"  # 16 characters, a BCP 47 shape
        return tag if n == len(tag) else (tag + "-a" * n)[:n]
    if (model, name) == ("source", "name"):
        return (f"{env.salt()} " + "x" * n)[:n]
    return "x" * n


LENGTHED = _rows(lambda m, f: writable(f) and f.max_length is not None and f.type != F.LIST)


@pytest.mark.parametrize(("model", "f"), LENGTHED, ids=_ids(LENGTHED))
def test_max_length(env, model, f):
    n = f.max_length
    exact = value_of_length(env, model, f, n)
    longest_valid = FORMAT_SHORTER_THAN_MAX.get((model, f.name))
    for ok in (exact, longest_valid):
        if ok is None:
            continue
        assert len(ok) <= n
        if f.create:
            r = env.post(model, {f.name: ok})
            assert r.status_code == 201, (len(ok), r.get_json())
            assert len(r.get_json()["data"][f.name]) == (
                len("2026-11-23T07:15:00.123456Z") if f.type == F.DATETIME else len(ok)
            )
            if f.type != F.DATETIME:
                assert r.get_json()["data"][f.name] == ok
        if f.patch:
            obj = env.target(model)
            if (model, f.name) in (("job", "slug"), ("source", "name")):
                ok = value_of_length(env, model, f, len(ok))  # unique: another value
            elif f.unique_ci:
                ok = "z" + ok[1:]
            r = env.patch(model, obj["id"], {f.name: ok})
            assert r.status_code == 200, (len(ok), r.get_json())
            if f.type != F.DATETIME:
                assert r.get_json()["data"][f.name] == ok
            if n > 10_000 and not f.required:  # keep the shared objects small
                assert env.patch(model, obj["id"], {f.name: None}).status_code == 200
    too_long = value_of_length(env, model, f, n + 1)
    assert too_long is not None and len(too_long) == n + 1
    expected = f"at most {n} characters"
    if f.create:
        fields = assert_invalid(env.post_bad(model, {f.name: too_long}), f.name)
        assert fields[f.name] == expected
    if f.patch:
        obj = env.target(model)
        before = env.read(model, obj["id"])
        fields = assert_invalid(env.patch(model, obj["id"], {f.name: too_long}), f.name)
        assert fields[f.name] == expected
        assert env.read(model, obj["id"]) == before


def test_logo_and_banner_at_max_fit_in_one_body(env):
    """A 1.5 MB logo and a 2.5 MB banner data URL in one request: under the 8 MiB limit."""
    logo = "data:image/png;base64," + "A" * (1_500_000 - 22)
    banner = "data:image/webp;base64," + "B" * (2_500_000 - 23)
    r = env.post("company_profile", logo_url=logo, banner_url=banner)
    assert r.status_code == 201, r.get_json()
    data = r.get_json()["data"]
    assert data["logo_url"] == logo and data["banner_url"] == banner
    assert env.read("company_profile", r.get_json()["id"])["data"]["banner_url"] == banner
    env.clear_profile()


def test_body_over_8_mib_is_413(env):
    env.clear_profile()
    total = env.total("company_profile")
    banner = "data:image/png;base64," + "A" * (8 * 1024 * 1024)
    r = env.api.post("/data/company_profile", json={"name": "Acme", "banner_url": banner})
    assert r.status_code == 413, r.status_code
    assert env.total("company_profile") == total


# --- wrong JSON types, every field --------------------------------------------------------


def wrong_values(model: str, f: F.Field) -> list[tuple[str, Any]]:
    strings = [("number", 123), ("bool", True), ("list", ["x"])]
    if f.type in (F.STRING, F.URL, F.REF):
        return strings
    if f.type == F.EMAIL:
        return strings + [
            ("no at", "not-an-email"),
            ("no domain", "ada@"),
            ("no local part", "@example.com"),
            ("two ats", "a@b@example.com"),
        ]
    if f.type in (F.NUMBER, F.INTEGER):
        out = [("string", "5"), ("true", True), ("list", [1])]
        if f.type == F.INTEGER:
            out += [("fraction", 1.5), ("over int32", 2_147_483_648)]
        return out
    if f.type == F.BOOL:
        return [("one", 1), ("string", "true"), ("list", [True])]
    if f.type == F.ENUM:
        upper = f.choices[0].upper()
        out = [("unknown", "no-such-value"), ("number", 1)]
        if upper not in f.choices:
            out.append(("wrong case", upper))
        out.append(("padded", f" {f.choices[0]}"))
        return out
    if f.type == F.TAGS:
        return [
            ("not a list", "python"),
            ("object", {"python": True}),
            ("repeated", ["python", "go", "python"]),
            ("empty", [""]),
            ("blank", ["  "]),
            ("65 chars", ["x" * 65]),
            ("51 tags", [f"t{i}" for i in range(51)]),
            ("non-string", [1]),
            ("null item", [None]),
        ]
    if f.type == F.LIST:
        out = [("string", "x"), ("object", {"a": 1}), ("number", 5), ("true", True)]
        if f.item == F.ITEM_USER:
            out += [
                ("non-string item", [1]),
                ("empty item", [""]),
                ("unknown user", ["usr_" + MISSING_ID]),
                ("candidate id", ["cand_" + MISSING_ID]),
            ]
        else:
            out += [("item not an object", ["q1"]), ("item a list", [[]])]
        return out
    if f.type == F.DATETIME:
        return [
            ("garbage", "garbage"),
            ("number", 20261123),
            ("bool", True),
            ("month 13", "2026-13-01T00:00:00Z"),
            ("hour 25", "2026-11-23T25:00:00Z"),
            ("33 chars", "2026-11-23T09:15:00.1234567+02:00"),
            ("empty", ""),
        ]
    if f.type == F.DATE:
        return [
            ("month 13", "2026-13-01"),
            ("feb 30", "2026-02-30"),
            ("date-time", "2026-12-31T00:00:00Z"),
            ("dotted", "31.12.2026"),
            ("basic format", "20261231"),
            ("week date", "2026-W53-1"),
            ("garbage", "soon"),
            ("number", 20261231),
            ("empty", ""),
        ]
    raise AssertionError(f.type)


WRITABLE = _rows(lambda m, f: writable(f))


@pytest.mark.parametrize(("model", "f"), WRITABLE, ids=_ids(WRITABLE))
def test_wrong_values_rejected(env, model, f):
    """Each wrong value alone fails, naming the field and nothing else."""
    cases = wrong_values(model, f)
    assert cases
    obj = env.target(model)
    before = env.read(model, obj["id"]) if f.patch else None
    for label, value in cases:
        ctx = f"{model}.{f.name} = {label} {value!r:.60}"
        if f.create:
            assert_invalid(env.post_bad(model, {f.name: value}), f.name, ctx="POST " + ctx)
        if f.patch:
            r = env.patch(model, obj["id"], {f.name: value})
            assert_invalid(r, f.name, ctx="PATCH " + ctx)
    if f.patch:
        assert env.read(model, obj["id"]) == before, "a failed PATCH changed the object"


def test_nan_and_infinity_rejected(env):
    """NaN and Infinity are not JSON; whatever the parser does, they must not be stored."""
    total = env.total("job")
    for raw in ("NaN", "Infinity", "-Infinity", "1e999"):
        r = env.api.client.post(
            "/xapi2/data/job",
            data='{"title": "T", "salary_min": ' + raw + "}",
            headers=env.api.headers({"Content-Type": "application/json"}),
        )
        assert r.status_code == 400, (raw, r.status_code, r.get_json())
    assert env.total("job") == total


# --- values each type accepts -------------------------------------------------------------

BOOLS = _rows(lambda m, f: writable(f) and f.type == F.BOOL)


@pytest.mark.parametrize(("model", "f"), BOOLS, ids=_ids(BOOLS))
def test_bool_true_and_false(env, model, f):
    for value in (True, False):
        if f.create:
            r = env.post(model, {f.name: value})
            assert r.status_code == 201, r.get_json()
            assert r.get_json()["data"][f.name] is value
        if f.patch:
            obj = env.target(model)
            r = env.patch(model, obj["id"], {f.name: value})
            assert r.status_code == 200, r.get_json()
            assert r.get_json()["data"][f.name] is value
    if f.create:  # unset bools read as false, never null
        r = env.post(model)
        assert r.status_code == 201, r.get_json()
        assert r.get_json()["data"][f.name] is (f.default or False)


ENUMS = _rows(lambda m, f: writable(f) and f.type == F.ENUM)


@pytest.mark.parametrize(("model", "f"), ENUMS, ids=_ids(ENUMS))
def test_every_enum_choice_accepted(env, model, f):
    parents = {
        "job": env.job["id"],
        "candidate": env.candidate["id"],
        "application": env.application["id"],
    }
    for choice in f.choices:
        extra = {"parent_id": parents[choice]} if f.name == "parent_kind" else {}
        if f.create:
            r = env.post(model, {f.name: choice, **extra})
            assert r.status_code == 201, (choice, r.get_json())
            assert r.get_json()["data"][f.name] == choice
    if f.patch:
        obj = env.target(model)
        for choice in f.choices:
            r = env.patch(model, obj["id"], {f.name: choice})
            assert r.status_code == 200, (choice, r.get_json())
            assert r.get_json()["data"][f.name] == choice
            assert env.read(model, obj["id"])["data"][f.name] == choice


TAGS = _rows(lambda m, f: writable(f) and f.type == F.TAGS)


@pytest.mark.parametrize(("model", "f"), TAGS, ids=_ids(TAGS))
def test_tags_at_their_limits_accepted(env, model, f):
    tags = [f"{i:02d}" + "x" * 62 for i in range(50)]  # 50 distinct tags of 64 characters
    assert all(len(t) == 64 for t in tags)
    if f.create:
        r = env.post(model, {f.name: tags})
        assert r.status_code == 201, r.get_json()
        assert r.get_json()["data"][f.name] == tags
    if f.patch:
        obj = env.target(model)
        r = env.patch(model, obj["id"], {f.name: ["b", "a"]})
        assert r.status_code == 200, r.get_json()
        assert r.get_json()["data"][f.name] == ["b", "a"]
        r = env.patch(model, obj["id"], {f.name: []})
        assert r.status_code == 200, r.get_json()
        assert r.get_json()["data"][f.name] in ([], None)


URLS = _rows(lambda m, f: writable(f) and f.type == F.URL)
BAD_URLS = [
    "javascript:alert(1)",
    "JavaScript:alert(1)",
    "data:text/html,x",
    "data:text/html;base64,PHNjcmlwdD4=",
    "/x",
    "x.io/path",
    "//x.io/path",
    "ftp://x",
    "mailto:a@x.io",
    "https://",
    "http:// x.io",
    "",
]


@pytest.mark.parametrize(("model", "f"), URLS, ids=_ids(URLS))
def test_url_schemes(env, model, f):
    goods = ("http://x.io", "https://example.com/path?q=1#frag", "HTTPS://EXAMPLE.COM/")
    if f.create:
        r = env.post(model, {f.name: goods[0]})
        assert r.status_code == 201, r.get_json()
        assert r.get_json()["data"][f.name] == goods[0]
    obj = env.target(model)
    for good in goods:
        r = env.patch(model, obj["id"], {f.name: good})
        assert r.status_code == 200, (good, r.get_json())
        assert r.get_json()["data"][f.name] == good
    for bad in BAD_URLS:
        if f.create:
            assert_invalid(env.post_bad(model, {f.name: bad}), f.name, ctx=bad)
        assert_invalid(env.patch(model, obj["id"], {f.name: bad}), f.name, ctx=bad)
    assert env.read(model, obj["id"])["data"][f.name] == goods[-1]


IMAGES = _rows(lambda m, f: f.data_url)


@pytest.mark.parametrize(("model", "f"), IMAGES, ids=_ids(IMAGES))
def test_image_fields(env, model, f):
    good = [
        "https://cdn.example.com/logo.png",
        "data:image/png;base64,iVBORw0KGgo=",
        "data:image/jpeg;base64,/9j/4AAQ",
        "data:image/gif;base64,R0lGODlh",
        "data:image/webp;base64,UklGRg==",
    ]
    bad = [
        "javascript:alert(1)",
        "data:text/html,x",
        "data:image/svg+xml;base64,PHN2Zz4=",  # SVG can carry script (docs/api.md)
        "data:image/png,rawbytes",  # not base64
        "http://cdn.example.com/logo.png",  # https only
        "/logo.png",
        "ftp://x.io/logo.png",
    ]
    obj = env.target(model)
    for value in good:
        r = env.patch(model, obj["id"], {f.name: value})
        assert r.status_code == 200, (value, r.get_json())
        assert r.get_json()["data"][f.name] == value
    for value in bad:
        assert_invalid(env.patch(model, obj["id"], {f.name: value}), f.name, ctx=value)
        assert_invalid(env.post_bad(model, {f.name: value}), f.name, ctx=value)


def test_email_accepted_and_rejected(env):
    r = env.post("candidate", email="Grace.Hopper+jobs@Example.com")
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["data"]["email"] == "Grace.Hopper+jobs@Example.com"


# --- formats beyond the table (docs/api.md) -----------------------------------------------


@pytest.mark.parametrize(
    ("name", "good", "bad"),
    [
        ("currency", ["EUR", "USD"], ["eur", "EURO", "E1R", "€"]),
        ("language", ["en", "de-DE", "zh-Hant-TW"], ["e", "en_GB", "en-", "-en", "english!"]),
        ("slug", ["senior-dev", "a", "dev-2"], ["Senior", "a_b", "a b", "señor", "a.b", ""]),
    ],
)
def test_job_string_formats(env, name, good, bad):
    for value in good:
        if name == "slug":
            value = f"{value}-{env.salt()}"
        r = env.post("job", {name: value})
        assert r.status_code == 201, (value, r.get_json())
        assert r.get_json()["data"][name] == value
    obj = env.target("job")
    for value in bad:
        assert_invalid(env.post_bad("job", {name: value}), name)
        assert_invalid(env.patch("job", obj["id"], {name: value}), name)


def test_accent_color_format(env):
    obj = env.target("company_profile")
    for value in ("#abc", "#A1B2C3", "#a1b2c3d4"):
        r = env.patch("company_profile", obj["id"], {"accent_color": value})
        assert r.status_code == 200, (value, r.get_json())
    for value in ("abc", "#abcd", "#ggg", "red", "#a1b2c3d", "rgb(0,0,0)"):
        assert_invalid(
            env.patch("company_profile", obj["id"], {"accent_color": value}), "accent_color"
        )


STRINGS = _rows(lambda m, f: writable(f) and f.type in (F.STRING, F.URL, F.EMAIL, F.REF))


@pytest.mark.parametrize("model", list(MODELS))
def test_unstorable_text_rejected(env, model):
    """NUL (docs/api.md: PostgreSQL cannot store it) and lone surrogates (``"\\ud800"``
    parses to a string no database can store as UTF-8): a 400 naming the field,
    never a 500. One test per model, listing every field that lets one through."""
    obj = env.target(model)
    before = env.read(model, obj["id"])
    total = env.total(model)
    wrong: list[str] = []
    for m, f in STRINGS:
        if m != model:
            continue
        for bad in ("\x00", "\ud800"):
            value = {F.URL: f"https://x.io/a{bad}b", F.EMAIL: f"a{bad}b@example.com"}.get(
                f.type, f"ab{bad}cd"
            )
            what = "NUL" if bad == "\x00" else "lone surrogate"
            if f.create:
                r = env.post_bad(model, {f.name: value})
                if r.status_code != 400 or f.name not in (r.get_json().get("fields") or {}):
                    wrong.append(f"POST {f.name} with a {what}: {r.status_code}")
            if f.patch:
                r = env.patch(model, obj["id"], {f.name: value})
                if r.status_code != 400 or f.name not in (r.get_json().get("fields") or {}):
                    wrong.append(f"PATCH {f.name} with a {what}: {r.status_code}")
    assert not wrong, f"{model}: not a 400 naming the field: " + "; ".join(wrong)
    assert env.total(model) == total
    assert env.read(model, obj["id"]) == before


def test_lone_surrogate_in_list_items_rejected(env):
    cases = {
        "tags": ["ok", "\udfff"],
        "team_ids": ["usr_\ud800"],
        "screening_questions": [{"id": "q1", "label": "Why\ud800?", "type": "text"}],
        "knockout_questions": [
            {"id": "k1", "label": "Say no", "type": "text", "reject_if": "n\udc00o"}
        ],
    }
    total = env.total("job")
    wrong = []
    for name, value in cases.items():
        r = env.post_bad("job", {name: value})
        if r.status_code != 400 or name not in (r.get_json().get("fields") or {}):
            wrong.append(f"POST job {name}: {r.status_code}")
    r = env.post_bad("application", answers=[{"question_id": "q\ud800", "value": "x"}])
    if r.status_code != 400:
        wrong.append(f"POST application answers: {r.status_code}")
    assert not wrong, "a lone surrogate is not a 400 for " + ", ".join(wrong)
    assert env.total("job") == total


def test_lengths_count_characters_not_bytes(env):
    for char in ("é", "😀", "中"):
        r = env.post("job", title=char * 200)
        assert r.status_code == 201, (char, r.get_json())
        assert env.read("job", r.get_json()["id"])["data"]["title"] == char * 200
        fields = assert_invalid(env.post_bad("job", title=char * 201), "title")
        assert fields["title"] == "at most 200 characters"


# --- numbers and ranges -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "name", "good", "bad"),
    [
        ("job", "headcount", [0, 1, 2_147_483_647, 3.0], [-1, 1.5, 2_147_483_648]),
        ("job", "salary_min", [0, 0.5, 1e9], [-1, -0.01]),
        ("job", "salary_max", [0, 99999.99], [-1]),
        ("application", "fit_score", [0, 100, 42.5], [-1, 100.5, -0.001, 1e9]),
        ("application", "position", [0, -5, 1.25, 1e6], []),
        ("interview", "duration_minutes", [1, 60, 1440], [0, 1441, -30, 30.5]),
        ("company_profile", "retention_value", [1, 12], [0, -1, 1.5]),
    ],
)
def test_number_ranges(env, model, name, good, bad):
    f = MODELS[model][name]
    obj = env.target(model)
    if model == "job":  # whatever other tests left: min <= max is not the point here
        env.patch(model, obj["id"], {"salary_min": None, "salary_max": None})
    for value in good:
        if f.create:
            r = env.post(model, {name: value})
            assert r.status_code == 201, (value, r.get_json())
            assert r.get_json()["data"][name] == value
            obj = env.target(model)  # (the company profile was replaced)
        r = env.patch(model, obj["id"], {name: value})
        assert r.status_code == 200, (value, r.get_json())
        assert r.get_json()["data"][name] == value
    for value in bad:
        if f.create:
            assert_invalid(env.post_bad(model, {name: value}), name, ctx=value)
        assert_invalid(env.patch(model, obj["id"], {name: value}), name, ctx=value)


def test_integers_are_returned_as_integers(env):
    r = env.post("job", headcount=3)
    assert r.status_code == 201
    assert r.get_json()["data"]["headcount"] == 3
    assert isinstance(r.get_json()["data"]["headcount"], int)


def test_salary_min_above_max_on_create(env):
    fields = assert_invalid(env.post("job", salary_min=200, salary_max=100), only=False)
    assert set(fields) & {"salary_min", "salary_max"}, fields
    assert set(fields) <= {"salary_min", "salary_max"}, fields
    r = env.post("job", salary_min=100, salary_max=100)
    assert r.status_code == 201, r.get_json()


def test_salary_order_checked_against_stored_value_on_patch(env):
    job = env.fresh("job", salary_min=50_000, salary_max=60_000)
    fields = assert_invalid(env.patch("job", job["id"], {"salary_min": 70_000}), only=False)
    assert set(fields) & {"salary_min", "salary_max"}, fields
    fields = assert_invalid(env.patch("job", job["id"], {"salary_max": 40_000}), only=False)
    assert set(fields) & {"salary_min", "salary_max"}, fields
    assert_invalid(env.patch("job", job["id"], {"salary_min": 90, "salary_max": 80}), only=False)
    after = env.read("job", job["id"])["data"]
    assert (after["salary_min"], after["salary_max"]) == (50_000, 60_000)
    # moving both together, or one while the other is unset, is fine
    r = env.patch("job", job["id"], {"salary_min": 70_000, "salary_max": 80_000})
    assert r.status_code == 200, r.get_json()
    r = env.patch("job", job["id"], {"salary_max": None})
    assert r.status_code == 200, r.get_json()
    r = env.patch("job", job["id"], {"salary_min": 1e7})
    assert r.status_code == 200, r.get_json()
    # and raising max back below the stored min is rejected again
    fields = assert_invalid(env.patch("job", job["id"], {"salary_max": 10}), only=False)
    assert set(fields) & {"salary_min", "salary_max"}, fields


# --- required, null -----------------------------------------------------------------------

REQUIRED = _rows(lambda m, f: f.required)


@pytest.mark.parametrize(("model", "f"), REQUIRED, ids=_ids(REQUIRED))
def test_required_on_create(env, model, f):
    body = env.base(model)
    total = env.total(model)
    del body[f.name]
    r = env.api.post(f"/data/{model}", json=body)
    assert assert_invalid(r, f.name)[f.name] == "required"
    body[f.name] = None
    r = env.api.post(f"/data/{model}", json=body)
    assert assert_invalid(r, f.name)[f.name] == "required"
    if f.type == F.STRING:
        assert_invalid(env.post(model, {f.name: "   "}), f.name, only=False)
    assert env.total(model) == total


REQUIRED_P = _rows(lambda m, f: f.required and f.patch)


@pytest.mark.parametrize(("model", "f"), REQUIRED_P, ids=_ids(REQUIRED_P))
def test_required_cannot_be_nulled_by_patch(env, model, f):
    obj = env.target(model)
    before = env.read(model, obj["id"])
    assert_invalid(env.patch(model, obj["id"], {f.name: None}), f.name)
    assert_invalid(env.patch(model, obj["id"], {f.name: ""}), f.name)
    assert env.read(model, obj["id"]) == before


def test_nothing_required_is_missing_from_an_empty_body(env):
    for model, mdef in MODELS.items():
        if model == "company_profile":
            env.clear_profile()
        r = env.api.post(f"/data/{model}", json={})
        required = {f.name for f in mdef.fields if f.required}
        fields = assert_invalid(r, *required)
        assert all(fields[n] == "required" for n in required), fields


NOT_NULL = _rows(lambda m, f: writable(f) and f.default is not None)


@pytest.mark.parametrize(("model", "f"), NOT_NULL, ids=_ids(NOT_NULL))
def test_bools_and_defaulted_enums_cannot_be_null(env, model, f):
    if f.create:
        fields = assert_invalid(env.post(model, {f.name: None}), f.name)
        assert fields[f.name] == "cannot be null"
        r = env.post(model)
        assert r.status_code == 201
        assert r.get_json()["data"][f.name] == f.default
    if f.patch:
        obj = env.target(model)
        assert_invalid(env.patch(model, obj["id"], {f.name: None}), f.name)


NULLABLE = _rows(
    lambda m, f: (
        f.patch and not f.required and f.default is None and (m.name, f.name) != ("job", "slug")
    )
)


def _stored_pdf(env: Any) -> str:
    """An uploaded CV: cv_blob_id must name a file the server keeps."""
    import io

    from ats.services import files

    with env.api.client.application.app_context():
        return files.store_cv(io.BytesIO(b"%PDF-1.4\n%%EOF\n")).id


@pytest.mark.parametrize(("model", "f"), NULLABLE, ids=_ids(NULLABLE))
def test_null_clears_optional_field(env, model, f):
    value = valid_value(env, model, f)
    assert value is not None
    obj = env.target(model)
    r = env.patch(model, obj["id"], {f.name: value})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["data"][f.name] not in (None, [])
    r = env.patch(model, obj["id"], {f.name: None})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["data"][f.name] is None
    assert env.read(model, obj["id"])["data"][f.name] is None


def test_data_has_every_field(env):
    for model, mdef in MODELS.items():
        obj = env.target(model)
        assert set(obj["data"]) == {f.name for f in mdef.fields}, model


# --- many failures at once, and nothing left behind ---------------------------------------


def all_wrong(model: str) -> dict[str, Any]:
    """A value of the wrong JSON type for every field."""
    wrong = {
        F.STRING: 123,
        F.URL: "javascript:alert(1)",
        F.EMAIL: "not-an-email",
        F.REF: 123,
        F.NUMBER: "many",
        F.INTEGER: "many",
        F.BOOL: 1,
        F.ENUM: "no-such-value",
        F.TAGS: "not-a-list",
        F.LIST: "not-a-list",
        F.DATETIME: "garbage",
        F.DATE: "2026-13-01",
    }
    return {f.name: wrong[f.type] for f in MODELS[model].fields}


@pytest.mark.parametrize("model", list(MODELS))
def test_every_failing_field_listed_on_create(env, model):
    body = env.base(model)  # (clears the company profile)
    total = env.total(model)
    r = env.api.post(f"/data/{model}", json={**body, **all_wrong(model)})
    expected = {f.name for f in MODELS[model].fields if f.create}
    assert_invalid(r, *expected)
    assert env.total(model) == total, "a failed POST left an object behind"


@pytest.mark.parametrize("model", list(MODELS))
def test_every_failing_field_listed_on_patch(env, model):
    obj = env.target(model)
    before = env.read(model, obj["id"])
    r = env.patch(model, obj["id"], all_wrong(model))
    expected = {f.name for f in MODELS[model].fields if f.patch}
    assert_invalid(r, *expected)
    assert env.read(model, obj["id"]) == before, "a failed PATCH changed the object"


def test_one_bad_field_fails_the_whole_patch(env):
    job = env.fresh("job", title="Before", headcount=1)
    before = env.read("job", job["id"])
    r = env.patch("job", job["id"], {"title": "After", "tags": ["x"], "headcount": -1})
    assert_invalid(r, "headcount")
    assert env.read("job", job["id"]) == before
    assert env.api.get("/data/job?tags=x").get_json()["total"] == 0


def test_two_rule_failures_listed_together(env):
    """Failures found by different layers (type, reference, user, cross-field) come together."""
    r = env.post(
        "application",
        {"source_id": "src_" + MISSING_ID, "fit_score": 101, "stage": "nope"},
    )
    assert_invalid(r, "source_id", "fit_score", "stage")
    r = env.post(
        "job",
        {
            "hiring_manager_id": "usr_" + MISSING_ID,
            "team_ids": ["usr_" + MISSING_ID],
            "headcount": -1,
            "title": "",
        },
    )
    assert_invalid(r, "hiring_manager_id", "team_ids", "headcount", "title")
    fields = assert_invalid(
        env.post("job", salary_min=9, salary_max=1, headcount=1.5), "headcount", only=False
    )
    assert set(fields) & {"salary_min", "salary_max"}, fields
    r = env.post("interview", job_id=env.other_job["id"], duration_minutes=0)
    assert_invalid(r, "job_id", "duration_minutes")
    r = env.api.post(
        "/data/application_note",
        json={"parent_kind": "candidate", "parent_id": env.job["id"], "pinned": "yes"},
    )
    assert_invalid(r, "parent_id", "body", "pinned")


# --- date-times and dates -----------------------------------------------------------------

DATETIMES = _rows(lambda m, f: writable(f) and f.type == F.DATETIME)


@pytest.mark.parametrize(("model", "f"), DATETIMES, ids=_ids(DATETIMES))
def test_datetimes_stored_in_utc(env, model, f):
    cases = {
        "2026-11-23T09:15:00+02:00": "2026-11-23T07:15:00.000000Z",
        "2026-11-23T09:15:00Z": "2026-11-23T09:15:00.000000Z",
        "2026-11-23T09:15:00": "2026-11-23T09:15:00.000000Z",  # no offset: UTC
        "2026-11-23T23:30:00.5-05:00": "2026-11-24T04:30:00.500000Z",
        "2026-11-23T09:15:00.123456+02:00": "2026-11-23T07:15:00.123456Z",
    }
    for given, stored in cases.items():
        if f.create:
            r = env.post(model, {f.name: given})
            assert r.status_code == 201, (given, r.get_json())
            assert r.get_json()["data"][f.name] == stored, given
            assert env.read(model, r.get_json()["id"])["data"][f.name] == stored
        if f.patch:
            obj = env.target(model)
            r = env.patch(model, obj["id"], {f.name: given})
            assert r.status_code == 200, (given, r.get_json())
            assert r.get_json()["data"][f.name] == stored, given


def test_target_close_date(env):
    r = env.post("job", target_close_date="2026-12-31")
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["data"]["target_close_date"] == "2026-12-31"
    r = env.patch("job", r.get_json()["id"], {"target_close_date": "2027-02-28"})
    assert r.status_code == 200 and r.get_json()["data"]["target_close_date"] == "2027-02-28"
    for bad in ("2026-13-01", "2026-12-31T00:00:00Z", "2026-12-31T00:00:00"):
        assert_invalid(env.post("job", target_close_date=bad), "target_close_date")


# --- references ---------------------------------------------------------------------------

REFS = _rows(lambda m, f: writable(f) and f.type == F.REF)


@pytest.mark.parametrize(("model", "f"), REFS, ids=_ids(REFS))
def test_reference_must_exist(env, model, f):
    prefix = MODELS[f.ref].prefix
    others = {
        "job": env.candidate["id"],
        "candidate": env.job["id"],
        "source": env.candidate["id"],
        "application": env.job["id"],
    }
    bad = [
        f"{prefix}_{MISSING_ID}",  # well formed, nobody's id
        others[f.ref],  # an existing object of another model
        "nope",
        MISSING_ID,
        f"{prefix}_",
    ]
    obj = env.target(model)
    for value in bad:
        if f.create:
            assert_invalid(env.post_bad(model, {f.name: value}), f.name, ctx=value)
        if f.patch:
            assert_invalid(env.patch(model, obj["id"], {f.name: value}), f.name, ctx=value)


def test_reference_to_a_deleted_object(env):
    src = env.fresh("source")
    assert env.api.delete(f"/data/source/{src['id']}").status_code == 204
    assert_invalid(env.post("application", source_id=src["id"]), "source_id")
    r = env.post("application", source_id=env.source["id"])
    assert r.status_code == 201 and r.get_json()["data"]["source_id"] == env.source["id"]


@pytest.mark.parametrize("kind", ["candidate", "application", "job"])
def test_note_parent_must_exist_for_its_kind(env, kind):
    ids = {
        "candidate": env.candidate["id"],
        "application": env.application["id"],
        "job": env.job["id"],
    }
    r = env.post("application_note", parent_kind=kind, parent_id=ids[kind])
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["data"]["parent_id"] == ids[kind]
    prefix = MODELS[kind].prefix
    for other_kind, other_id in ids.items():
        if other_kind != kind:
            r = env.post("application_note", parent_kind=kind, parent_id=other_id)
            assert_invalid(r, "parent_id")
    for missing in (f"{prefix}_{MISSING_ID}", "nope", env.source["id"]):
        assert_invalid(
            env.post("application_note", parent_kind=kind, parent_id=missing), "parent_id"
        )


def test_interview_copies_candidate_and_job_from_application(env):
    app = env.application
    r = env.post("interview")
    assert r.status_code == 201, r.get_json()
    data = r.get_json()["data"]
    assert data["candidate_id"] == app["data"]["candidate_id"]
    assert data["job_id"] == app["data"]["job_id"]
    r = env.post(
        "interview",
        candidate_id=app["data"]["candidate_id"],
        job_id=app["data"]["job_id"],
    )
    assert r.status_code == 201, r.get_json()
    r = env.post("interview", candidate_id=None, job_id=None)
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["data"]["candidate_id"] == app["data"]["candidate_id"]


def test_interview_mismatch_with_application(env):
    total = env.total("interview")
    other_candidate = env.fresh("candidate")["id"]
    assert_invalid(env.post("interview", candidate_id=other_candidate), "candidate_id")
    assert_invalid(env.post("interview", job_id=env.other_job["id"]), "job_id")
    assert_invalid(
        env.post("interview", candidate_id=other_candidate, job_id=env.other_job["id"]),
        "candidate_id",
        "job_id",
    )
    assert_invalid(env.post("interview", job_id="job_" + MISSING_ID), "job_id")
    assert env.total("interview") == total


@pytest.mark.parametrize(
    ("model", "name", "many"),
    [
        ("job", "team_ids", True),
        ("job", "hiring_manager_id", False),
        ("interview", "interviewer_ids", True),
        ("interview", "interviewer_id", False),
    ],
)
def test_user_references(env, model, name, many):
    users = env.users
    good = users if many else users[1]
    r = env.post(model, {name: good})
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["data"][name] == good
    r = env.patch(model, r.get_json()["id"], {name: [users[0]] if many else users[0]})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["data"][name] == ([users[0]] if many else users[0])
    missing = "usr_" + MISSING_ID
    obj = env.target(model)
    for bad in (missing, env.candidate["id"], "nope"):
        value = [users[0], bad] if many else bad
        assert_invalid(env.post_bad(model, {name: value}), name, ctx=value)
        assert_invalid(env.patch(model, obj["id"], {name: value}), name, ctx=value)
    if many:
        assert_invalid(env.post_bad(model, {name: [users[0], users[0]]}), name)


# --- questions and answers (section 8) ----------------------------------------------------


def test_valid_questions_accepted(env):
    r = env.post("job", screening_questions=SCREENING, knockout_questions=KNOCKOUT)
    assert r.status_code == 201, r.get_json()
    data = r.get_json()["data"]
    for sent, stored in zip(
        SCREENING + KNOCKOUT, data["screening_questions"] + data["knockout_questions"], strict=True
    ):
        for key, value in sent.items():
            assert stored[key] == value, (sent, stored)
    assert [q["id"] for q in data["screening_questions"]] == [q["id"] for q in SCREENING]
    r = env.patch("job", r.get_json()["id"], {"screening_questions": [], "knockout_questions": []})
    assert r.status_code == 200, r.get_json()


def _q(**kw: Any) -> dict[str, Any]:
    return {"id": "q1", "label": "Question?", "type": "text", **kw}


BAD_QUESTIONS = {
    "not an object": ["q1"],
    "choice without choices": [_q(type="choice")],
    "choice with empty choices": [_q(type="choice", choices=[])],
    "repeated choices": [_q(type="choice", choices=["a", "a"])],
    "choices not a list": [_q(type="choice", choices="a,b")],
    "choices on a text question": [_q(choices=["a"])],
    "unknown key": [_q(placeholder="x")],
    "bad type": [_q(type="date")],
    "type missing": [{"id": "q1", "label": "Question?"}],
    "id missing": [{"label": "Question?", "type": "text"}],
    "label missing": [{"id": "q1", "type": "text"}],
    "id not a string": [_q(id=1)],
    "empty label": [_q(label="")],
    "required not a bool": [_q(required="yes")],
    "repeated id": [_q(), _q(label="Again?")],
}


@pytest.mark.parametrize("case", list(BAD_QUESTIONS))
@pytest.mark.parametrize("name", ["screening_questions", "knockout_questions"])
def test_bad_question_shapes(env, name, case):
    questions = BAD_QUESTIONS[case]
    if name == "knockout_questions":
        questions = [{**q, "reject_if": "x"} if isinstance(q, dict) else q for q in questions]
    assert_invalid(env.post_bad("job", {name: questions}), name)
    obj = env.target("job")
    assert_invalid(env.patch("job", obj["id"], {name: questions}), name)


BAD_KNOCKOUTS = {
    "no reject_if": _q(type="yes_no"),
    "reject_if null": _q(type="yes_no", reject_if=None),
    "yes_no reject_if a string": _q(type="yes_no", reject_if="yes"),
    "choice reject_if not a choice": _q(type="choice", choices=["a", "b"], reject_if="c"),
    "choice reject_if list with a stranger": _q(
        type="choice", choices=["a", "b"], reject_if=["a", "c"]
    ),
    "choice reject_if empty list": _q(type="choice", choices=["a", "b"], reject_if=[]),
    "number reject_if a number": _q(type="number", reject_if=3),
    "number reject_if unknown op": _q(type="number", reject_if={"eq": 3}),
    "number reject_if empty": _q(type="number", reject_if={}),
    "number reject_if a string bound": _q(type="number", reject_if={"lt": "3"}),
    "text reject_if empty": _q(reject_if=""),
    "text reject_if a number": _q(reject_if=3),
}


@pytest.mark.parametrize("case", list(BAD_KNOCKOUTS))
def test_bad_knockout_questions(env, case):
    assert_invalid(env.post("job", knockout_questions=[BAD_KNOCKOUTS[case]]), "knockout_questions")


def test_reject_if_only_on_knockout_questions(env):
    r = env.post("job", screening_questions=[_q(type="yes_no", reject_if=True)])
    assert_invalid(r, "screening_questions")


def test_question_ids_unique_across_both_lists(env):
    r = env.post(
        "job",
        screening_questions=[_q()],
        knockout_questions=[_q(type="yes_no", reject_if=True)],
    )
    assert_invalid(r, only=False)
    assert {"screening_questions", "knockout_questions"} & set(r.get_json()["fields"])
    job = env.fresh("job", screening_questions=[_q()])
    r = env.patch("job", job["id"], {"knockout_questions": [_q(type="yes_no", reject_if=True)]})
    assert_invalid(r, "knockout_questions")


@pytest.fixture(scope="module")
def quiz_job(env):
    return env.fresh("job", screening_questions=SCREENING, knockout_questions=KNOCKOUT)


def test_valid_answers_accepted(env, quiz_job):
    answers = [
        {"question_id": "s_text", "value": "Because"},
        {"question_id": "s_years", "value": 5},
        {"question_id": "s_remote", "value": True},
        {"question_id": "s_lang", "value": "de"},
        {"question_id": "k_visa", "value": False},
        {"question_id": "k_years", "value": 3.5},
        {"question_id": "k_city", "value": "Berlin"},
        {"question_id": "k_word", "value": "yes"},
    ]
    r = env.post("application", job_id=quiz_job["id"], answers=answers)
    assert r.status_code == 201, r.get_json()
    stored = r.get_json()["data"]["answers"]
    assert [(a["question_id"], a["value"]) for a in stored] == [
        (a["question_id"], a["value"]) for a in answers
    ]


BAD_ANSWERS = {
    "not a list": {"question_id": "s_text", "value": "x"},
    "item not an object": ["s_text"],
    "unknown question": [{"question_id": "nope", "value": "x"}],
    "question of another job": [{"question_id": "q1", "value": "x"}],
    "yes_no given a string": [{"question_id": "s_remote", "value": "yes"}],
    "yes_no given 1": [{"question_id": "k_visa", "value": 1}],
    "number given a string": [{"question_id": "s_years", "value": "5"}],
    "number given a bool": [{"question_id": "k_years", "value": True}],
    "text given a number": [{"question_id": "s_text", "value": 5}],
    "choice not offered": [{"question_id": "s_lang", "value": "fr"}],
    "value an object": [{"question_id": "s_text", "value": {"a": 1}}],
    "unknown key": [{"question_id": "s_text", "value": "x", "score": 1}],
    "question_id missing": [{"value": "x"}],
    "repeated question": [
        {"question_id": "s_text", "value": "x"},
        {"question_id": "s_text", "value": "y"},
    ],
}


@pytest.mark.parametrize("case", list(BAD_ANSWERS))
def test_bad_answers(env, quiz_job, case):
    total = env.total("application")
    r = env.post_bad("application", job_id=quiz_job["id"], answers=BAD_ANSWERS[case])
    assert_invalid(r, "answers")
    assert env.total("application") == total


def test_answers_to_a_job_without_questions(env):
    r = env.post("application", answers=[{"question_id": "s_text", "value": "x"}])
    assert_invalid(r, "answers")


# --- what is silently ignored -------------------------------------------------------------

CREATE_ONLY = _rows(lambda m, f: f.create and not f.patch)


def _other_value(env: Env, model: str, f: F.Field, current: Any) -> Any:
    """A valid value different from ``current``."""
    if f.type == F.REF:
        return {
            "job": env.other_job["id"],
            "candidate": env.fresh("candidate")["id"],
            "application": env.fresh("application")["id"],
        }[f.ref]
    if model == "interview":  # candidate_id, job_id: those of another application
        return env.fresh("application", job_id=env.other_job["id"])["data"][f.name]
    if f.name == "parent_kind":
        return "candidate"
    if f.name == "parent_id":
        return env.candidate["id"]
    if f.type == F.DATETIME:
        return "2001-01-01T00:00:00Z"
    if f.name == "answers":
        return [{"question_id": "nope", "value": 1}]
    assert f.type == F.STRING, f
    return f"{current or ''} changed"


@pytest.mark.parametrize(("model", "f"), CREATE_ONLY, ids=_ids(CREATE_ONLY))
def test_create_only_fields_ignored_by_patch(env, model, f):
    obj = env.target(model)
    before = env.read(model, obj["id"])
    other = _other_value(env, model, f, before["data"][f.name])
    for value in (other, None, 12345, "garbage"):
        r = env.patch(model, obj["id"], {f.name: value})
        assert r.status_code == 200, (value, r.get_json())
        assert r.get_json()["data"][f.name] == before["data"][f.name]
    assert env.read(model, obj["id"]) == before, "ignored fields must change nothing"
    # mixed with a real change, only the real change lands
    real = next(
        (g for g in MODELS[model].fields if g.patch and g.type in (F.STRING, F.BOOL)),
        None,
    )
    if real is not None:
        value = True if real.type == F.BOOL else "a real change"
        r = env.patch(model, obj["id"], {f.name: other, real.name: value})
        assert r.status_code == 200, r.get_json()
        assert r.get_json()["data"][real.name] == value
        assert r.get_json()["data"][f.name] == before["data"][f.name]


ENVELOPE_JUNK = {
    "id": "job_" + MISSING_ID,
    "object": "something",
    "created_at": "2000-01-01T00:00:00.000000Z",
    "updated_at": "2000-01-01T00:00:00.000000Z",
    "owned_by": "usr_" + MISSING_ID,
    "created_by": "usr_" + MISSING_ID,
    "is_archived": True,
    "data": {"title": "nested"},
    "foo": "bar",
    "data__title": "x",
}


def _junk(model: str) -> dict[str, Any]:
    junk = dict(ENVELOPE_JUNK)
    if not MODELS[model].has_status_field:
        junk["status"] = "deleted"  # the envelope's status
    for f in MODELS[model].fields:
        if f.server_managed:
            junk[f.name] = "2000-01-01T00:00:00Z" if f.type == F.DATETIME else "hired"
    return junk


def _check_not_applied(env: Env, model: str, obj: dict[str, Any]) -> None:
    assert obj["id"] != ENVELOPE_JUNK["id"] and obj["id"].startswith(MODELS[model].prefix + "_")
    assert obj["object"] == model
    assert obj["created_at"] != ENVELOPE_JUNK["created_at"]
    assert obj["updated_at"] != ENVELOPE_JUNK["updated_at"]
    assert obj["owned_by"] == env.api.user_id and obj["created_by"] == env.api.user_id
    assert obj["is_archived"] is False
    assert obj["status"] == "active"
    assert "foo" not in obj["data"] and "foo" not in obj
    for f in MODELS[model].fields:
        if f.server_managed:
            assert obj["data"][f.name] not in ("2000-01-01T00:00:00.000000Z", "hired"), f.name


@pytest.mark.parametrize("model", list(MODELS))
def test_server_managed_and_unknown_keys_ignored_on_create(env, model):
    r = env.post(model, _junk(model))
    assert r.status_code == 201, r.get_json()
    obj = r.get_json()
    _check_not_applied(env, model, obj)
    assert env.read(model, obj["id"]) == obj
    if model == "job":
        assert obj["data"]["title"] == "Backend Engineer"
        assert obj["data"]["opened_at"] is None and obj["data"]["closed_at"] is None
    if model == "application":
        assert obj["data"]["previous_stage"] is None
        assert obj["data"]["last_stage_at"] is not None


@pytest.mark.parametrize("model", list(MODELS))
def test_server_managed_and_unknown_keys_ignored_on_patch(env, model):
    obj = env.target(model)
    before = env.read(model, obj["id"])
    r = env.patch(model, obj["id"], _junk(model))
    assert r.status_code == 200, r.get_json()
    assert r.get_json() == before
    assert env.read(model, obj["id"]) == before


def test_ignored_keys_do_not_hide_errors(env):
    r = env.post("job", {"foo": 1, "id": "x", "headcount": "many"})
    assert_invalid(r, "headcount")


# --- request bodies -----------------------------------------------------------------------


def test_body_must_be_a_json_object(env):
    total = env.total("job")
    headers = env.api.headers({"Content-Type": "application/json"})
    for raw in ("[]", '"title"', "null", "{bad json", ""):
        r = env.api.client.post("/xapi2/data/job", data=raw, headers=headers)
        assert r.status_code == 400, (raw, r.status_code)
        assert r.get_json()["error"] in ("bad_request", "validation_failed"), r.get_json()
    r = env.api.client.post(
        "/xapi2/data/job",
        data='{"title": "T"}',
        headers=env.api.headers({"Content-Type": "text/plain"}),
    )
    assert r.status_code == 415, r.status_code
    assert env.total("job") == total


# --- slugs ---------------------------------------------------------------------------------
# (titles, slugs, names and addresses below are used by no other test of the module)


def test_slug_generated_from_title(env):
    api = env.api
    assert api.job(title="Señor Dev!!")["data"]["slug"] == "senor-dev"
    assert api.job(title="Señor Dev!!")["data"]["slug"] == "senor-dev-2"
    assert api.job(title="señor   dev")["data"]["slug"] == "senor-dev-3"
    assert api.job(title="  Ünïcödé & Co. — Berlin  ")["data"]["slug"] == "unicode-co-berlin"


def test_generated_slug_fits_its_max_length(env):
    api = env.api
    slug = api.job(title="Word " * 40)["data"]["slug"]  # 200 characters
    assert len(slug) <= 120 and slug.startswith("word-word") and not slug.endswith("-")
    second = api.job(title="Word " * 40)["data"]["slug"]
    assert len(second) <= 120 and second.endswith("-2") and second != slug


def test_slug_unchanged_when_title_patched(env):
    api = env.api
    job = api.job(title="First Title")
    r = api.patch(f"/data/job/{job['id']}", json={"title": "Second Title"})
    assert r.status_code == 200
    assert r.get_json()["data"]["title"] == "Second Title"
    assert r.get_json()["data"]["slug"] == "first-title"
    # the old slug stays taken, a new job with the new title gets a fresh one
    assert api.job(title="First Title")["data"]["slug"] == "first-title-2"


def test_explicit_slug(env):
    api = env.api
    assert api.job(title="Anything", slug="my-slug")["data"]["slug"] == "my-slug"
    # a generated slug avoids an explicit one
    assert api.job(title="My Slug")["data"]["slug"] == "my-slug-2"


def test_taken_slug_is_409(env):
    api = env.api
    first = api.job(title="Dev", slug="dev")
    total = env.total("job")
    r = api.post("/data/job", json={"title": "Other", "slug": "dev"})
    assert_conflict(r, "slug")
    assert env.total("job") == total
    other = api.job(title="Other", slug="other")
    r = api.patch(f"/data/job/{other['id']}", json={"slug": "dev", "title": "Renamed"})
    assert_conflict(r, "slug")
    assert api.get(f"/data/job/{other['id']}").get_json() == other
    # patching a job to its own slug is no conflict
    r = api.patch(f"/data/job/{first['id']}", json={"slug": "dev", "title": "Dev 2"})
    assert r.status_code == 200, r.get_json()


def test_bad_slug_is_400(env):
    api = env.api
    job = api.job(title="Slug Target")
    total = env.total("job")
    for bad in ("Bad Slug", "UPPER", "a_b", "señor", "a/b", "", "x" * 121):
        assert_invalid(api.post("/data/job", json={"title": "T", "slug": bad}), "slug")
        assert_invalid(api.patch(f"/data/job/{job['id']}", json={"slug": bad}), "slug")
    assert env.total("job") == total
    assert env.read("job", job["id"]) == job


# --- uniqueness ----------------------------------------------------------------------------


def test_source_name_unique(env):
    api = env.api
    api.create("source", name="LinkedIn")
    total = env.total("source")
    assert_conflict(api.post("/data/source", json={"name": "LinkedIn"}), "name")
    other = api.create("source", name="Indeed")
    assert_conflict(api.patch(f"/data/source/{other['id']}", json={"name": "LinkedIn"}), "name")
    assert env.total("source") == total + 1
    assert env.read("source", other["id"]) == other


def test_candidate_email_unique_case_insensitively(env):
    api = env.api
    api.candidate(email="A@x.io")
    total = env.total("candidate")
    assert_conflict(api.post("/data/candidate", json={"name": "B", "email": "a@X.io"}), "email")
    assert_conflict(api.post("/data/candidate", json={"name": "B", "email": "A@x.io"}), "email")
    other = api.candidate(email="b@x.io")
    assert_conflict(api.patch(f"/data/candidate/{other['id']}", json={"email": "a@x.IO"}), "email")
    assert env.total("candidate") == total + 1
    assert env.read("candidate", other["id"]) == other
    # candidates without an e-mail do not collide
    api.candidate()
    api.candidate()
    # changing the case of one's own address is no conflict
    r = api.patch(f"/data/candidate/{other['id']}", json={"email": "B@X.io"})
    assert r.status_code == 200, r.get_json()


def test_second_application_to_a_job_is_409(env):
    api = env.api
    job, cand = api.job(title="Apply Once"), api.candidate()
    api.application(job=job, candidate=cand)
    total = env.total("application")
    r = api.post("/data/application", json={"job_id": job["id"], "candidate_id": cand["id"]})
    assert_conflict(r, None)
    assert {"candidate_id", "job_id"} & set(r.get_json().get("fields") or {}), r.get_json()
    assert env.total("application") == total
    # the same candidate may apply to another job
    api.application(job=env.other_job, candidate=cand)


def test_second_company_profile_is_409(env):
    env.clear_profile()
    env.api.create("company_profile", name="Acme One")
    r = env.api.post("/data/company_profile", json={"name": "Other"})
    assert_conflict(r, None)
    page = env.api.get("/data/company_profile").get_json()
    assert page["total"] == 1 and page["items"][0]["data"]["name"] == "Acme One"


def test_slug_cannot_be_cleared(api):
    """A job always has a URL name: null is refused on create and on PATCH."""
    job = api.job(title="Slug Keeper")
    r = api.patch(f"/data/job/{job['id']}", json={"slug": None})
    assert r.status_code == 400 and r.get_json()["fields"] == {"slug": "cannot be null"}
    assert api.get(f"/data/job/{job['id']}").get_json()["data"]["slug"] == "slug-keeper"
    r = api.post("/data/job", json={"title": "No Slug", "slug": None})
    assert r.status_code == 400 and r.get_json()["fields"] == {"slug": "cannot be null"}
