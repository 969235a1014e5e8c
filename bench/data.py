"""The data set of the benchmarks at scale (issue 7), made deterministically.

200 jobs, 100,000 candidates, 200,000 applications, 50,000 interviews and
100,000 notes, the same on every run (a seeded generator; ids are ULIDs built
from each row's creation time and seeded randomness). Rows go in through the
model layer: each body is checked by ``ats.validation.clean`` as an API body
would be, becomes a model object with the field defaults, gets its derived
fields from ``ats.services.rules.derive`` (slugs, e-mail keys, stage times),
its list items as ``FieldMember`` objects and its first stage as a
``StageChange``, and is written by an ORM flush of a few thousand objects at a
time, with the engine events of the automations (fit scoring, invitations)
watching as on any other path. What is left out is only the per-row reference
and uniqueness SELECTs of ``records.create``: the generator makes no dangling
ids and no duplicates, and the database's constraints would refuse them.

The SQLite file is kept at ``/tmp/ats-bench/data-v<VERSION>.sqlite3`` and
reused while VERSION is unchanged; on PostgreSQL the database is named
``ats_bench_v<VERSION>``, made on the server given and reused the same way.

    .venv/bin/python bench/data.py                       # SQLite: make (or find) it
    .venv/bin/python bench/data.py --postgres postgresql+psycopg://postgres@127.0.0.1:5434/postgres
    .venv/bin/python bench/data.py --force               # make it again

Other scripts: ``from bench.data import ensure_sqlite, ensure_postgres, META``.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

VERSION = 2  # 2: tokens of the pat_<prefix>_<secret> format (migration 0008)
SEED = 7
CACHE = Path("/tmp/ats-bench")
COUNTS = {
    "job": 200,
    "candidate": 100_000,
    "application": 200_000,
    "interview": 50_000,
    "application_note": 100_000,
}
KANBAN_CARDS = 2000  # applications of the first job: the kanban workload
BATCH = 5000
# pat_<8-character prefix>_<43 characters>, like every token (ats.services.auth)
TOKEN = f"pat_benchv{VERSION:02d}_not-a-secret-only-for-benchmarks-on-loopbac"  # noqa: S105
USER_EMAIL = "bench@example.com"
USER_PASSWORD = "velvet-otter-harbour-9"  # noqa: S105
START = datetime(2025, 1, 1)
# stage mix of the applications: about a third are in review or screening
STAGE_WEIGHTS = {
    "new": 25,
    "review": 20,
    "screening": 15,
    "interview": 12,
    "offer": 3,
    "hired": 2,
    "rejected": 20,
    "talent_pool": 3,
}
FIRST = ["Anna", "Ben", "Clara", "David", "Elif", "Finn", "Greta", "Hamid", "Ida", "Jonas"]
LAST = ["Schmidt", "Meyer", "Yilmaz", "Novak", "Rossi", "Kowalski", "Dubois", "Berg", "Lind"]
CITIES = ["Berlin", "Hamburg", "Munich", "Cologne", "Leipzig", "Vienna", "Zurich", "Remote"]
DEPARTMENTS = ["Engineering", "Sales", "Marketing", "Operations", "Finance", "People"]
SKILLS = ["python", "go", "sql", "react", "sales", "design", "ops", "finance", "german"]


@dataclass
class Meta:
    """What the workloads need to know about a generated database."""

    url: str
    version: int = VERSION
    token: str = TOKEN
    user_email: str = USER_EMAIL
    user_password: str = USER_PASSWORD
    kanban_job: str = ""  # the job with KANBAN_CARDS applications
    job_ids: list[str] = field(default_factory=list)
    candidate_ids: list[str] = field(default_factory=list)  # a sample, for creates
    application_ids: list[str] = field(default_factory=list)  # a sample, for reads
    load_seconds: dict[str, float] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)


def _ulid(prefix: str, at: datetime, rng: random.Random) -> str:
    from ulid import ULID

    ms = int((at - datetime(1970, 1, 1)).total_seconds() * 1000)
    return f"{prefix}_{ULID.from_bytes(ms.to_bytes(6, 'big') + rng.randbytes(10))}"


def _meta_path(url: str) -> Path:
    key = "sqlite" if url.startswith("sqlite") else "postgres"
    return CACHE / f"data-v{VERSION}-{key}.json"


def sqlite_path() -> Path:
    return CACHE / f"data-v{VERSION}.sqlite3"


def _app(url: str) -> Any:
    from ats import create_app

    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "SECRET_KEY": "bench",
            "DATA_DIR": str(CACHE / "files"),
            "SMTP_URL": None,
            "LLM_URL": None,
        }
    )


def generate(url: str) -> Meta:
    """Migrate the (empty) database at ``url`` and fill it; what was made."""
    from flask_migrate import upgrade

    from ats import fields as F
    from ats.database import writing
    from ats.extensions import db
    from ats.models import RECORDS, ApiToken, FieldMember, StageChange
    from ats.services import auth, rules
    from ats.validation import clean

    rng = random.Random(SEED)
    meta = Meta(url=url)
    app = _app(url)
    with app.app_context():
        upgrade()
        user = auth.create_user(USER_EMAIL, USER_PASSWORD, "Bench Recruiter", "admin")
        me = auth.actor_for_user(user)
        with writing():
            db.session.add(
                ApiToken(
                    id=_ulid("tok", START, rng),
                    user_id=user.id,
                    name="bench",
                    token_hash=auth.hash_token(TOKEN),
                    prefix=auth.token_prefix(TOKEN),
                    key_id=auth.derived_keys(auth.TOKEN_KEY)[0][0],
                    hint=TOKEN[:12],
                    scopes=["*"],
                )
            )
            profile = RECORDS["company_profile"](
                id=_ulid("cpr", START, rng), owned_by=user.id, created_by=user.id
            )
            db.session.add(profile)
            for f in F.COMPANY_PROFILE.fields:
                if f.default is not None:
                    setattr(profile, f.name, f.default)
            profile.name = "Bench GmbH"
            profile.public_careers_enabled = True

        def make(mdef: F.ModelDef, body: dict[str, Any], at: datetime) -> Any:
            values, errors = clean(mdef, body, "create")
            if errors:
                raise ValueError(f"{mdef.name}: {errors} for {body}")
            obj = RECORDS[mdef.name](
                id=_ulid(mdef.prefix, at, rng),
                owned_by=me.user_id,
                created_by=me.user_id,
                created_at=at,
                updated_at=at,
            )
            for f in mdef.fields:
                if f.default is not None:
                    setattr(obj, f.name, f.default)
            with db.session.no_autoflush:
                for name, value in values.items():
                    setattr(obj, name, value)
                rules.derive(mdef, obj, values, True, set(values))
            for name in mdef.member_fields:
                for v in values.get(name) or []:
                    db.session.add(
                        FieldMember(model=mdef.name, field=name, value=v, object_id=obj.id)
                    )
            db.session.add(obj)
            return obj

        def load(model: str, bodies: Any) -> list[str]:
            """Write (body, created_at, fix-up) triples in batches; the new ids."""
            mdef = F.MODELS[model]
            ids: list[str] = []
            started = time.perf_counter()
            batch = 0
            for body, at, fix in bodies:
                if batch == 0:
                    ctx = writing()
                    ctx.__enter__()
                obj = make(mdef, body, at)
                if fix:
                    fix(obj)
                ids.append(obj.id)
                batch += 1
                if batch == BATCH:
                    ctx.__exit__(None, None, None)
                    db.session.expunge_all()
                    batch = 0
            if batch:
                ctx.__exit__(None, None, None)
                db.session.expunge_all()
            meta.load_seconds[model] = time.perf_counter() - started
            meta.rows[model] = len(ids)
            return ids

        # jobs: over the first 30 days; most open and public
        def jobs() -> Any:
            for i in range(COUNTS["job"]):
                at = START + timedelta(hours=3 * i)
                body = {
                    "title": f"{rng.choice(['Senior', 'Junior', 'Lead', ''])} "
                    f"{rng.choice(SKILLS).title()} {rng.choice(['Engineer', 'Manager', 'Analyst'])}"
                    f" {i}".strip(),
                    "status": "open" if i % 5 else rng.choice(["draft", "paused", "closed"]),
                    "public": i % 3 != 0,
                    "department": rng.choice(DEPARTMENTS),
                    "location": rng.choice(CITIES),
                    "remote": rng.choice(["onsite", "hybrid", "remote"]),
                    "employment_type": "full_time",
                    "headcount": 1 + i % 3,
                    "summary": "A role on a bench team; nothing here is real.",
                    "description": "We are looking for someone. " * 20,
                    "salary_min": 40000 + 1000 * (i % 30),
                    "salary_max": 60000 + 1000 * (i % 30),
                    "currency": "EUR",
                    "tags": sorted({rng.choice(SKILLS), rng.choice(SKILLS)}),
                }

                def fix(obj: Any, at: datetime = at) -> None:
                    if obj.opened_at is not None:
                        obj.opened_at = at

                yield body, at, fix

        job_ids = load("job", jobs())
        meta.job_ids = job_ids
        meta.kanban_job = job_ids[0]

        # candidates: one every 5 minutes from the start
        def candidates() -> Any:
            for i in range(COUNTS["candidate"]):
                at = START + timedelta(minutes=5 * i)
                first, last = rng.choice(FIRST), rng.choice(LAST)
                body = {
                    "name": f"{first} {last} {i}",
                    "email": f"{first}.{last}.{i}@example.com".lower(),
                    "phone": f"+49 30 {i:07d}",
                    "location": rng.choice(CITIES),
                    "tags": sorted({rng.choice(SKILLS), rng.choice(SKILLS)}),
                    "consent_talent_pool": i % 4 == 0,
                }
                yield body, at, None

        cand_ids = load("candidate", candidates())
        meta.candidate_ids = cand_ids[::1000]

        # applications: two per candidate (different jobs); the first KANBAN_CARDS
        # candidates' first applications all go to the first job
        stages, weights = list(STAGE_WEIGHTS), list(STAGE_WEIGHTS.values())
        positions: dict[tuple[str, str], float] = {}
        app_parties: list[tuple[str, str]] = []

        def applications() -> Any:
            n_cand = len(cand_ids)
            for i in range(COUNTS["application"]):
                c, rnd = i % n_cand, i // n_cand
                if rnd == 0 and c < KANBAN_CARDS:
                    j = 0
                else:
                    j = 1 + (7 * c + 101 * rnd) % (len(job_ids) - 1)
                at = START + timedelta(days=30, seconds=200 * i)
                stage = rng.choices(stages, weights)[0]
                key = (job_ids[j], stage)
                positions[key] = positions.get(key, 0.0) + 1.0
                body: dict[str, Any] = {
                    "job_id": job_ids[j],
                    "candidate_id": cand_ids[c],
                    "stage": stage,
                    "position": positions[key],
                    "source_label": rng.choice(["careers_page", "linkedin", "referral"]),
                    "applied_at": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "tags": [rng.choice(SKILLS)],
                    "fit_score": round(rng.uniform(0, 100), 1),
                    "fit_flags": [],
                    "fit_reasoning": "Matches some of the requirements.",
                }
                if stage == "rejected":
                    body["rejected_reason"] = rng.choice(["not_qualified", "withdrew", "other"])
                app_parties.append((cand_ids[c], job_ids[j]))

                def fix(obj: Any, at: datetime = at) -> None:
                    obj.last_stage_at = at
                    db.session.add(
                        StageChange(
                            application_id=obj.id,
                            from_stage=None,
                            to_stage=obj.stage,
                            at=at,
                            by_user=me.user_id,
                        )
                    )

                yield body, at, fix

        app_ids = load("application", applications())
        meta.application_ids = app_ids[::997]

        def interviews() -> Any:
            step = len(app_ids) // COUNTS["interview"]
            for i in range(COUNTS["interview"]):
                a = i * step
                at = START + timedelta(days=31, seconds=200 * a + 3600)
                cand, job = app_parties[a]
                body = {
                    "application_id": app_ids[a],
                    "candidate_id": cand,
                    "job_id": job,
                    "kind": rng.choice(["phone", "video", "onsite"]),
                    "title": "First conversation",
                    "scheduled_at": (at + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "duration_minutes": 45,
                    "interviewer_id": me.user_id,
                    "status": rng.choice(["scheduled", "completed", "completed", "cancelled"]),
                }
                yield body, at, None

        load("interview", interviews())

        def notes() -> Any:
            for i in range(COUNTS["application_note"]):
                kind = ("application", "application", "candidate", "job")[i % 4]
                if kind == "application":
                    parent = app_ids[(i * 2) % len(app_ids)]
                elif kind == "candidate":
                    parent = cand_ids[(i * 3) % len(cand_ids)]
                else:
                    parent = job_ids[i % len(job_ids)]
                at = START + timedelta(days=32, seconds=400 * i)
                body = {
                    "parent_kind": kind,
                    "parent_id": parent,
                    "body": f"Note {i}: talked about **{rng.choice(SKILLS)}**; follow up.",
                    "pinned": i % 50 == 0,
                    "private": i % 20 == 0,
                }
                yield body, at, None

        load("application_note", notes())
        if db.engine.dialect.name == "sqlite":
            db.session.execute(db.text("ANALYZE"))
            db.session.commit()
            with db.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        else:
            db.session.commit()
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM ANALYZE")
        db.session.remove()
        db.engine.dispose()
    return meta


def upgrade_to_head(url: str) -> None:
    """Apply migrations newer than the cached data (as `make run` does at start)."""
    from flask_migrate import upgrade

    from ats.extensions import db

    app = _app(url)
    with app.app_context():
        upgrade()
        db.session.execute(db.text("ANALYZE"))  # statistics for new indexes too
        db.session.commit()
        db.engine.dispose()


def _save(meta: Meta) -> None:
    _meta_path(meta.url).write_text(json.dumps(asdict(meta)))


def _load_meta(url: str) -> Meta | None:
    path = _meta_path(url)
    if not path.exists():
        return None
    meta = Meta(**json.loads(path.read_text()))
    return meta if meta.version == VERSION and meta.url == url else None


def ensure_sqlite(force: bool = False) -> Meta:
    """The generated SQLite file (made on first use); copy it before writing to it."""
    CACHE.mkdir(parents=True, exist_ok=True)
    path = sqlite_path()
    url = f"sqlite:///{path}"
    meta = _load_meta(url)
    if meta is not None and path.exists() and not force:
        upgrade_to_head(url)
        return meta
    for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        p.unlink(missing_ok=True)
    partial = path.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    meta = generate(f"sqlite:///{partial}")
    shutil.move(partial, path)
    meta.url = url
    _save(meta)
    return meta


def copy_sqlite(meta: Meta, target: Path) -> str:
    """A private copy of the generated SQLite file (for runs that write); its URL."""
    shutil.copyfile(sqlite_path(), target)
    return f"sqlite:///{target}"


def _pg_admin(server_url: str, sql: str) -> None:
    from sqlalchemy import create_engine

    engine = create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(sql)
    finally:
        engine.dispose()


def _with_db(server_url: str, name: str) -> str:
    return server_url.rsplit("/", 1)[0] + "/" + name


def ensure_postgres(server_url: str, force: bool = False) -> Meta:
    """The generated database on this PostgreSQL server (``.../postgres`` URL)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    name = f"ats_bench_v{VERSION}"
    url = _with_db(server_url, name)
    meta = _load_meta(url)
    if meta is not None and not force:
        upgrade_to_head(url)
        return meta
    _pg_admin(server_url, f"DROP DATABASE IF EXISTS {name}")
    _pg_admin(server_url, f"CREATE DATABASE {name}")
    meta = generate(url)
    _save(meta)
    return meta


def copy_postgres(meta: Meta, run: str) -> str:
    """A private copy (CREATE DATABASE ... TEMPLATE) for runs that write; its URL."""
    server = _with_db(meta.url, "postgres")
    name = f"ats_bench_run_{run}"
    _pg_admin(server, f"DROP DATABASE IF EXISTS {name}")
    _pg_admin(server, f"CREATE DATABASE {name} TEMPLATE {meta.url.rsplit('/', 1)[1]}")
    return _with_db(meta.url, name)


def drop_postgres_copy(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    _pg_admin(_with_db(url, "postgres"), f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def print_load(meta: Meta) -> None:
    total_rows = sum(meta.rows.values())
    total_s = sum(meta.load_seconds.values())
    print("| model | rows | seconds | rows/s |\n|---|---|---|---|")
    for model, rows in meta.rows.items():
        s = meta.load_seconds[model]
        print(f"| {model} | {rows:,} | {s:.1f} | {rows / s:,.0f} |")
    print(f"| all | {total_rows:,} | {total_s:.1f} | {total_rows / total_s:,.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres", metavar="URL", help="a PostgreSQL server URL (.../postgres)")
    parser.add_argument("--force", action="store_true", help="generate again")
    args = parser.parse_args()
    started = time.perf_counter()
    if args.postgres:
        meta = ensure_postgres(args.postgres, args.force)
    else:
        meta = ensure_sqlite(args.force)
    print(f"{meta.url} (version {meta.version}), ready after {time.perf_counter() - started:.1f} s")
    print("load through the model layer when it was made (migrations not counted):\n")
    print_load(meta)


if __name__ == "__main__":
    main()
