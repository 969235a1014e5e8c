"""Notes on candidates, applications and jobs: add, edit in place, pin, delete,
with HTMX fragments and a no-JS fallback; pinned first, then newest; a private
note is its author's alone on every page; Markdown is rendered and no script
ever reaches the HTML; every write needs the CSRF token; ``next`` stays on site."""

from __future__ import annotations

import re

import pytest

from ats.services.markdown import render_markdown

HX = {"HX-Request": "true"}
NOTES = "/xapi2/data/application_note"
XSS = [
    "<script>alert(1)</script>",
    "[x](javascript:alert(1))",
    "<img src=x onerror=alert(1)>",
]


def _text(response) -> str:
    return response.get_data(as_text=True)


def _errors(html: str) -> list[str]:
    return re.findall(r'class="error"[^>]*>([^<]+)<', html)


def _post(client, url, data=None, **kw):
    return client.post(url, data={"csrf_token": client.csrf, **(data or {})}, **kw)


def _add(client, kind, parent_id, body, pinned=False, private=False, **kw):
    prefix = f"note-{parent_id}-"
    data = {"parent_kind": kind, "parent_id": parent_id, prefix + "body": body}
    if pinned:
        data[prefix + "pinned"] = "y"
    if private:
        data[prefix + "private"] = "y"
    data.update(kw.pop("extra", {}))
    return _post(client, "/notes", data, **kw)


def _note_ids(api, parent_id) -> list[str]:
    r = api.get(NOTES, query_string={"parent_id": parent_id, "sort": "created_at"})
    return [n["id"] for n in r.get_json()["items"]]


def _assert_safe(html: str) -> None:
    lowered = html.lower()
    assert "<script>alert" not in lowered
    assert "javascript:" not in re.sub(r">[^<]*<", "><", lowered)  # not in any tag or attribute
    assert 'href="javascript' not in lowered
    assert "<img" not in lowered and "onerror=" not in re.sub(r">[^<]*<", "><", lowered)


@pytest.fixture
def cand(api):
    return api.candidate(name="Ada Lovelace")


def _interviewer_on(login, api, cand):
    """An interviewer on the team of a job the candidate applied to: they see the candidate."""
    client = login("interviewer")
    api.application(api.job(team_ids=[client.user_id]), cand)
    return client


# --- the Markdown filter -------------------------------------------------------------


def test_markdown_renders_a_small_safe_subset():
    html = str(
        render_markdown(
            "# Title\n\n**bold** *it* `code`\n\n- one\n- two\n\n> quote\n\n"
            "[site](https://example.com) [mail](mailto:a@example.com) [rel](/x) [anchor](#y)"
        )
    )
    for piece in ("<h1>Title</h1>", "<strong>bold</strong>", "<em>it</em>", "<code>code</code>"):
        assert piece in html
    assert "<ul>" in html and "<li>one</li>" in html and "<blockquote>" in html
    assert '<a href="https://example.com" rel="noopener noreferrer nofollow">site</a>' in html
    assert 'href="mailto:a@example.com"' in html
    assert 'href="/x"' not in html and 'href="#y"' not in html


@pytest.mark.parametrize(
    "body",
    [
        *XSS,
        "<a href='javascript:alert(1)'>x</a>",
        "[x](JaVaScRiPt:alert(1))",
        "[x](data:text/html;base64,PHNjcmlwdD4=)",
        "![i](https://example.com/x.png)",
        '<svg onload="alert(1)">',
        "<iframe src=https://evil.example></iframe>",
        "<style>body{display:none}</style>",
    ],
)
def test_markdown_never_lets_script_through(body):
    html = str(render_markdown(body))
    _assert_safe(html)
    for tag in ("<svg", "<iframe", "<style", '<a href="data'):
        assert tag not in html.lower()


def test_markdown_filter_is_registered(app):
    assert app.jinja_env.filters["markdown"] is render_markdown
    assert render_markdown(None) == "" and render_markdown("") == ""


# --- adding ---------------------------------------------------------------------------


def test_add_note_without_js_redirects_back(login, api, cand):
    client = login("recruiter")
    profile = f"/candidates/{cand['id']}"
    r = _add(client, "candidate", cand["id"], "Strong **Python**", extra={"next": profile})
    assert r.status_code == 303 and r.headers["Location"] == profile
    html = _text(client.get(profile))
    assert "Strong <strong>Python</strong>" in html and "Note added." in html
    (note_id,) = _note_ids(api, cand["id"])
    note = api.get(f"{NOTES}/{note_id}").get_json()
    assert note["created_by"] == client.user_id and note["data"]["private"] is False


def test_add_note_with_htmx_returns_the_list(login, api, cand):
    client = login("recruiter")
    r = _add(client, "candidate", cand["id"], "first", headers=HX)
    assert r.status_code == 200
    html = _text(r)
    assert html.lstrip().startswith(f'<section class="notes" id="notes-{cand["id"]}"')
    assert "first" in html and "<html" not in html
    assert 'name="note-' + cand["id"] + '-body"' in html  # a fresh, empty add form
    assert "first</textarea>" not in html


@pytest.mark.parametrize("kind", ["application", "job"])
def test_add_notes_on_applications_and_jobs(login, api, kind):
    job = api.job(status="open")
    parent = api.application(job, api.candidate()) if kind == "application" else job
    client = login("recruiter")
    r = _add(client, kind, parent["id"], f"about the {kind}")
    expected = f"/applications/{parent['id']}" if kind == "application" else f"/jobs/{job['id']}"
    assert r.status_code == 303 and r.headers["Location"] == expected
    assert len(_note_ids(api, parent["id"])) == 1
    r = _add(client, kind, parent["id"], f"again about the {kind}", headers=HX)
    assert r.status_code == 200 and f"again about the {kind}" in _text(r)


def test_add_note_errors_keep_what_was_typed(login, api, cand):
    client = login("recruiter")
    long_body = "typed words " * 1700  # over the 20,000 characters a body may have
    r = _add(client, "candidate", cand["id"], long_body, private=True)
    assert r.status_code == 400
    html = _text(r)
    assert any("20000" in e for e in _errors(html))
    assert long_body.strip() in html
    assert re.search(r'<input checked[^>]*name="note-[^"]+-private"', html)
    r = _add(client, "candidate", cand["id"], "   ", headers=HX)
    assert r.status_code == 200  # htmx swaps only 2xx; the errors are in the fragment
    assert "required" in _errors(_text(r))
    assert _note_ids(api, cand["id"]) == []


def test_add_note_to_unknown_parent(login):
    client = login("recruiter")
    r = _add(client, "candidate", "cand_01JD0000000000000000000000", "x")
    assert r.status_code == 404
    assert _add(client, "user", "usr_x", "x").status_code == 400


@pytest.mark.parametrize(
    "target", ["https://evil.example/x", "//evil.example/x", "/\\evil.example", "javascript:x"]
)
def test_next_must_be_a_same_site_path(login, cand, target):
    client = login("recruiter")
    r = _add(client, "candidate", cand["id"], "note", extra={"next": target})
    assert r.status_code == 303
    assert r.headers["Location"] == f"/candidates/{cand['id']}"


# --- order, private ------------------------------------------------------------------


def test_pinned_first_then_newest(login, api, cand):
    for body, pinned in [("oldest", False), ("pinned old", True), ("middle", False)]:
        api.create(
            "application_note",
            parent_kind="candidate",
            parent_id=cand["id"],
            body=body,
            pinned=pinned,
        )
    client = login("recruiter")
    _add(client, "candidate", cand["id"], "newest")
    html = _text(client.get(f"/candidates/{cand['id']}"))
    positions = [html.index(f"<p>{b}</p>") for b in ("pinned old", "newest", "middle", "oldest")]
    assert positions == sorted(positions)
    assert html.count('class="note pinned"') == 1


def test_notes_for_helper(app, api, make_api, cand):
    from ats.services.auth import Actor
    from ats.web.notes import notes_for

    other = make_api()
    api.create("application_note", parent_kind="candidate", parent_id=cand["id"], body="a")
    api.create(
        "application_note",
        parent_kind="candidate",
        parent_id=cand["id"],
        body="b",
        pinned=True,
    )
    other.create(
        "application_note",
        parent_kind="candidate",
        parent_id=cand["id"],
        body="mine only",
        private=True,
    )
    with app.test_request_context():
        me = Actor(api.user_id, "admin", ("*",))
        them = Actor(other.user_id, "recruiter", ("*",))
        assert [n.body for n in notes_for("candidate", cand["id"], me)] == ["b", "a"]
        assert [n.body for n in notes_for("candidate", cand["id"], them)] == ["b", "mine only", "a"]
        mine = notes_for("candidate", cand["id"], them)[1]
        assert mine.mine and mine.private and mine.can_delete
        assert not notes_for("candidate", cand["id"], them)[0].can_delete


def test_private_note_is_invisible_to_everyone_else(login, api, cand):
    author = login("recruiter")
    r = _add(author, "candidate", cand["id"], "**secret** opinion", private=True)
    assert r.status_code == 303
    # the admin token belongs to another user: the API hides the note from it too
    assert _note_ids(api, cand["id"]) == []
    own = _text(author.get(f"/candidates/{cand['id']}"))
    assert "<strong>secret</strong> opinion" in own and "Private" in own
    note_id = re.search(r'id="note-(note_[^"]+)"', own).group(1)

    for role in ("admin", "recruiter"):
        other = login(role)
        page = _text(other.get(f"/candidates/{cand['id']}"))
        assert "secret" not in page and note_id not in page
        assert other.get(f"/notes/{note_id}").status_code == 404
        assert other.get(f"/notes/{note_id}/edit").status_code == 404
        assert other.get(f"/notes/{note_id}/delete").status_code == 404
        for action in ("edit", "pin", "delete"):
            r = _post(other, f"/notes/{note_id}/{action}", {f"edit-{note_id}-body": "hijack"})
            assert r.status_code == 404, action
    assert "<strong>secret</strong>" in _text(author.get(f"/notes/{note_id}"))


def test_private_note_on_an_application_page(login, api):
    author = login("interviewer")
    app = api.application(api.job(status="open", team_ids=[author.user_id]), api.candidate())
    r = _add(author, "application", app["id"], "interviewer's secret", private=True)
    assert r.status_code == 303
    assert "interviewer's secret" in _text(author.get(f"/applications/{app['id']}"))
    other = login("recruiter")
    assert "secret" not in _text(other.get(f"/applications/{app['id']}"))


# --- XSS -----------------------------------------------------------------------------


def test_script_in_a_note_never_reaches_the_page(login, api, cand):
    client = login("recruiter")
    body = "\n\n".join(XSS)
    r = _add(client, "candidate", cand["id"], body, headers=HX)
    _assert_safe(_text(r))
    page = _text(client.get(f"/candidates/{cand['id']}"))
    _assert_safe(page)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # shown as text, harmlessly
    note_id = re.search(r'id="note-(note_[^"]+)"', page).group(1)
    for url in (f"/notes/{note_id}", f"/notes/{note_id}/edit", f"/notes/{note_id}/delete"):
        _assert_safe(_text(client.get(url)))
    _assert_safe(_text(client.get(f"/notes/{note_id}/edit", headers=HX)))
    # and the same through the API's door
    api.create("application_note", parent_kind="candidate", parent_id=cand["id"], body=body)
    _assert_safe(_text(client.get(f"/candidates/{cand['id']}")))


# --- edit ----------------------------------------------------------------------------


@pytest.fixture
def own_note(login, api, cand):
    client = login("recruiter")
    _add(client, "candidate", cand["id"], "original text")
    (note_id,) = _note_ids(api, cand["id"])
    return client, note_id


def test_edit_inline_with_htmx(own_note, api, cand):
    client, note_id = own_note
    r = client.get(f"/notes/{note_id}/edit", headers=HX)
    assert r.status_code == 200
    fragment = _text(r)
    assert fragment.lstrip().startswith("<form") and f'id="note-{note_id}"' in fragment
    assert "original text</textarea>" in fragment and "<html" not in fragment
    r = _post(client, f"/notes/{note_id}/edit", {f"edit-{note_id}-body": "*changed*"}, headers=HX)
    assert r.status_code == 200
    fragment = _text(r)
    assert fragment.lstrip().startswith("<article") and "<em>changed</em>" in fragment
    assert api.get(f"{NOTES}/{note_id}").get_json()["data"]["body"] == "*changed*"
    # cancel: the note itself again
    r = client.get(f"/notes/{note_id}", headers=HX)
    assert _text(r).lstrip().startswith("<article")


def test_edit_without_js(own_note, api, cand):
    client, note_id = own_note
    page = _text(client.get(f"/notes/{note_id}/edit"))
    assert "<html" in page and "original text</textarea>" in page
    r = _post(
        client,
        f"/notes/{note_id}/edit",
        {f"edit-{note_id}-body": "plain edit", "next": f"/candidates/{cand['id']}?x=1"},
    )
    assert r.status_code == 303 and r.headers["Location"] == f"/candidates/{cand['id']}?x=1"
    assert api.get(f"{NOTES}/{note_id}").get_json()["data"]["body"] == "plain edit"
    assert "<html" in _text(client.get(f"/notes/{note_id}"))


def test_edit_errors_keep_input(own_note, api):
    client, note_id = own_note
    too_long = "y" * 20001
    r = _post(client, f"/notes/{note_id}/edit", {f"edit-{note_id}-body": too_long})
    assert r.status_code == 400 and too_long in _text(r) and _errors(_text(r))
    r = _post(client, f"/notes/{note_id}/edit", {f"edit-{note_id}-body": ""}, headers=HX)
    assert r.status_code == 200 and "required" in _errors(_text(r))
    assert api.get(f"{NOTES}/{note_id}").get_json()["data"]["body"] == "original text"


def test_only_the_author_edits(own_note, login, api, cand):
    _client, note_id = own_note
    for other in (login("admin"), login("recruiter"), _interviewer_on(login, api, cand)):
        assert other.get(f"/notes/{note_id}/edit").status_code == 403
        r = _post(other, f"/notes/{note_id}/edit", {f"edit-{note_id}-body": "hijack"})
        assert r.status_code == 403
        assert ">Edit<" not in _text(other.get(f"/notes/{note_id}"))
    assert api.get(f"{NOTES}/{note_id}").get_json()["data"]["body"] == "original text"


def test_edit_can_make_a_note_private(own_note, api):
    client, note_id = own_note
    r = _post(
        client,
        f"/notes/{note_id}/edit",
        {f"edit-{note_id}-body": "now private", f"edit-{note_id}-private": "y"},
    )
    assert r.status_code == 303
    assert api.get(f"{NOTES}/{note_id}").status_code == 404  # another user cannot see it


# --- pin -----------------------------------------------------------------------------


def test_pin_and_unpin(login, api, cand):
    first = api.create("application_note", parent_kind="candidate", parent_id=cand["id"], body="a")
    api.create("application_note", parent_kind="candidate", parent_id=cand["id"], body="b")
    client = _interviewer_on(login, api, cand)
    r = _post(client, f"/notes/{first['id']}/pin", {"pinned": "1"}, headers=HX)
    assert r.status_code == 200
    html = _text(r)
    assert html.lstrip().startswith("<section") and html.index("<p>a</p>") < html.index("<p>b</p>")
    assert api.get(f"{NOTES}/{first['id']}").get_json()["data"]["pinned"] is True
    r = _post(client, f"/notes/{first['id']}/pin", {"pinned": "0", "next": "/candidates"})
    assert r.status_code == 303 and r.headers["Location"] == "/candidates"
    assert api.get(f"{NOTES}/{first['id']}").get_json()["data"]["pinned"] is False


# --- delete --------------------------------------------------------------------------


def test_delete_with_confirmation_page(own_note, api, cand):
    client, note_id = own_note
    page = _text(client.get(f"/notes/{note_id}/delete"))
    assert "Delete this note?" in page and "original text" in page
    assert api.get(f"{NOTES}/{note_id}").status_code == 200  # GET changes nothing
    r = _post(client, f"/notes/{note_id}/delete")
    assert r.status_code == 303 and r.headers["Location"] == f"/candidates/{cand['id']}"
    assert api.get(f"{NOTES}/{note_id}").status_code == 404


def test_delete_with_htmx_returns_the_list(own_note, api, cand):
    client, note_id = own_note
    r = _post(client, f"/notes/{note_id}/delete", headers=HX)
    assert r.status_code == 200
    assert "No notes yet." in _text(r) and "original text" not in _text(r)
    assert api.get(f"{NOTES}/{note_id}").status_code == 404


def test_delete_by_others_only_for_admins(own_note, login, api, cand):
    _client, note_id = own_note
    for other in (login("recruiter"), _interviewer_on(login, api, cand)):
        assert other.get(f"/notes/{note_id}/delete").status_code == 403
        assert _post(other, f"/notes/{note_id}/delete").status_code == 403
    assert api.get(f"{NOTES}/{note_id}").status_code == 200
    admin = login("admin")
    assert _post(admin, f"/notes/{note_id}/delete").status_code == 303
    assert api.get(f"{NOTES}/{note_id}").status_code == 404


def test_interviewers_only_reach_notes_of_their_jobs(login, api, cand):
    client = login("interviewer")
    theirs = api.job(title="Their Job", team_ids=[client.user_id])
    other_job = api.job(title="Other Job")
    hidden_app = api.application(other_job, api.candidate(name="Hidden Person"))
    hidden_note = api.create(
        "application_note", parent_kind="job", parent_id=other_job["id"], body="hidden words"
    )
    assert _add(client, "job", theirs["id"], "on my job").status_code == 303
    assert _add(client, "job", other_job["id"], "x").status_code == 404
    assert _add(client, "application", hidden_app["id"], "x").status_code == 404
    assert _add(client, "candidate", cand["id"], "x").status_code == 404
    assert client.get(f"/notes/{hidden_note['id']}").status_code == 404
    assert _post(client, f"/notes/{hidden_note['id']}/pin", {"pinned": "1"}).status_code == 404
    assert len(_note_ids(api, theirs["id"])) == 1 and len(_note_ids(api, other_job["id"])) == 1


def test_get_never_deletes_or_pins(own_note, api):
    client, note_id = own_note
    assert client.get(f"/notes/{note_id}/pin").status_code == 405
    assert client.get("/notes").status_code == 405
    assert api.get(f"{NOTES}/{note_id}").get_json()["data"]["pinned"] is False


# --- CSRF, login ---------------------------------------------------------------------


def test_csrf_missing_is_400(own_note, api, cand):
    client, note_id = own_note
    for url, data in [
        ("/notes", {"parent_kind": "candidate", "parent_id": cand["id"], "body": "x"}),
        (f"/notes/{note_id}/edit", {f"edit-{note_id}-body": "x"}),
        (f"/notes/{note_id}/pin", {"pinned": "1"}),
        (f"/notes/{note_id}/delete", {}),
    ]:
        assert client.post(url, data=data).status_code == 400, url
        assert client.post(url, data=data, headers=HX).status_code == 400, url
    # the header HTMX sends is accepted
    r = client.post(
        f"/notes/{note_id}/pin", data={"pinned": "1"}, headers={**HX, "X-CSRFToken": client.csrf}
    )
    assert r.status_code == 200
    note = api.get(f"{NOTES}/{note_id}").get_json()["data"]
    assert note["body"] == "original text" and note["pinned"] is True


def test_logged_out_gets_no_notes(client, api, cand):
    note = api.create("application_note", parent_kind="candidate", parent_id=cand["id"], body="x")
    r = client.get(f"/notes/{note['id']}")
    assert r.status_code == 302 and "/login" in r.headers["Location"]
