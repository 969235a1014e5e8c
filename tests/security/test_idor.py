"""Access control on every path (issue 8), driven by the URL map.

Every route is probed, so a route added without a check fails here:

- every route with an id in its path answers a guessed id, an id of another
  model and junk with 404 (pages, HTMX fragments, the API, CV and ``.ics``
  downloads), never data, never a redirect, never a 500; a route with a path
  argument this file does not know fails until it is added to ``ARGUMENTS``;
- an interviewer gets 403 or 404 for every object of a job they are not on,
  on every route, and may change nothing but notes through the pages;
- a private note is 404 for everyone but its author on every route, and
  absent from every page and list;
- anonymous callers, deactivated users (session and token), revoked and
  expired tokens are refused on every route but the public ones;
- ids from another object where a parent is named (a note's parent, an
  interview's application, a card's neighbour) are refused.

``tests/test_visibility.py`` pins the interviewer's lists; this file the paths.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import quote

from flask import Flask
from sqlalchemy import select

from ats import fields as F
from ats.extensions import db
from ats.ids import new_id
from ats.models import ApiToken, Application, utcnow
from ats.services import mail, users
from tests.security.conftest import token_for

# path argument -> what it names (a model of ats.fields, or another kind of id)
ID_ARGUMENTS = {
    "app_id": "application",
    "candidate_id": "candidate",
    "job_id": "job",
    "interview_id": "interview",
    "note_id": "application_note",
    "source_id": "source",
}
OTHER_IDS = {"message_id": "msg", "token_id": "tok", "user_id": "usr"}
SPECIAL = {"model", "obj_id", "slug", "kind", "language", "filename"}
ARGUMENTS = set(ID_ARGUMENTS) | set(OTHER_IDS) | SPECIAL

# Routes anyone may call: the careers site, logging in, health, static files,
# and the API's description of itself (no data in it).
PUBLIC = re.compile(
    r"^(careers\.|apply\.|auth\.(login|login_code|setup)$|health\.|static$"
    r"|xapi2\.(schema|schema_one|openapi)$)"
)
# What an interviewer may change through the pages (``notes`` checks authorship
# itself: anyone who sees a note may pin it, by design)
INTERVIEWER_WRITES = {"notes.create", "notes.pin"}
METHODS = ("GET", "POST", "PATCH", "DELETE")


def _rules(app: Flask) -> list[Any]:
    return sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint))


def _methods(rule: Any) -> list[str]:
    return [m for m in METHODS if m in rule.methods]


def _url(rule: Any, values: dict[str, str]) -> str:
    """The rule's path with each argument replaced by its value, percent-encoded."""

    def sub(m: re.Match) -> str:
        return quote(values[m.group(1)], safe="")

    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", sub, rule.rule)


def _other(kind: str, world: dict[str, Any]) -> str:
    """A real id of another model than ``kind``."""
    return world["theirs"]["candidate" if kind != "candidate" else "job"]["id"]


def guesses(rule: Any, world: dict[str, Any]) -> Iterator[dict[str, str]]:
    """Argument values that name nothing this route may serve."""
    args = set(rule.arguments)
    unknown = args - ARGUMENTS
    assert not unknown, f"{rule.rule}: add {sorted(unknown)} to ARGUMENTS in {__file__}"
    if "model" in args:
        yield {"model": "nope", "obj_id": new_id("job")}
        if "obj_id" in args:
            for mdef in F.MODELS.values():
                for obj_id in (new_id(mdef.prefix), _other(mdef.name, world), "nope"):
                    yield {"model": mdef.name, "obj_id": obj_id}
        return
    if "kind" in args:
        kind, language = next(iter(mail.KINDS)), mail.LANGUAGES[0]
        yield {"kind": "nope", "language": language}
        yield {"kind": kind, "language": "xx"}
        return
    if "slug" in args:
        yield {"slug": "no-such-job"}
        yield {"slug": world["draft"]["data"]["slug"]}  # exists, not published
        return
    if "filename" in args:
        yield {"filename": "no-such-file.css"}
        return
    (name,) = args
    if name in ID_ARGUMENTS:
        kind = ID_ARGUMENTS[name]
        for value in (new_id(F.MODELS[kind].prefix), _other(kind, world), "nope", "x" * 300):
            yield {name: value}
    else:
        yield {name: new_id(OTHER_IDS[name])}


def call(client: Any, method: str, url: str, csrf: str | None, headers: dict | None = None):
    """One request; the body read and the response closed (file downloads hold a file)."""
    headers = dict(headers or {})
    if url.startswith("/xapi2"):
        body = {} if method in ("POST", "PATCH") else None
        response = client.open(url, method=method, json=body, headers=headers)
    else:
        data = {"csrf_token": csrf} if method == "POST" and csrf else None
        response = client.open(url, method=method, data=data, headers=headers)
    response.get_data()
    response.close()
    return response


def fetch(client: Any, path: str, **kw: Any) -> Any:
    return call(client, "GET", path, None, kw.get("headers"))


def _head(response: Any) -> str:
    """The start of a body, for a failure message (a download may be binary)."""
    return response.get_data()[:200].decode("utf-8", "replace").replace("\n", " ")


class Probes:
    """Runs probes, keeps the failures, counts what it did."""

    def __init__(self) -> None:
        self.count = 0
        self.failures: list[str] = []

    def expect(self, response: Any, allowed: tuple[int, ...], what: str) -> None:
        self.count += 1
        if response.status_code not in allowed:
            self.failures.append(
                f"{what}: {response.status_code} (want {allowed}) {_head(response)}"
            )

    def ok(self, good: bool, response: Any, what: str) -> None:
        self.count += 1
        if not good:
            self.failures.append(f"{what}: {response.status_code} {_head(response)}")

    def check(self, at_least: int) -> None:
        assert not self.failures, f"{len(self.failures)} of {self.count}:\n" + "\n".join(
            self.failures
        )
        assert self.count >= at_least, f"only {self.count} probes: is the URL map empty?"


# --- guessed ids, ids of other models, junk --------------------------------------


def test_every_route_with_an_id_answers_404_to_ids_it_does_not_serve(app, world):
    """Admin (who sees everything): still 404 for what does not exist, on every route,
    as a page and as an HTMX fragment."""
    admin, api = world["admin"], world["api"]
    probes = Probes()
    routes = 0
    for rule in _rules(app):
        if not rule.arguments:
            continue
        routes += 1
        for values in guesses(rule, world):
            url = _url(rule, values)
            for method in _methods(rule):
                if url.startswith("/xapi2"):
                    response = call(api.client, method, url, None, api.headers())
                    probes.expect(response, (404,), f"{method} {url}")
                    continue
                for hx in ({}, {"HX-Request": "true"}):
                    response = call(admin, method, url, admin.csrf, hx)
                    probes.expect(response, (404,), f"{method} {url} {hx}")
    probes.check(at_least=300)
    assert routes >= 40


# --- an interviewer and the job they are not on ------------------------------------


def _real(rule: Any, world: dict[str, Any], side: str) -> Iterator[dict[str, str]]:
    """Argument values naming the real objects of one side of the world."""
    objects = world[side]
    args = set(rule.arguments)
    if "model" in args and "obj_id" in args:
        for name, key in (
            ("job", "job"),
            ("candidate", "candidate"),
            ("application", "application"),
            ("interview", "interview"),
            ("application_note", "note"),
        ):
            yield {"model": name, "obj_id": objects[key]["id"]}
        return
    if args and args <= set(ID_ARGUMENTS) and "source_id" not in args:
        (name,) = args
        key = {"application_note": "note"}.get(ID_ARGUMENTS[name], ID_ARGUMENTS[name])
        yield {name: objects[key]["id"]}
    elif args == {"message_id"}:
        yield {"message_id": objects["message"]}


def test_an_interviewer_reaches_nothing_of_a_job_they_are_not_on(app, world):
    iv = world["iv"]
    iv_api = token_for(app, iv.user_id)
    probes = Probes()
    for rule in _rules(app):
        for values in _real(rule, world, "theirs"):
            url = _url(rule, values)
            for method in _methods(rule):
                if url.startswith("/xapi2"):
                    response = call(iv_api.client, method, url, None, iv_api.headers())
                else:
                    response = call(iv, method, url, iv.csrf)
                probes.expect(response, (403, 404), f"{method} {url}")
    probes.check(at_least=50)
    _interviewer_probes_are_not_vacuous(app, world)
    _interviewer_pages_show_nothing_of_the_other_job(app, world)


def _interviewer_pages_show_nothing_of_the_other_job(app, world):
    """Every page the interviewer may open (lists, filters, fragments, their own
    job's pages and the API's lists) carries no word of the job they are not on."""
    iv, theirs = world["iv"], world["theirs"]
    world["api"].patch(f"/data/job/{theirs['job']['id']}", json={"department": "Secret Dept"})
    secrets = ["Job theirs", "Cand theirs", "theirs@example.org", "public note theirs"]
    secrets += ["letter theirs", "Secret Dept", theirs["job"]["id"], theirs["application"]["id"]]
    iv_api = token_for(app, iv.user_id)
    pages = 0
    for _endpoint, method, url in _every_route(app, world):
        if method != "GET":
            continue
        for hx in ({}, {"HX-Request": "true"}):
            if url.startswith("/xapi2"):
                response = call(iv_api.client, "GET", url, None, iv_api.headers())
            else:
                response = call(iv, "GET", url, None, hx)
            if response.status_code != 200:
                continue
            body = response.get_data()  # bytes: a CV download is no text
            leaked = [s for s in secrets if s.encode() in body]
            assert not leaked, (url, hx, leaked)
            pages += 1
    assert pages >= 30
    assert "Secret Dept" in fetch(world["admin"], "/jobs").get_data(as_text=True)  # it is there


def _interviewer_probes_are_not_vacuous(app, world):
    """The same interviewer reads the job they are on, on the pages and the API."""
    iv = world["iv"]
    iv_api = token_for(app, iv.user_id)
    mine = world["mine"]
    for path in (
        f"/jobs/{mine['job']['id']}",
        f"/applications/{mine['application']['id']}",
        f"/applications/{mine['application']['id']}/cv",
        f"/notes/{mine['note']['id']}",
    ):
        assert fetch(iv, path).status_code == 200, path
    for model, key in (("job", "job"), ("application", "application"), ("interview", "interview")):
        assert iv_api.get(f"/data/{model}/{mine[key]['id']}").status_code == 200


def test_an_interviewer_changes_nothing_but_notes_through_the_pages(app, world):
    """Every write route, called by an interviewer on a job they are on: 403 (or
    404), except adding and pinning notes; nothing changed."""
    iv = world["iv"]
    app_id = world["mine"]["application"]["id"]
    before = world["api"].get(f"/data/application/{app_id}").get_json()
    probes = Probes()
    for rule in _rules(app):
        if "POST" not in rule.methods or rule.endpoint in INTERVIEWER_WRITES:
            continue
        if rule.rule.startswith("/xapi2") or PUBLIC.match(rule.endpoint):
            continue
        if rule.endpoint.startswith(("auth.", "settings.account", "settings.token")):
            continue  # one's own session, account and tokens
        for values in _real(rule, world, "mine") if rule.arguments else [{}]:
            url = _url(rule, values)
            data = {"csrf_token": iv.csrf, "stage": "offer", "status": "completed"}
            data |= {"confirm": "yes", "action": "closed", "role": "admin", "active": "0"}
            probes.expect(iv.post(url, data=data), (403, 404), f"POST {url}")
    probes.check(at_least=15)
    after = world["api"].get(f"/data/application/{app_id}").get_json()
    assert after["data"]["stage"] == before["data"]["stage"] == "new"
    _interviewer_sees_no_move_controls(world)


def _interviewer_sees_no_move_controls(world):
    iv = world["iv"]
    board = iv.get(f"/jobs/{world['mine']['job']['id']}").get_data(as_text=True)
    detail = iv.get(f"/applications/{world['mine']['application']['id']}").get_data(as_text=True)
    assert "data-move-url" not in board and "move-open" not in board
    assert "/move" not in detail


# --- private notes -------------------------------------------------------------------


def test_a_private_note_is_404_for_everyone_else_on_every_route(app, world):
    note_id = world["private"]["id"]
    probes = Probes()
    others = [
        ("admin", world["admin"], token_for(app, world["admin"].user_id)),
        ("recruiter", world["recruiter"], token_for(app, world["recruiter"].user_id)),
        ("interviewer", world["iv"], token_for(app, world["iv"].user_id)),
    ]
    for rule in _rules(app):
        args = set(rule.arguments)
        if args == {"note_id"}:
            values = {"note_id": note_id}
        elif args == {"model", "obj_id"}:
            values = {"model": "application_note", "obj_id": note_id}
        else:
            continue
        url = _url(rule, values)
        for method in _methods(rule):
            for who, session, token in others:
                if url.startswith("/xapi2"):
                    response = call(token.client, method, url, None, token.headers())
                else:
                    response = call(session, method, url, session.csrf)
                probes.expect(response, (404,), f"{who} {method} {url}")
    probes.check(at_least=30)
    # its author still has it
    assert world["api"].get(f"/data/application_note/{note_id}").status_code == 200
    _private_note_absent_from_pages_and_lists(app, world)


def _private_note_absent_from_pages_and_lists(app, world):
    text = world["private"]["data"]["body"]
    mine = world["mine"]
    admin = world["admin"]
    token = token_for(app, admin.user_id)
    app_id = mine["application"]["id"]
    pages = [
        "/",
        f"/applications/{app_id}",
        f"/candidates/{mine['candidate']['id']}",
        f"/jobs/{mine['job']['id']}",
        f"/notes/{mine['note']['id']}",
        "/candidates?q=private",
        "/jobs?q=private",
    ]
    for path in pages:
        for hx in ({}, {"HX-Request": "true"}):
            page = admin.get(path, headers=hx)
            assert page.status_code == 200, path
            assert text not in page.get_data(as_text=True), path
    # the notes list fragment a pin answers with
    pinned = admin.post(
        f"/notes/{mine['note']['id']}/pin",
        data={"csrf_token": admin.csrf, "pinned": "1"},
        headers={"HX-Request": "true"},
    )
    assert pinned.status_code == 200 and "public note mine" in pinned.get_data(as_text=True)
    assert text not in pinned.get_data(as_text=True)
    for query in ("", "?q=private", f"?parent_id={app_id}", "?private=true", "?is_archived=true"):
        listing = token.get(f"/data/application_note{query}")
        assert listing.status_code == 200, query
        assert text not in listing.get_data(as_text=True), query
    # and the author sees it in the same places
    author = world["api"].get(f"/data/application_note?parent_id={app_id}").get_data(as_text=True)
    assert text in author


# --- who is refused on every route ------------------------------------------------


def _every_route(app: Flask, world: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
    """(endpoint, method, url) for every non-public route, with real ids of "mine"."""
    for rule in _rules(app):
        if PUBLIC.match(rule.endpoint):
            continue
        values_list = list(_real(rule, world, "mine")) if rule.arguments else [{}]
        if set(rule.arguments) == {"model"}:
            values_list = [{"model": name} for name in F.MODELS]
        if rule.arguments and not values_list:
            values_list = list(guesses(rule, world))[:1]
        for values in values_list:
            url = _url(rule, values)
            for method in _methods(rule):
                yield rule.endpoint, method, url


def _refused(probes: Probes, app: Flask, world: dict[str, Any], client: Any, token: Any, who: str):
    for _endpoint, method, url in _every_route(app, world):
        if url.startswith("/xapi2"):
            headers = token.headers() if token is not None else {}
            response = call(client, method, url, None, headers)
            probes.expect(response, (401,), f"{who} {method} {url}")
        else:
            response = call(client, method, url, getattr(client, "csrf", None))
            to_login = response.status_code in (302, 303) and "/login" in response.headers.get(
                "Location", ""
            )
            # a POST without a session has no valid CSRF token: 400 before the view
            no_csrf = method == "POST" and response.status_code == 400
            probes.ok(to_login or no_csrf, response, f"{who} {method} {url}")


def _anonymous_refused(app, world):
    probes = Probes()
    _refused(probes, app, world, app.test_client(), None, "anonymous")
    probes.check(at_least=80)


def test_anonymous_and_deactivated_callers_are_refused_everywhere(app, world):
    """Every route but the public ones: anonymous first, then a deactivated user's
    session and token (which worked a moment before)."""
    _anonymous_refused(app, world)
    boss = world["admin"]
    token = token_for(app, boss.user_id)
    assert token.get("/data/job").status_code == 200 and boss.get("/").status_code == 200
    with app.app_context():
        users.set_active(boss.user_id, False, world["api"].user_id)
    probes = Probes()
    _refused(probes, app, world, boss, None, "deactivated session")
    _refused(probes, app, world, token.client, token, "deactivated token")
    probes.check(at_least=150)


def test_revoked_and_expired_tokens_are_refused_on_every_api_route(app, world):
    user_id = world["admin"].user_id
    tokens = {how: token_for(app, user_id, expires_days=30) for how in ("revoked", "expired")}
    for token in tokens.values():
        assert token.get("/data/job").status_code == 200
    with app.app_context():
        rows = db.session.scalars(
            select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.created_at)
        ).all()
        rows[0].revoked_at = utcnow()
        rows[1].expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
    probes = Probes()
    for _endpoint, method, url in _every_route(app, world):
        if not url.startswith("/xapi2"):
            continue
        for how, token in tokens.items():
            response = call(token.client, method, url, None, token.headers())
            probes.expect(response, (401,), f"{how} {method} {url}")
            if response.status_code == 401:
                assert "Bearer" in response.headers.get("WWW-Authenticate", "")
    probes.check(at_least=60)


# --- ids of another object where the URL or the form names a parent -------------------


def _note_on_an_application(client: Any, parent_id: str) -> Any:
    """The pages' note form, naming ``parent_id`` as the application."""
    return client.post(
        "/notes",
        data={
            "csrf_token": client.csrf,
            "parent_kind": "application",
            "parent_id": parent_id,
            f"note-{parent_id}-body": "x",
        },
    )


def _note_parent_of_another_kind_or_out_of_sight(world):
    iv, admin = world["iv"], world["admin"]
    theirs = world["theirs"]
    # a job id where an application is named: no such application
    assert _note_on_an_application(admin, theirs["job"]["id"]).status_code == 404
    # the interviewer names an application of the other job
    assert _note_on_an_application(iv, theirs["application"]["id"]).status_code == 404
    listing = world["api"].get(f"/data/application_note?parent_id={theirs['application']['id']}")
    assert [n["data"]["body"] for n in listing.get_json()["items"]] == ["public note theirs"]


def _interview_only_for_a_visible_application(world):
    admin, iv = world["admin"], world["iv"]
    theirs = world["theirs"]
    assert admin.get(f"/interviews/new?application_id={theirs['candidate']['id']}").status_code == (
        404
    )
    assert admin.get(f"/interviews/new?application_id={new_id('app')}").status_code == 404
    assert iv.get(f"/interviews/new?application_id={theirs['application']['id']}").status_code in (
        403,
        404,
    )
    # the API: candidate and job must be the application's own
    r = world["api"].post(
        "/data/interview",
        json={
            "application_id": world["mine"]["application"]["id"],
            "candidate_id": theirs["candidate"]["id"],
        },
    )
    assert r.status_code == 400 and "candidate_id" in r.get_json()["fields"]


def _card_next_to_a_card_of_another_job(app, world):
    admin = world["admin"]
    mine, theirs = world["mine"], world["theirs"]
    with app.app_context():
        before = db.session.get(Application, mine["application"]["id"]).position
    for hx in ({}, {"HX-Request": "true"}):
        r = admin.post(
            f"/applications/{mine['application']['id']}/move",
            data={
                "csrf_token": admin.csrf,
                "stage": "review",
                "after_id": theirs["application"]["id"],
            },
            headers=hx,
        )
        assert r.status_code in (303, 422)
    with app.app_context():
        moved = db.session.get(Application, mine["application"]["id"])
        assert (moved.stage, moved.position) == ("new", before)


def _candidate_only_on_an_existing_job(world):
    admin = world["admin"]
    cand = world["mine"]["candidate"]["id"]
    for job_id in (new_id("job"), world["theirs"]["candidate"]["id"], "nope"):
        r = admin.post(
            f"/candidates/{cand}/applications",
            data={"csrf_token": admin.csrf, "application-job_id": job_id},
        )
        assert r.status_code == 400, job_id
    listing = world["api"].get(f"/data/application?candidate_id={cand}").get_json()
    assert len(listing["items"]) == 1


def _someone_elses_token(app, world):
    other = token_for(app, world["admin"].user_id)
    with app.app_context():
        token_id = db.session.scalars(
            select(ApiToken.id).where(ApiToken.user_id == world["admin"].user_id)
        ).one()
    for client in (world["recruiter"], world["iv"]):
        r = client.post(f"/settings/tokens/{token_id}/revoke", data={"csrf_token": client.csrf})
        assert r.status_code == 404
    assert other.get("/data/job").status_code == 200


def _downloads_for_those_who_may_see_them(app, world):
    """CVs for those who see the application; .ics files for admins only."""
    mine, theirs = world["mine"], world["theirs"]
    iv, rec, admin = world["iv"], world["recruiter"], world["admin"]
    assert fetch(iv, f"/applications/{mine['application']['id']}/cv").status_code == 200
    assert fetch(iv, f"/applications/{theirs['application']['id']}/cv").status_code == 404
    ics = f"/settings/mail/outbox/{theirs['message']}/invite.ics"
    ok = admin.get(ics)
    assert ok.status_code == 200 and ok.mimetype == "text/calendar"
    assert rec.get(ics).status_code == 403 and iv.get(ics).status_code == 403
    anonymous = app.test_client()
    assert anonymous.get(ics).status_code == 302
    assert fetch(anonymous, f"/applications/{mine['application']['id']}/cv").status_code == 302


def test_only_a_notes_author_changes_it_and_only_they_or_an_admin_delete_it(app, world):
    """The pages' rule holds in the API too: a note is shown under its author's name."""
    note = world["mine"]["note"]  # the admin's (world["api"]) public note
    url = f"/data/application_note/{note['id']}"
    for who in ("recruiter", "iv", "admin"):
        other = token_for(app, world[who].user_id)
        for body in ({"body": "rewritten"}, {"private": True}, {"body": "x", "pinned": True}):
            r = other.patch(url, json=body)
            assert r.status_code == 403, (who, body, r.get_json())
        assert other.patch(url, json={"pinned": True}).status_code == 200  # pinning is shared
        if who != "admin":
            assert other.delete(url).status_code == 403, who
    assert world["api"].get(url).get_json()["data"]["body"] == "public note mine"
    # an admin may delete another's note, as on the pages
    admin = token_for(app, world["admin"].user_id)
    assert admin.delete(url).status_code == 204
    assert world["api"].get(url).status_code == 404


def test_ids_from_elsewhere_are_refused_where_a_parent_is_named(app, world):
    """A note's parent, an interview's application, a card's neighbour, a job to
    apply to, a token to revoke, a file to download: each must be one the caller may use."""
    _note_parent_of_another_kind_or_out_of_sight(world)
    _interview_only_for_a_visible_application(world)
    _card_next_to_a_card_of_another_job(app, world)
    _candidate_only_on_an_existing_job(world)
    _someone_elses_token(app, world)
    _downloads_for_those_who_may_see_them(app, world)
