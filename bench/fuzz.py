"""xapi2 fuzzed against its OpenAPI document, at length (issue 8): the run of
tests/test_fuzz.py with many more examples and every Schemathesis phase
(examples, coverage, fuzzing, stateful), in-process (WSGI), on a fresh database:
SQLite by default, PostgreSQL with --postgres SERVER_URL (a database is created on
it for the run and dropped after). Prints a table: operations, requests sent,
failures by kind, time; and every distinct failure after it.

    .venv/bin/python bench/fuzz.py                       # SQLite, 100 examples
    .venv/bin/python bench/fuzz.py --examples 400 --seed 7
    .venv/bin/python bench/fuzz.py --postgres postgresql+psycopg://postgres@127.0.0.1:5440/postgres
    .venv/bin/python bench/fuzz.py --sqlite --postgres URL  # both

Exit status 1 when anything failed.
"""

from __future__ import annotations

import argparse
import os
import resource
import secrets
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.data import _pg_admin  # noqa: E402

PHASES = ("examples", "coverage", "fuzzing", "stateful")


def fuzz(url: str, data_dir: Path, examples: int, seed: int, phases: list[str]) -> object:
    """Migrate, seed, fuzz; the run's ``tests.fuzzing.Report``."""
    import schemathesis
    from flask_migrate import upgrade
    from hypothesis import configuration

    from ats import create_app
    from ats.extensions import db
    from ats.services import auth
    from tests import fuzzing

    configuration.set_hypothesis_home_dir(str(data_dir / "hypothesis"))  # no .hypothesis/ here
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "SECRET_KEY": "bench-fuzz",
            "DATA_DIR": str(data_dir / "files"),
            "TESTING": True,
            "SMTP_URL": None,
            "LLM_URL": None,
            "API_RATE_LIMIT": "off",
        }
    )
    with app.app_context():
        upgrade()
        password = secrets.token_urlsafe(24)  # never used: the token is
        user = auth.create_user("fuzz@example.com", password, "Fuzz", "admin")
        _token, secret = auth.create_token(user, auth.parse_scopes("*"))
        user_id = user.id
    world = fuzzing.seed(app.test_client(), secret, user_id)
    config = fuzzing.config(
        secret,
        examples,
        seed=seed,
        **{"continue-on-failure": True},
        phases={p: {"enabled": p in phases} for p in PHASES},
    )
    schema = schemathesis.openapi.from_wsgi(fuzzing.OPENAPI, app, config=config)
    fuzzing.use_real_ids(schema, world)
    try:
        return fuzzing.run(schema)
    finally:
        with app.app_context():
            db.engine.dispose()


def table(rows: list[tuple[str, object]]) -> None:
    from collections import Counter

    print()
    print(
        "| database | operations | requests | statuses | failures by check | time (s) | CPU (s) |"
    )
    print("|---|---:|---:|---|---|---:|---:|")
    for name, report in rows:
        statuses: Counter = Counter()
        for counts in report.statuses.values():
            statuses.update(counts)
        shown = " ".join(f"{s}:{n}" for s, n in sorted(statuses.items()))
        fails = report.failures_by_check()
        failures = ", ".join(f"{k} {n}" for k, n in fails.most_common()) or "none"
        if report.errors:
            failures += f"; errors {len(report.errors)}"
        print(
            f"| {name} | {len(report.statuses)} | {report.requests} | {shown} | {failures} "
            f"| {report.seconds:.0f} | {report.cpu:.0f} |"
        )
    print()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=100, help="per operation and phase")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--phases", default=",".join(PHASES))
    parser.add_argument("--sqlite", action="store_true", help="SQLite (the default alone)")
    parser.add_argument("--postgres", metavar="SERVER_URL", help="a PostgreSQL server's URL")
    args = parser.parse_args()
    phases = args.phases.split(",")
    runs: list[tuple[str, object]] = []
    with tempfile.TemporaryDirectory(prefix="ats-fuzz-") as tmp:
        targets = []
        if args.sqlite or not args.postgres:
            targets.append(("sqlite", f"sqlite:///{tmp}/fuzz.sqlite3"))
        if args.postgres:
            targets.append(("postgresql", args.postgres))
        for name, url in targets:
            db_name = None
            if name == "postgresql":
                db_name = f"ats_fuzz_{os.getpid()}"
                _pg_admin(url, f"CREATE DATABASE {db_name}")
                url = url.rsplit("/", 1)[0] + "/" + db_name
            before = resource.getrusage(resource.RUSAGE_SELF)
            try:
                report = fuzz(url, Path(tmp) / name, args.examples, args.seed, phases)
            finally:
                if db_name:
                    server = args.postgres
                    _pg_admin(server, f"DROP DATABASE IF EXISTS {db_name} WITH (FORCE)")
            after = resource.getrusage(resource.RUSAGE_SELF)
            report.cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
            runs.append((name, report))
            print(
                f"{name}: {report.requests} requests to {len(report.statuses)} operations in "
                f"{report.seconds:.0f} s, {len(report.failures)} failures",
                file=sys.stderr,
            )
    print(
        f"Schemathesis, {args.examples} examples per operation, seed {args.seed}, "
        f"phases {', '.join(phases)}"
    )
    table(runs)
    failed = False
    for name, report in runs:
        if report.excused:
            print(f"{name}: excused (documented behaviour): {dict(report.excused)}")
        seen = set()
        for failure in report.failures:
            key = (failure.operation, failure.check, failure.title, failure.message[:80])
            if key in seen:
                continue
            seen.add(key)
            failed = True
            print(f"--- {name}\n{failure}\n")
        for error in report.errors:
            failed = True
            print(f"--- {name} error\n{error}\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
