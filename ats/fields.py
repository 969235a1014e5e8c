"""The xapi2 field tables (spec section 6), written once, as data.

Everything that knows about a field reads it from here: the SQLAlchemy columns
and indexes (``ats.models``), request validation (``ats.validation``), list
filters and sorts (``ats.services.query``), ``/xapi2/schema`` and the OpenAPI
document (``ats.api.openapi``), and later the CLI flags and the HTML forms.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Field types. "number" is a finite float; "integer" a whole number (spec
# Decision: counts are integers). "datetime"/"date" are ISO 8601 strings on the
# wire and real DateTime/Date columns underneath.
STRING, URL, EMAIL, NUMBER, INTEGER, BOOL, ENUM = (
    "string",
    "url",
    "email",
    "number",
    "integer",
    "bool",
    "enum",
)
TAGS, LIST, DATETIME, DATE, REF = "tags", "list", "datetime", "date", "ref"

# What the items of a "list" field are.
ITEM_STRING, ITEM_USER, ITEM_QUESTION, ITEM_KNOCKOUT, ITEM_ANSWER = (
    "string",
    "user_id",
    "question",
    "knockout_question",
    "answer",
)

TAG_MAX_LENGTH = 64
TAGS_MAX_COUNT = 50
LIST_MAX_COUNT = 100
DATETIME_MAX_LENGTH = 32
QUESTION_TYPES = ("text", "yes_no", "number", "choice")


def humanize(name: str) -> str:
    text = name.replace("_id", "").replace("_url", " URL").replace("_", " ")
    return text[:1].upper() + text[1:]


@dataclass(frozen=True)
class Field:
    """One row of a spec field table."""

    name: str
    type: str
    max_length: int | None = None
    required: bool = False
    create: bool = True
    patch: bool = True
    choices: tuple[str, ...] = ()
    default: Any = None
    minimum: float | None = None
    maximum: float | None = None
    pattern: str | None = None  # a regular expression the whole value matches
    ref: str | None = None  # model name for REF fields
    item: str | None = None  # item kind for LIST fields
    unique: bool = False
    unique_ci: bool = False  # unique, case-insensitively
    data_url: bool = False  # string that may be an https URL or an image data URL
    not_null: bool = False  # optional on create, but once set never null
    description: str = ""
    label: str = ""  # what forms call it; derived from the name when empty

    @property
    def server_managed(self) -> bool:
        return not (self.create or self.patch)

    @property
    def title(self) -> str:
        """The label forms show (and the schema lists)."""
        return self.label or humanize(self.name)

    @property
    def nullable(self) -> bool:
        """Whether null is a value this field can hold (and a request may send)."""
        return not (self.required or self.default is not None or self.not_null)


@dataclass(frozen=True)
class Index:
    """A composite index for a known hot query (beyond one per filter/sort key)."""

    columns: tuple[str, ...]


@dataclass(frozen=True)
class ModelDef:
    name: str
    prefix: str
    fields: tuple[Field, ...]
    filters: tuple[str, ...]
    sorts: tuple[str, ...]
    max_page: int
    default_sort: str
    description: str = ""
    singleton: bool = False
    indexes: tuple[Index, ...] = ()
    # fields whose list items are mirrored into the member table so that
    # "contains" filters use an index
    member_fields: tuple[str, ...] = ()
    by_name: dict[str, Field] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {f.name: f for f in self.fields})

    def __getitem__(self, name: str) -> Field:
        return self.by_name[name]

    @property
    def has_status_field(self) -> bool:
        return "status" in self.by_name


DEFAULT_PAGE_SIZE = 20
KEYSET_SORTS = ("created_at", "-created_at")


def _s(name: str, max_length: int, **kw: Any) -> Field:
    return Field(name, STRING, max_length=max_length, **kw)


def _enum(name: str, *choices: str, **kw: Any) -> Field:
    return Field(name, ENUM, choices=choices, **kw)


def _ref(name: str, model: str, **kw: Any) -> Field:
    return Field(name, REF, max_length=64, ref=model, **kw)


def _url(name: str, **kw: Any) -> Field:
    return Field(name, URL, max_length=2048, **kw)


def _ts(name: str, **kw: Any) -> Field:
    return Field(name, DATETIME, max_length=DATETIME_MAX_LENGTH, **kw)


def _managed(f: Field) -> Field:
    return Field(**{**f.__dict__, "create": False, "patch": False})


STAGES = ("new", "review", "screening", "interview", "offer", "hired", "rejected", "talent_pool")

JOB = ModelDef(
    name="job",
    prefix="job",
    description="A position the company hires for.",
    max_page=200,
    default_sort="created_at",
    fields=(
        _s("title", 200, required=True),
        _s(
            "slug",
            120,
            pattern=r"[a-z0-9-]+",
            unique=True,
            not_null=True,
            description="URL name; generated from the title when absent",
        ),
        _enum("status", "draft", "open", "paused", "closed", "filled", default="draft"),
        Field("public", BOOL, default=False),
        _s("department", 120),
        _s("location", 120),
        _s("country", 80),
        _enum("remote", "onsite", "hybrid", "remote"),
        _enum(
            "employment_type",
            "full_time",
            "part_time",
            "internship",
            "working_student",
            "freelance",
            "contract",
        ),
        _enum("seniority", "junior", "mid", "senior", "lead", "principal"),
        Field("headcount", INTEGER, minimum=0),
        _s("summary", 600),
        _s("description", 16000),
        _s("responsibilities", 8000),
        _s("requirements", 8000),
        _s("nice_to_have", 4000),
        _s("benefits", 4000),
        Field("salary_min", NUMBER, minimum=0, description="at most salary_max"),
        Field("salary_max", NUMBER, minimum=0, description="at least salary_min"),
        _s("currency", 8, pattern=r"[A-Z]{3}", description="ISO 4217 code"),
        _enum("salary_visibility", "public", "team", "private"),
        _s(
            "language",
            16,
            pattern=r"[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*",
            description="BCP 47 tag",
        ),
        _s("color", 24),
        Field("tags", TAGS),
        Field("team_ids", LIST, item=ITEM_USER, description="user ids"),
        _s("hiring_manager_id", 64, description="a user id"),
        Field("target_close_date", DATE, max_length=DATETIME_MAX_LENGTH),
        _url("external_apply_url"),
        Field("ai_screen_enabled", BOOL, default=False),
        _s("ai_screen_prompt", 4000),
        Field("knockout_questions", LIST, item=ITEM_KNOCKOUT),
        Field("screening_questions", LIST, item=ITEM_QUESTION),
        _managed(_ts("opened_at", description="set when status first becomes open")),
        _managed(_ts("closed_at", description="set when status becomes closed or filled")),
    ),
    filters=(
        "title",
        "department",
        "location",
        "employment_type",
        "seniority",
        "remote",
        "status",
        "public",
        "hiring_manager_id",
        "tags",
    ),
    sorts=("created_at", "updated_at", "title", "opened_at", "target_close_date"),
    indexes=(Index(("status", "created_at", "id")),),
    member_fields=("tags", "team_ids"),
)

APPLICATION = ModelDef(
    name="application",
    prefix="app",
    description="A candidate's application to a job: the kanban card.",
    max_page=500,
    default_sort="position",
    fields=(
        _ref("job_id", "job", required=True, patch=False),
        _ref("candidate_id", "candidate", required=True, patch=False),
        _enum("stage", *STAGES, default="new"),
        Field("position", NUMBER, description="order inside its kanban column; default: end"),
        _ref("source_id", "source"),
        _s("source_label", 200),
        _ts("applied_at", patch=False, description="default: now"),
        _s("cover_letter", 16000, patch=False),
        _url("cv_url"),
        _s("cv_blob_id", 64, description="an uploaded file"),
        Field("answers", LIST, item=ITEM_ANSWER, patch=False),
        Field("tags", TAGS),
        _enum(
            "rejected_reason",
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
        _s("rejected_note", 2000),
        Field("fit_score", NUMBER, minimum=0, maximum=100),
        Field("fit_flags", TAGS),
        _s("fit_reasoning", 4000),
        _ts("fit_computed_at"),
        _managed(_s("previous_stage", 32, description="maintained on every stage change")),
        _managed(_ts("last_stage_at", description="maintained on every stage change")),
    ),
    filters=("job_id", "candidate_id", "stage", "source_id", "rejected_reason"),
    sorts=("created_at", "updated_at", "applied_at", "fit_score", "position", "last_stage_at"),
    indexes=(
        # is_archived last (migration 0007): counts by job and stage (the
        # dashboard, the board's columns) and a list's total by stage read the
        # index alone (every list has is_archived in its conditions), while
        # the planner's choice between indexes stays what it was without it
        Index(("job_id", "stage", "position", "id", "is_archived")),
        Index(("job_id", "stage", "fit_score", "id")),
        Index(("stage", "created_at", "id", "is_archived")),
        Index(("candidate_id", "job_id")),
    ),
)

INTERVIEW = ModelDef(
    name="interview",
    prefix="int",
    description="A scheduled conversation or task with a candidate.",
    max_page=200,
    default_sort="scheduled_at",
    fields=(
        _ref("application_id", "application", required=True, patch=False),
        _s("candidate_id", 64, patch=False, description="copied from the application when absent"),
        _s("job_id", 64, patch=False, description="copied from the application when absent"),
        _enum("kind", "phone", "video", "onsite", "take_home"),
        _s("title", 200),
        _ts("scheduled_at", label="Date and time"),
        Field("duration_minutes", INTEGER, minimum=1, maximum=1440, label="Duration (minutes)"),
        _s("interviewer_id", 64, description="a user id", label="Lead interviewer"),
        Field("interviewer_ids", LIST, item=ITEM_USER, description="user ids", label="Panel"),
        _s("location", 200),
        _url("meeting_url"),
        _s("agenda", 4000),
        _s("notes", 8000),
        _enum(
            "status",
            "scheduled",
            "completed",
            "no_show",
            "cancelled",
            "rescheduled",
            default="scheduled",
        ),
        Field(
            "send_invite",
            BOOL,
            default=False,
            description="when true, invitations go out on create and on time changes",
        ),
    ),
    filters=("application_id", "candidate_id", "job_id", "kind", "status", "interviewer_id"),
    sorts=("scheduled_at", "created_at", "updated_at"),
    member_fields=("interviewer_ids",),
)

APPLICATION_NOTE = ModelDef(
    name="application_note",
    prefix="note",
    description="A note on a candidate, application or job; private notes are for their author.",
    max_page=200,
    default_sort="created_at",
    fields=(
        _enum("parent_kind", "candidate", "application", "job", required=True, patch=False),
        _s(
            "parent_id",
            64,
            required=True,
            patch=False,
            description="an existing object of parent_kind",
        ),
        _s("body", 20000, required=True, description="Markdown, rendered sanitised"),
        Field("pinned", BOOL, default=False),
        Field("private", BOOL, default=False),
    ),
    filters=("parent_id", "parent_kind", "pinned", "private"),
    sorts=("created_at", "updated_at"),
    indexes=(Index(("parent_id", "created_at", "id")),),
)

COMPANY_PROFILE = ModelDef(
    name="company_profile",
    prefix="cmp",
    description="Branding, privacy and careers-page settings; one per installation.",
    max_page=5,
    default_sort="created_at",
    singleton=True,
    fields=(
        _s("name", 200, required=True),
        _s("display_name", 200),
        _enum("size", "1-10", "11-50", "51-200", "201-500", "500+"),
        _s("industry", 200),
        _s("summary", 4000),
        _url("website"),
        _s("main_location", 200),
        _s("logo_url", 1_500_000, data_url=True, description="an https URL or an image data URL"),
        _s("banner_url", 2_500_000, data_url=True, description="an https URL or an image data URL"),
        _s("accent_color", 16, pattern=r"#([0-9a-fA-F]{3}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})"),
        _url("imprint_url"),
        _url("privacy_url"),
        Field("show_about", BOOL, default=False),
        Field("show_other_jobs", BOOL, default=False),
        Field("public_careers_enabled", BOOL, default=False),
        _enum("retention_unit", "weeks", "months", "years"),
        Field("retention_value", INTEGER, minimum=1),
    ),
    filters=(),
    sorts=("created_at", "updated_at"),
)

CANDIDATE = ModelDef(
    name="candidate",
    prefix="cand",
    description="A person who applies; one record per e-mail address.",
    max_page=200,
    default_sort="created_at",
    fields=(
        _s("name", 200, required=True),
        Field("email", EMAIL, max_length=320, unique_ci=True),
        _s("phone", 64),
        _s("location", 200),
        _url("linkedin_url"),
        Field("tags", TAGS),
        Field(
            "consent_talent_pool",
            BOOL,
            default=False,
            description="may be kept past retention for future roles",
        ),
    ),
    filters=("email", "tags"),
    sorts=("created_at", "updated_at", "name"),
    member_fields=("tags",),
)

SOURCE = ModelDef(
    name="source",
    prefix="src",
    description="Where applications come from.",
    max_page=200,
    default_sort="name",
    fields=(
        _s("name", 200, required=True, unique=True),
        _enum("kind", "careers_page", "job_board", "referral", "agency", "sourcing", "other"),
    ),
    filters=("name", "kind"),
    sorts=("name", "created_at", "updated_at"),
)

MODELS: dict[str, ModelDef] = {
    m.name: m
    for m in (JOB, APPLICATION, INTERVIEW, APPLICATION_NOTE, COMPANY_PROFILE, CANDIDATE, SOURCE)
}

# Envelope (section 3): server-managed, present on every object.
ENVELOPE_SORTS = ("created_at", "updated_at")
# The system filter keys every model accepts (section 5). "status" is the
# envelope's only where the model has no status field of its own.
ENVELOPE_FILTERS: dict[str, Field] = {
    "is_archived": Field("is_archived", BOOL, create=False, patch=False),
    "owned_by": Field("owned_by", STRING, max_length=64, create=False, patch=False),
    "created_by": Field("created_by", STRING, max_length=64, create=False, patch=False),
    "status": Field("status", ENUM, choices=("active",), create=False, patch=False),
}
ACTIONS = ("list", "read", "create", "update", "delete")
