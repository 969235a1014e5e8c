"""atscli against a real server process (gunicorn on a free port) over HTTP.

Pins every command of issue 5: profiles (file mode 0600, environment
overrides), list with filters/sorts/outputs and --all streaming across pages
(keyset and offset), get/create/update/delete/archive with flags generated from
the schema, schema, upsert (create/update/unchanged/failed, reject file, exit
status, batched lookups, progress bar on a terminal), and readable errors with
no traceback. Retries and Idempotency-Key live in tests/test_atscli_retry.py.
"""

from __future__ import annotations

import csv
import json
import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from ats.client.main import cli
from tests.live import BIN, ROOT, LiveServer


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory):
    server = LiveServer(tmp_path_factory.mktemp("atscli"), workers=2).start()
    server.token = server.admin_token()
    yield server
    log = server.stop()
    assert "Traceback" not in log, log[-4000:]


@pytest.fixture
def env(live: LiveServer, tmp_path: Path) -> dict[str, str]:
    """A fresh config file per test; the server given by environment variables."""
    return {
        "ATSCLI_CONFIG": str(tmp_path / "atscli" / "config.ini"),
        "ATS_URL": live.base,
        "ATS_TOKEN": live.token,
        "ATSCLI_PROFILE": "",
    }


class Run:
    """atscli in-process (click's runner), speaking real HTTP to the live server."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env

    def __call__(self, *args: str, input: str | None = None, code: int = 0, **env: str):
        result = CliRunner(env={**self.env, **env}).invoke(
            cli, list(args), input=input, catch_exceptions=False
        )
        assert result.exit_code == code, (result.exit_code, result.output)
        assert "Traceback" not in result.output
        return result

    def json(self, *args: str) -> dict:
        return json.loads(self(*args, "-o", "json").stdout)


@pytest.fixture
def run(env: dict[str, str]) -> Run:
    return Run(env)


def _job(run: Run, title: str, *flags: str) -> dict:
    return run.json("job", "create", "--title", title, *flags)


# --- profiles ------------------------------------------------------------------------


def test_profiles_file_is_private_and_selects_the_server(run, live, tmp_path):
    no_env = {"ATS_URL": "", "ATS_TOKEN": ""}
    result = run("job", "list", code=1, **no_env)
    assert "no server configured" in result.stderr and "atscli profile add" in result.stderr

    run("profile", "add", "local", "--url", live.base + "/", "--token", live.token, **no_env)
    path = tmp_path / "atscli" / "config.ini"
    assert path.stat().st_mode & 0o777 == 0o600
    assert live.token in path.read_text()
    run("profile", "add", "broken", "--url", "http://127.0.0.1:9", "--token", "pat_x", **no_env)
    assert path.stat().st_mode & 0o777 == 0o600

    listed = run("profile", "list", **no_env).stdout
    assert re.search(r"^\* local\s+http://127\.0\.0\.1:\d+\s+pat_", listed, re.M)  # first = default
    assert live.token not in listed  # only a hint of the token is shown

    created = json.loads(run("job", "create", "--title", "Profiled", "-o", "json", **no_env).stdout)
    assert created["data"]["title"] == "Profiled"
    # --profile after the command, or before the model, picks the other one
    failed = run("job", "list", "--profile", "broken", "--retries", "0", code=1, **no_env)
    assert "cannot reach http://127.0.0.1:9" in failed.stderr
    failed = run("--profile", "broken", "--retries", "0", "job", "list", code=1, **no_env)
    assert "cannot reach" in failed.stderr
    # environment variables override the profile
    ok = run(
        "--profile", "broken", "job", "get", created["id"], ATS_URL=live.base, ATS_TOKEN=live.token
    )
    assert created["id"] in ok.stdout
    assert "no profile 'nope'" in run("--profile", "nope", "job", "list", code=1).stderr

    run("profile", "use", "broken", **no_env)
    assert re.search(r"^\* broken", run("profile", "list", **no_env).stdout, re.M)
    run("profile", "remove", "broken", **no_env)
    assert "broken" not in run("profile", "list", **no_env).stdout
    assert "no profile 'broken'" in run("profile", "remove", "broken", code=1).stderr


def test_profile_token_from_stdin_and_bad_url(run, live):
    run("profile", "add", "piped", "--url", live.base, "--token", "-", input=live.token + "\n")
    assert "piped" in run("profile", "list").stdout
    bad = run("profile", "add", "x", "--url", "ftp://host", "--token", "pat_1", code=2)
    assert "not an http(s) URL" in bad.stderr


# --- create, get, update, delete, archive ----------------------------------------------


def test_create_with_flags_from_the_schema(run):
    job = run.json(
        "job",
        "create",
        "--title",
        "Hello",
        "--tags",
        "python",
        "--tags",
        "go",
        "--headcount",
        "3",
        "--public",
        "true",
        "--salary-min",
        "50000.5",
        "--status",
        "open",
    )
    data = job["data"]
    assert (data["title"], data["tags"], data["headcount"]) == ("Hello", ["python", "go"], 3)
    assert data["public"] is True and data["salary_min"] == 50000.5 and data["status"] == "open"
    assert run.json("job", "get", job["id"])["data"] == data

    help_text = run("job", "create", "--help").stdout
    for flag in ("--title", "--employment-type", "--knockout-questions", "--json"):
        assert flag in help_text
    assert "--opened-at" not in help_text  # server-managed: no flag

    # numbers, booleans and enums are checked before anything is sent
    assert "is not a whole number" in run("job", "create", "--headcount", "x", code=2).stderr
    assert "'maybe' is not one of" in run("job", "create", "--public", "maybe", code=2).stderr


def test_interview_create_with_a_reference(run):
    job = _job(run, "Interviewed")
    cand = run.json("candidate", "create", "--name", "Ada", "--email", "ada@example.com")
    app = run.json("application", "create", "--job-id", job["id"], "--candidate-id", cand["id"])
    interview = run.json(
        "interview",
        "create",
        "--application-id",
        app["id"],
        "--scheduled-at",
        "2026-12-01T10:00:00Z",
        "--duration-minutes",
        "45",
    )
    assert interview["data"]["application_id"] == app["id"]
    assert interview["data"]["job_id"] == job["id"]  # copied by the server
    assert "--application-id" not in run("interview", "update", "--help").stdout  # create-only


def test_update_with_flags_json_and_unset(run, tmp_path):
    job = _job(run, "Before", "--department", "Eng", "--tags", "a")
    body = tmp_path / "body.json"
    body.write_text(json.dumps({"title": "From file", "headcount": 4}))
    changed = run.json("job", "update", job["id"], "--json", str(body), "--headcount", "5")
    assert changed["data"]["title"] == "From file" and changed["data"]["headcount"] == 5
    piped = json.loads(
        run(
            "job", "update", job["id"], "--json", "-", "-o", "json", input='{"location": "Köln"}'
        ).stdout
    )
    assert piped["data"]["location"] == "Köln"
    cleared = run.json("job", "update", job["id"], "--unset", "department", "--unset", "tags")
    assert cleared["data"]["department"] is None and cleared["data"]["tags"] == []
    assert "nothing to change" in run("job", "update", job["id"], code=2).stderr
    assert (
        "not valid JSON" in run("job", "update", job["id"], "--json", "-", input="{", code=2).stderr
    )


def test_validation_errors_name_every_field(run):
    result = run("job", "create", "--title", "", "--headcount", "-1", code=1)
    assert result.stdout == ""
    assert "Error: 400" in result.stderr
    assert "title:" in result.stderr and "headcount: must be at least 0" in result.stderr


def test_delete_archive_and_cascade(run):
    job = _job(run, "Doomed")
    cand = run.json("candidate", "create", "--name", "Bo", "--email", "bo@example.com")
    run.json("application", "create", "--job-id", job["id"], "--candidate-id", cand["id"])
    refused = run("job", "delete", job["id"], code=1)
    assert "409" in refused.stderr and "cascade" in refused.stderr
    archived = run.json("job", "archive", job["id"])
    assert archived["is_archived"] is True
    assert job["id"] not in run("job", "list", "--limit", "200", "-o", "ndjson").stdout
    assert run.json("job", "unarchive", job["id"])["is_archived"] is False
    assert run("job", "delete", job["id"], "--cascade").stdout.strip() == f"deleted {job['id']}"
    gone = run("job", "get", job["id"], code=1)
    assert "404" in gone.stderr


# --- list ----------------------------------------------------------------------------


def test_list_filters_sorts_and_outputs(run):
    for title, status in (("Zeta", "open"), ("Alpha", "open"), ("Mid", "paused")):
        _job(run, f"List {title}", "--status", status, "--department", "Listing")
    args = ("job", "list", "--filter", "department=Listing", "--filter", "status=open")
    ndjson = run(*args, "--sort", "-title", "-o", "ndjson").stdout.splitlines()
    titles = [json.loads(line)["data"]["title"] for line in ndjson]
    assert titles == ["List Zeta", "List Alpha"]

    as_json = json.loads(run(*args, "--sort", "title", "-o", "json").stdout)
    assert [o["data"]["title"] for o in as_json] == ["List Alpha", "List Zeta"]

    rows = list(csv.DictReader(run(*args, "--sort", "title", "-o", "csv").stdout.splitlines()))
    assert [r["title"] for r in rows] == ["List Alpha", "List Zeta"]
    assert rows[0]["id"].startswith("job_") and rows[0]["status"] == "open"

    table = run(*args, "--sort", "title", "-o", "table", "--columns", "id,title,status").stdout
    lines = table.splitlines()
    assert lines[0].split() == ["ID", "TITLE", "STATUS"]
    assert "List Alpha" in lines[1] and lines[1].rstrip().endswith("open")

    one = run("job", "list", "--filter", "department=Listing", "--limit", "1", "-o", "ndjson")
    assert len(one.stdout.splitlines()) == 1
    empty = run("job", "list", "--filter", "department=Nobody", "-o", "table")
    assert empty.stdout.strip() == "(no objects)"

    bad = run("job", "list", "--filter", "colour=red", code=1)
    assert "400" in bad.stderr and "colour" in bad.stderr
    assert "is not KEY=VALUE" in run("job", "list", "--filter", "oops", code=2).stderr
    assert "exclude each other" in run("job", "list", "--all", "--limit", "5", code=2).stderr


def test_list_all_streams_every_page(run):
    """450 candidates: 3 pages of 200 by keyset (created_at), 3 by offset (name)."""
    lines = "".join(
        json.dumps({"name": f"Stream {i:03d}", "email": f"stream{i}@example.com", "tags": ["s"]})
        + "\n"
        for i in range(450)
    )
    result = run("candidate", "upsert", "--unique", "email", "--ndjson", "-", input=lines)
    assert "created    450" in result.stdout

    keyset = run("candidate", "list", "--all", "--filter", "tags=s", "-o", "ndjson").stdout
    items = [json.loads(line) for line in keyset.splitlines()]
    assert len(items) == 450 and len({o["id"] for o in items}) == 450
    assert [o["created_at"] for o in items] == sorted(o["created_at"] for o in items)

    by_name = run(
        "candidate", "list", "--all", "--filter", "tags=s", "--sort", "-name", "-o", "ndjson"
    ).stdout
    names = [json.loads(line)["data"]["name"] for line in by_name.splitlines()]
    assert names == [f"Stream {i:03d}" for i in reversed(range(450))]

    capped = run("candidate", "list", "--filter", "tags=s", "--limit", "321", "-o", "ndjson")
    assert len(capped.stdout.splitlines()) == 321  # more than a page: fetched in two


def test_a_reader_that_stops_early_is_no_error(run, env):
    lines = "".join(
        json.dumps({"name": f"Pipe {i}", "email": f"pipe{i}@example.com"}) + "\n"
        for i in range(300)
    )
    run("candidate", "upsert", "--unique", "email", "--ndjson", "-", input=lines)
    done = subprocess.run(
        [
            "bash",
            "-c",
            f"{BIN / 'atscli'} candidate list --all -o ndjson | head -c 100 >/dev/null;"
            " echo ${PIPESTATUS[0]}",
        ],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    # 300 objects: more than a pipe holds. click ends quietly with status 1 on EPIPE
    assert done.stdout.strip() == "1" and done.stderr == ""


# --- schema --------------------------------------------------------------------------


def test_schema_from_the_server(run, live):
    text = run("interview", "schema").stdout
    assert re.search(r"^application_id\s+ref\s+C-R\s+id of a application; required", text, re.M)
    assert "filters: " in text and "interviewer_id" in text and "at most 200" in text
    assert run.json("interview", "schema") == live.api(live.token, "GET", "/schema/interview")


# --- upsert --------------------------------------------------------------------------


def _write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def test_upsert_csv_creates_updates_skips_and_rejects(run, tmp_path, live):
    header = ["title", "department", "headcount", "tags", "status"]
    path = _write_csv(
        tmp_path / "jobs.csv",
        header,
        [
            ["Up Backend", "Eng", "2", "python,go", "open"],
            ["Up Frontend", "Eng", "1", "", "draft"],
            ["Up Bad Count", "Eng", "many", "", "draft"],  # client-side: not a number
            ["Up Bad Status", "Eng", "1", "", "sideways"],  # server-side: 400
            ["", "Eng", "1", "", "draft"],  # no key
            ["Up Backend", "Eng", "3", "python,go", "open"],  # same object again: applied after
        ],
    )
    first = run("job", "upsert", "--unique", "title", "--csv", str(path), code=1)
    assert "created    2" in first.stdout and "updated    1" in first.stdout
    assert "unchanged  0" in first.stdout and "failed     3" in first.stdout
    rejects = tmp_path / "jobs.rejects.csv"
    assert f"failed rows with their reasons: {rejects}" in first.stderr
    rows = list(csv.DictReader(rejects.read_text(encoding="utf-8").splitlines()))
    assert [r["_row"] for r in rows] == ["3", "4", "5"]
    assert rows[0]["title"] == "Up Bad Count" and "not a whole number" in rows[0]["_error"]
    assert "400" in rows[1]["_error"] and "status" in rows[1]["_error"]
    assert "no value for the --unique field title" in rows[2]["_error"]

    backend = run.json("job", "list", "--filter", "title=Up Backend")
    assert len(backend) == 1 and backend[0]["data"]["headcount"] == 3

    # the same file again: nothing new, the good rows unchanged (row 1 sets 2 again)
    again = run("job", "upsert", "--unique", "title", "--csv", str(path), code=1)
    assert "created    0" in again.stdout and "failed     3" in again.stdout
    assert "updated    2" in again.stdout and "unchanged  1" in again.stdout

    # fix the rejects and feed the reject file back as it is
    fixed = [
        r | {"headcount": "1", "status": "draft", "title": r["title"] or "Up Fixed"} for r in rows
    ]
    _write_csv(rejects, list(rows[0]), [list(r.values()) for r in fixed])
    done = run("job", "upsert", "--unique", "title", "--csv", str(rejects))
    assert "created    3" in done.stdout and "failed     0" in done.stdout

    exported = tmp_path / "export.csv"
    exported.write_text(
        run("job", "list", "--filter", "department=Eng", "--all", "-o", "csv").stdout
    )
    round_trip = run("job", "upsert", "--unique", "title", "--csv", str(exported))
    assert "ignoring server-managed columns" in round_trip.stderr
    assert "unchanged  5" in round_trip.stdout and "updated    0" in round_trip.stdout


def test_upsert_refuses_ambiguous_and_bad_keys(run, tmp_path):
    _job(run, "Twin")
    _job(run, "Twin")
    path = _write_csv(tmp_path / "twins.csv", ["title", "headcount"], [["Twin", "1"]])
    result = run("job", "upsert", "--unique", "title", "--csv", str(path), code=1)
    assert "matches 2 objects" in result.stderr and "failed     1" in result.stdout

    bad = run("job", "upsert", "--unique", "summary", "--csv", str(path), code=2)
    assert "not a filter key of job" in bad.stderr and "title" in bad.stderr
    unknown = _write_csv(tmp_path / "u.csv", ["title", "colour"], [["X", "red"]])
    refused = run("job", "upsert", "--unique", "title", "--csv", str(unknown), code=2)
    assert "unknown column(s) colour" in refused.stderr
    assert "exactly one of" in run("job", "upsert", "--unique", "title", code=2).stderr


def test_upsert_create_only_field_and_dry_run(run, tmp_path):
    job = _job(run, "Dry Job")
    cand = run.json("candidate", "create", "--name", "Cy", "--email", "cy@example.com")
    other = run.json("candidate", "create", "--name", "Di", "--email", "di@example.com")
    app = run.json("application", "create", "--job-id", job["id"], "--candidate-id", cand["id"])
    run.json("interview", "create", "--application-id", app["id"], "--title", "Dry call")
    path = tmp_path / "iv.ndjson"
    path.write_text(
        json.dumps({"title": "Dry call", "candidate_id": other["id"]})
        + "\n"
        + json.dumps({"title": "Dry call 2", "application_id": app["id"]})
        + "\nnot json\n"
    )
    # interviews cannot be found by title: refused before any row
    refused = run("interview", "upsert", "--unique", "title", "--ndjson", str(path), code=2)
    assert "not a filter key of interview" in refused.stderr

    people = tmp_path / "people.ndjson"
    people.write_text(
        json.dumps({"email": "CY@example.com", "name": "Cy Renamed"})  # case-insensitive match
        + "\n"
        + json.dumps({"email": "new@example.com", "name": "New"})
        + "\n"
        + json.dumps({"email": "x@example.com", "colour": "red"})
        + "\n"
    )
    dry = run(
        "candidate", "upsert", "--unique", "email", "--ndjson", str(people), "--dry-run", code=1
    )
    assert "would be created    1" in dry.stdout and "would be updated    1" in dry.stdout
    assert "unknown field(s): colour" in dry.stderr
    assert run.json("candidate", "get", cand["id"])["data"]["name"] == "Cy"  # nothing written
    real = run("candidate", "upsert", "--unique", "email", "--ndjson", str(people), code=1)
    assert "created    1" in real.stdout and "updated    1" in real.stdout
    assert run.json("candidate", "get", cand["id"])["data"]["name"] == "Cy Renamed"
    lines = (tmp_path / "people.rejects.ndjson").read_text().splitlines()
    assert json.loads(lines[0]) == {
        "email": "x@example.com",
        "colour": "red",
        "_row": 3,
        "_error": "unknown field(s): colour",
    }


# --- the installed console script ------------------------------------------------------


def _atscli(env: dict[str, str], *args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(
        [BIN / "atscli", *args],
        env={**os.environ, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        **kw,
    )


def test_console_script_errors_are_readable(env, live):
    for args, code, words in (
        (("job", "list", "--limit", "0"), 2, "Invalid value for '--limit'"),
        (("job", "frobnicate"), 2, "No such command 'frobnicate'"),
        (("jobs", "list"), 1, "no model 'jobs'; models: job, application"),
        (("job", "get", "job_nope"), 1, "404 no job job_nope"),
    ):
        done = _atscli(env, *args)
        assert done.returncode == code, done
        assert words in done.stderr and "Traceback" not in done.stderr
    bad_token = _atscli(env | {"ATS_TOKEN": "pat_wrong"}, "job", "list")
    assert bad_token.returncode == 1 and "401 unknown token" in bad_token.stderr
    down = _atscli(env | {"ATS_URL": "http://127.0.0.1:9"}, "job", "list", "--retries", "1")
    assert down.returncode == 1 and "cannot reach http://127.0.0.1:9" in down.stderr
    assert "retry 1 of 1" in down.stderr and "Traceback" not in down.stderr


def test_upsert_shows_a_progress_bar_on_a_terminal(env, tmp_path):
    path = _write_csv(
        tmp_path / "bar.csv",
        ["name", "email"],
        [[f"Bar {i}", f"bar{i}@example.com"] for i in range(30)],
    )
    leader, follower = pty.openpty()
    try:
        done = subprocess.run(
            [BIN / "atscli", "candidate", "upsert", "--unique", "email", "--csv", str(path)],
            env={**os.environ, **env, "COLUMNS": "100"},
            stdout=subprocess.PIPE,
            stderr=follower,
            text=True,
            timeout=120,
        )
        os.close(follower)
        follower = -1
        screen = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                break
            if not chunk:
                break
            screen += chunk
    finally:
        if follower != -1:
            os.close(follower)
        os.close(leader)
    assert done.returncode == 0, done
    text = screen.decode()
    assert "candidate upsert" in text and "30/30" in text and "100%" in text
    assert "created    30" in done.stdout


if sys.platform != "linux":  # pragma: no cover - pty above is POSIX
    pytestmark = pytest.mark.skip("needs a POSIX pty")
