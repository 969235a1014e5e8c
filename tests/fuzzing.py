"""What tests/test_fuzz.py and bench/fuzz.py share to fuzz xapi2 with Schemathesis
against its own ``/xapi2/openapi.json``, in-process (WSGI): the configuration
(every check on), the objects seeded so that ids sometimes name real rows, and the
one check of Schemathesis that needs telling what the document cannot say.

Schemathesis' ``positive_data_acceptance`` expects every request valid under the
document to be accepted. A few rules cannot be written in JSON Schema: an id must
name an existing row, ``salary_min`` at most ``salary_max``, ``after`` not with
``offset``, a search needs a word... (``BEYOND_SCHEMA``; the document says each in
its description). ``accepts_schema_valid_requests`` is that check with those rules
known: a schema-valid request may be refused with 400 only when every field the
answer blames is refused by one of them. Every other refusal of valid data is a
fault of the document or of the API.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import schemathesis
from flask.testing import FlaskClient
from hypothesis import strategies as st

from ats.services.idempotency import HEADER, KEY_MAX_LENGTH

OPENAPI = "/xapi2/openapi.json"
RATE_LIMIT_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")

# The rules JSON Schema cannot express, by the API's words for them (ats/services/
# rules.py, records.py, query.py, search.py, validation.py).
BEYOND_SCHEMA = [
    re.compile(p)
    for p in (
        r"^no \w+ with id ",  # a reference or a user id must name an existing row
        r"^no uploaded file ",  # cv_blob_id
        r"^must be the application's \w+ ",  # an interview's candidate_id and job_id
        r"^salary_min must not exceed salary_max$",
        r"^question ids must differ across both lists",
        r"^item \d+: (id|question_id) .* is repeated$",  # unique by one key of an object
        r"^item \d+: reject_if must be one or more of the question's choices$",
        r"^item \d+: the job has no question ",  # answers name the job's questions ...
        r"^item \d+: value must be ",  # ... and fit their type
        r"^use either after or offset, not both$",
        r"^keyset paging needs sort=created_at or sort=-created_at$",
        r"^unknown \w+ id ",  # after
        r"^\w+ is given twice$",  # sort
        r"^nothing to search for",  # q: at least one word of letters or digits,
        r"^at most \d+ words or quoted phrases$",  # at most so many,
        r"^give at least one word that is not excluded",  # not all excluded
    )
]
# Answers a schema-valid request may get whatever it holds: 2xx; 401/403 are not
# the body's doing; 404 for ids that name nothing; 409 for values taken; 422 for
# an Idempotency-Key sent again with another request (the generator reuses keys);
# 429 past the rate limit.
ACCEPTED = {401, 403, 404, 409, 422, 429}


class SchemaValidRequestRejected(AssertionError):
    """A request the document calls valid was refused for a reason it does not give."""


def beyond_schema(message: str) -> bool:
    return any(p.search(message) for p in BEYOND_SCHEMA)


@schemathesis.check
def accepts_schema_valid_requests(ctx: Any, response: Any, case: Any) -> bool | None:
    """``positive_data_acceptance``, told the rules the document cannot express."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return None
    status = response.status_code
    if status < 300 or status in ACCEPTED:
        return None
    if status == 400:
        try:
            body = response.json()
        except ValueError:
            body = {}
        reasons = (body.get("fields") or {"": body.get("message", "")}).values()
        if all(beyond_schema(str(reason)) for reason in reasons):
            return None
    raise SchemaValidRequestRejected(
        f"a request valid under the document got {status}: {response.text[:500]}"
    )


def config(token: str, max_examples: int, seed: int = 1, **extra: Any) -> Any:
    """Schemathesis' configuration: every check, ``positive_data_acceptance`` replaced
    by ``accepts_schema_valid_requests`` (above), the admin token on every request."""
    return schemathesis.Config.from_dict(
        {
            "seed": seed,
            "headers": {"Authorization": f"Bearer {token}"},
            # the same requests on every run (Hypothesis' derandomize), and no example
            # database: nothing kept between runs, nothing shared between workers
            "generation": {"max-examples": max_examples, "deterministic": True, "database": "none"},
            "suppress-health-check": ["too_slow", "filter_too_much", "data_too_large"],
            "checks": {"positive_data_acceptance": {"enabled": False}},
            **extra,
        }
    )


# --- a few real objects -------------------------------------------------------------


@dataclass
class World:
    """The ids of the seeded objects per model, and the bodies they were made from."""

    ids: dict[str, list[str]] = field(default_factory=dict)
    bodies: dict[str, dict[str, Any]] = field(default_factory=dict)
    user_id: str = ""


def seed(client: FlaskClient, token: str, user_id: str) -> World:
    """One of each model, linked: a job with an application of a candidate from a
    source, an interview and a note on it, and the company profile. Made through
    the API, so they are what it makes."""
    world = World(user_id=user_id)
    headers = {"Authorization": f"Bearer {token}"}

    def make(model: str, body: dict[str, Any]) -> str:
        r = client.post(f"/xapi2/data/{model}", json=body, headers=headers)
        assert r.status_code == 201, (model, r.get_json())
        world.ids.setdefault(model, []).append(r.get_json()["id"])
        world.bodies.setdefault(model, body)
        return r.get_json()["id"]

    source = make("source", {"name": "Referral", "kind": "referral"})
    job = make(
        "job",
        {
            "title": "Backend Engineer",
            "slug": "backend-engineer",
            "status": "open",
            "hiring_manager_id": user_id,
            "team_ids": [user_id],
            "tags": ["python"],
            "screening_questions": [{"id": "years", "label": "Years?", "type": "number"}],
        },
    )
    candidate = make("candidate", {"name": "Ada Lovelace", "email": "ada@example.com"})
    application = make(
        "application",
        {
            "job_id": job,
            "candidate_id": candidate,
            "source_id": source,
            "answers": [{"question_id": "years", "value": 5}],
        },
    )
    make("interview", {"application_id": application, "interviewer_id": user_id})
    make("application_note", {"parent_kind": "application", "parent_id": application, "body": "ok"})
    make("company_profile", {"name": "Acme"})
    return world


def model_of(path: str) -> str | None:
    """``/xapi2/data/job/{id}/archive`` -> ``job``."""
    m = re.match(r"^/xapi2/data/(\w+)", path)
    return m.group(1) if m else None


def use_real_ids(schema: Any, world: World) -> None:
    """Path ids are drawn from the seeded rows half of the time (else anything), so
    that reads, changes, archiving and deletes reach real objects."""

    @schema.hook
    def before_generate_path_parameters(context: Any, strategy: Any) -> Any:
        ids = world.ids.get(model_of(context.operation.path) or "")
        if not ids or "{id}" not in context.operation.path:
            return strategy
        return st.one_of(strategy, st.sampled_from(ids).map(lambda i: {"id": i}))


_KEYS = iter(range(10**12))
_VALID_KEY = re.compile(rf"[ -~]{{1,{KEY_MAX_LENGTH}}}")


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    """Generators draw the same few Idempotency-Keys ("0", "00"...) for every POST,
    so most creations would be a 422 (a key reused with another request) before
    their body is read. Three keys in four get a number of their own; the fourth
    keeps the key drawn, so replays and 422s still happen. Only keys valid as drawn
    are changed, and they stay valid: an invalid one must stay invalid.

    (A global hook: Schemathesis runs ``before_call`` in every phase, the
    ``map_headers`` of a schema not in the coverage phase. The change is not
    "seen" as an edit of the case (``_sync_validated_hashes``): the key stays as
    valid as it was, and an edited case is checked again and loses what its
    coverage scenario was, such as "no Authorization header".)"""
    headers = case.headers
    key = (headers or {}).get(HEADER)
    if key is None:
        return
    n = next(_KEYS)
    if not isinstance(key, str) or not _VALID_KEY.fullmatch(key) or n % 4 == 0:
        return
    suffix = f"-{n}"
    headers[HEADER] = key[: KEY_MAX_LENGTH - len(suffix)] + suffix
    case._sync_validated_hashes()


# --- a run ---------------------------------------------------------------------------


@dataclass
class Failure:
    operation: str
    check: str
    title: str
    message: str
    request: str  # method, URL and the start of the body
    status: int | None
    response: str

    def __str__(self) -> str:
        return (
            f"{self.operation}: {self.check}: {self.title}\n{self.message}\n"
            f"  > {self.request}\n  < {self.status} {self.response}"
        )


@dataclass
class Report:
    """What a run sent and saw: requests and statuses per operation, failures, errors."""

    statuses: dict[str, Counter] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    excused: Counter = field(default_factory=Counter)  # failures that are documented behaviour
    seconds: float = 0.0
    cpu: float = 0.0  # CPU seconds of this process, where measured (bench/fuzz.py)

    @property
    def requests(self) -> int:
        return sum(sum(c.values()) for c in self.statuses.values())

    def failures_by_check(self) -> Counter:
        return Counter(f.check for f in self.failures)


def _wsgi_probes_fix() -> None:
    """Schemathesis 4.32's ``ignored_auth`` probe hands the WSGI transport the
    network session's options (``max_redirects``...), which Werkzeug's test client
    refuses: drop them where no network session is used."""
    from schemathesis.transport import wsgi

    send = wsgi.WSGITransport.send
    if getattr(send, "ats_fixed", False):
        return

    def fixed(self: Any, case: Any, *, session: Any = None, **kwargs: Any) -> Any:
        if session is None:
            for name in ("max_redirects", "verify", "cert", "proxies"):
                kwargs.pop(name, None)
        return send(self, case, session=session, **kwargs)

    fixed.ats_fixed = True  # type: ignore[attr-defined]
    wsgi.WSGITransport.send = fixed  # type: ignore[method-assign]


def _describe(interaction: Any) -> tuple[str, int | None, str]:
    if interaction is None:
        return "?", None, ""
    request = interaction.request
    body = request.body or b""
    if isinstance(body, bytes):
        body = body[:300].decode("utf-8", "replace")
    sent = f"{request.method} {request.uri} {str(body)[:300]}".rstrip()
    response = interaction.response
    if response is None:
        return sent, None, ""
    return sent, response.status_code, response.content[:300].decode("utf-8", "replace")


def _replayed(recorder: Any, case_id: str) -> bool:
    """Whether the object a request did not find was "created" by a replayed POST:
    an Idempotency-Key sent again gets the first answer again (documented), even
    when that object has been deleted since, as the stateful phase does."""
    parent = recorder.find_parent(case_id=case_id)
    response = recorder.find_response(case_id=parent.id) if parent else None
    return response is not None and "true" in response.headers.get("idempotent-replayed", [])


def run(schema: Any) -> Report:
    """Run Schemathesis' engine (every phase: examples, coverage, fuzzing,
    stateful) over the schema and collect what it did."""
    import time

    from schemathesis.engine import events, from_schema

    global _KEYS
    _KEYS = iter(range(10**12))  # the same keys changed on every run
    _wsgi_probes_fix()
    report = Report()
    started = time.perf_counter()
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished | events.FuzzScenarioFinished):
            recorder = event.recorder
            for case_id, interaction in recorder.interactions.items():
                node = recorder.cases.get(case_id)
                label = node.value.operation.label if node else recorder.label
                if interaction.response is not None:
                    report.statuses.setdefault(label, Counter())[
                        interaction.response.status_code
                    ] += 1
            for case_id, checks in recorder.checks.items():
                for check in checks:
                    if check.failure_info is None:
                        continue
                    if check.name == "ensure_resource_availability" and _replayed(
                        recorder, case_id
                    ):
                        report.excused[check.name] += 1
                        continue
                    failure = check.failure_info.failure
                    node = recorder.cases.get(case_id)
                    sent, status, answer = _describe(recorder.interactions.get(case_id))
                    report.failures.append(
                        Failure(
                            operation=node.value.operation.label if node else recorder.label,
                            check=check.name,
                            title=getattr(failure, "title", type(failure).__name__),
                            message=str(getattr(failure, "message", failure))[:1000],
                            request=sent,
                            status=status,
                            response=answer,
                        )
                    )
        elif isinstance(event, events.NonFatalError):
            report.errors.append(f"{event.label}: {event.info.format()}"[:2000])
        elif isinstance(event, events.FatalError):
            raise event.exception
    report.seconds = time.perf_counter() - started
    return report


def documented(doc: dict[str, Any]) -> Iterable[tuple[str, str, dict[str, Any]]]:
    """(method, path, operation) of every operation in the document."""
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method in ("get", "post", "patch", "delete", "put"):
                yield method.upper(), path, op
