"""Hostile input (issue 8): every attack is tried, and must come to nothing.

- XSS: script tags, attribute breakouts, ``javascript:`` links (also in
  Markdown), SVG, iframes and template syntax go into every free-text field of
  every model (the list is derived from ``ats.fields``), the URL fields, tags,
  question labels and answers, a staff user's name and a token's name; then
  every page that shows them (as a whole page and as an HTMX fragment) is
  parsed: no script but ours, no ``on*`` attribute, no ``javascript:`` URL, no
  element the payloads would make. Reflected input (search boxes, a refused
  apply form, a 404 for a strange id) too.
- Uploads named ``.pdf`` (or ``.png``) holding HTML, a ZIP, an executable or
  nothing are refused by the apply form, the application page and the logo
  upload; the API takes no file it has not checked.
- Path traversal in upload names, blob ids and static paths is refused or
  neutralised; download names in ``Content-Disposition`` are plain.
- Bodies over the limits: 413 from the API, the apply form and the settings
  upload.
"""

from __future__ import annotations

import io
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from ats import fields as F
from ats.extensions import db
from ats.models import OutboxMessage
from ats.services import auth
from tests.conftest import Api
from tests.cvfiles import make_pdf
from tests.security.conftest import token_for

# --- payloads -------------------------------------------------------------------------

# Short ones first, so that short fields hold the breakouts; each calls alert
# with its own number. ``{{7*7191}}`` would print 50337 if a template ever
# evaluated stored text.
PAYLOADS = [
    '"><img src=x onerror=alert(2)>',
    "'><svg onload=alert(3)>",
    '" onfocus="alert(4)" autofocus x="',
    "' onmouseover='alert(5)' x='",
    "<script>alert(1)</script>",
    "javascript:alert(7)",
    "{{7*7191}}",
    "</textarea><script>alert(6)</script>",
    '<a href="javascript:alert(9)">l</a>',
    "</script><script>alert(10)</script>",
    '<iframe srcdoc="<script>alert(11)</script>">',
    "[m](javascript:alert(12))",
    '![i](x"onerror="alert(13))',
    "<img src=x onerror=alert(14)>",
    "[d](data:text/html,<script>alert(15)</script>)",
    "<math><mi xlink:href=javascript:alert(16)>x</mi></math>",
]
URL_PAYLOADS = [
    'https://x.example/"><svg/onload=alert(21)>',
    "https://x.example/'><script>alert(22)</script>",
    'https://x.example/"onmouseover="alert(23)',
]
TEMPLATE_EVALUATED = "50337"
SLOTS = 8  # objects of each model; slot s starts at payload 2s, so short fields see every one
EXTERNAL = SLOTS - 1  # the job of this slot applies elsewhere: its careers page redirects


def text_value(code: str, max_length: int, slot: int) -> str:
    """``code`` and as many payloads as fit, starting at the slot's own."""
    value = code
    n = len(PAYLOADS)
    for i in range(n):
        p = PAYLOADS[(2 * slot + i) % n]
        if len(value) + 1 + len(p) <= max_length:
            value += " " + p
    return value


def url_value(code: str, slot: int) -> str:
    return URL_PAYLOADS[slot % len(URL_PAYLOADS)] + code


def text_fields(mdef: F.ModelDef) -> list[F.Field]:
    """The free-text fields of a model: strings without a pattern that name no id."""
    return [
        f
        for f in mdef.fields
        if f.type == F.STRING
        and f.create
        and not f.pattern
        and not f.data_url
        and not f.name.endswith("_id")
    ]


# --- the HTML checker --------------------------------------------------------------------

URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "data", "poster", "srcset"}
FORBIDDEN_TAGS = {"svg", "math", "object", "embed", "base", "frame", "frameset", "applet"}
BAD_SCHEMES = re.compile(r"^\s*(javascript|vbscript|data)\s*:", re.I)


class PageCheck(HTMLParser):
    """Everything on a page that would run a payload, as a list of problems."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.script: dict[str, str] | None = None
        self.script_text = ""
        self.seen: list[str] = []  # text and attribute values, to tell which fields showed

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        self.seen.extend(a.values())
        for name, value in a.items():
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}={value!r}>")
            if name == "srcdoc":
                self.problems.append(f"<{tag} srcdoc>")
            if name in URL_ATTRIBUTES and BAD_SCHEMES.match(value):
                if not (tag == "img" and value.startswith("data:image/")):
                    self.problems.append(f"<{tag} {name}={value[:60]!r}>")
        if tag in FORBIDDEN_TAGS:
            self.problems.append(f"<{tag}>")
        if tag in ("img", "iframe") and not a.get("src", "").startswith(
            ("/", "https://", "data:image/")
        ):
            self.problems.append(f"<{tag} src={a.get('src')!r}>")
        if tag == "meta" and a.get("http-equiv", "").lower() == "refresh":
            self.problems.append("<meta http-equiv=refresh>")
        if tag == "script":
            self.script = a
            self.script_text = ""
            if not (
                a.get("src", "").startswith("/static/") or a.get("type") == "application/ld+json"
            ):
                self.problems.append(f"<script {a}>")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self.script is not None:
            if self.script.get("type") == "application/ld+json":
                try:
                    json.loads(self.script_text)
                except ValueError:
                    self.problems.append("JSON-LD that does not parse: " + self.script_text[:80])
            elif self.script_text.strip():
                self.problems.append("inline script: " + self.script_text[:80])
            self.script = None

    def handle_data(self, data: str) -> None:
        if self.script is not None:
            self.script_text += data
        else:
            self.seen.append(data)


def check_page(html: str, where: str) -> list[str]:
    """The problems of one page; also the raw text, where no escaping can hide them."""
    checker = PageCheck()
    checker.feed(html)
    checker.close()
    problems = [f"{where}: {p}" for p in checker.problems]
    for raw in ("<script>alert", "<img src=x", "<svg", "<iframe srcdoc", "<math"):
        if raw in html:
            problems.append(f"{where}: raw {raw!r}")
    if TEMPLATE_EVALUATED in html:
        problems.append(f"{where}: a template evaluated stored text")
    return problems


def seen_text(html: str) -> str:
    checker = PageCheck()
    checker.feed(html)
    return "\n".join(checker.seen)


# --- a company full of payloads -------------------------------------------------------------


class Hostile:
    """Objects whose every free-text field holds payloads; ``codes`` maps each
    field's code (the start of its values) to ``model.field``."""

    def __init__(self, app: Flask, api: Api) -> None:
        self.app, self.api = app, api
        self.codes: dict[str, str] = {}
        self.stored = 0  # field values stored (each holding one or more payloads)
        self.payload_values = 0  # payloads stored, counted per field value
        self.ids: dict[str, list[str]] = {}

    def code(self, what: str) -> str:
        for code, name in self.codes.items():
            if name == what:
                return code
        code = f"Zq{len(self.codes):03d}q"
        self.codes[code] = what
        return code

    def body(self, mdef: F.ModelDef, slot: int, **extra: Any) -> dict[str, Any]:
        body: dict[str, Any] = {}
        for f in text_fields(mdef):
            if f.name in extra:
                continue
            body[f.name] = text_value(
                self.code(f"{mdef.name}.{f.name}"), f.max_length or 4000, slot
            )
        for f in mdef.fields:
            if f.name in extra:
                continue
            if f.type == F.URL or f.data_url:
                body[f.name] = url_value(self.code(f"{mdef.name}.{f.name}"), slot)
            elif f.type == F.TAGS:
                code = self.code(f"{mdef.name}.{f.name}")
                body[f.name] = [code] + [p for p in PAYLOADS if len(p) <= F.TAG_MAX_LENGTH][:12]
        body.update(extra)
        return body

    def create(self, mdef: F.ModelDef, slot: int, **extra: Any) -> dict[str, Any]:
        body = self.body(mdef, slot, **extra)
        obj = self.api.create(mdef.name, **body)
        for name, sent in body.items():
            if name in extra:
                continue
            assert obj["data"][name] == sent, (mdef.name, name)  # stored as given
            self.stored += 1
            values = sent if isinstance(sent, list) else [sent]
            self.payload_values += sum(
                1 for v in values for p in PAYLOADS + URL_PAYLOADS if p in str(v)
            )
        self.ids.setdefault(mdef.name, []).append(obj["id"])
        return obj


@pytest.fixture
def hostile(app: Flask, api: Api, login: Any) -> dict[str, Any]:
    admin = login("admin", email="admin-x@example.com")
    h = Hostile(app, token_for(app, admin.user_id))  # the admin writes: notes are theirs to edit
    h.create(F.COMPANY_PROFILE, 0, public_careers_enabled=True, show_about=True)
    evil_name = text_value("ZqUSERq", 200, 0)
    with app.app_context():
        auth.create_user("evil@example.com", "quiet-otter-harbour-7", evil_name, "recruiter")
    h.codes["ZqUSERq"] = "user.name"
    for slot in range(SLOTS):
        questions = [
            {
                "id": f"q{slot}",
                "label": text_value(h.code("job.screening_questions.label"), 500, slot),
                "type": "text",
            },
            {
                "id": f"c{slot}",
                "label": text_value(h.code("job.screening_questions.label"), 500, slot),
                "type": "choice",
                "choices": [h.code("job.screening_questions.choices"), *PAYLOADS[:6]],
            },
        ]
        job = h.create(
            F.JOB,
            slot,
            status="open",
            public=True,
            slug=f"hostile-{slot}",
            screening_questions=questions,
            **({} if slot == EXTERNAL else {"external_apply_url": None}),
        )
        source = h.create(F.SOURCE, slot)
        cand = h.create(F.CANDIDATE, slot, email=f"c{slot}@example.com")
        extra: dict[str, Any] = {
            "job_id": job["id"],
            "candidate_id": cand["id"],
            "source_id": source["id"],
            "answers": [
                {"question_id": f"q{slot}", "value": text_value(h.code("answer"), 4000, slot)}
            ],
            "fit_score": 50,
        }
        if slot % 2:
            extra |= {"stage": "rejected", "rejected_reason": "other"}
        application = h.create(F.APPLICATION, slot, **extra)
        h.create(
            F.INTERVIEW,
            slot,
            application_id=application["id"],
            scheduled_at=f"2099-01-0{slot + 1}T10:00:00Z",
            interviewer_id=admin.user_id,
            send_invite=slot == 0,
        )
        for kind, parent in (("candidate", cand), ("application", application), ("job", job)):
            h.create(F.APPLICATION_NOTE, slot, parent_kind=kind, parent_id=parent["id"])
    token_for(app, admin.user_id, name=text_value("ZqTOKENq", 100, 0))
    h.codes["ZqTOKENq"] = "token.name"
    return {"h": h, "admin": admin}


def _pages(app: Flask, h: Hostile) -> list[str]:
    ids = h.ids
    pages = [
        "/",
        "/jobs",
        "/jobs?q=alert",
        "/jobs?archived=1",
        "/candidates",
        "/candidates?q=alert",
        "/interviews?mine=0",
        "/interviews?mine=0&past=1",
        "/careers",
        "/careers?q=alert",
        "/settings",
        "/settings/company",
        "/settings/users",
        "/settings/sources",
        "/settings/tokens",
        "/settings/retention",
        "/settings/audit",
        "/settings/mail/outbox",
    ]
    for slot in range(SLOTS):
        job, app_id = ids["job"][slot], ids["application"][slot]
        cand, iv = ids["candidate"][slot], ids["interview"][slot]
        pages += [
            f"/jobs/{job}",
            f"/jobs/{job}/edit",
            f"/applications/{app_id}",
            f"/candidates/{cand}",
            f"/candidates/{cand}/edit",
            f"/candidates/{cand}/erase",
            f"/interviews/{iv}/edit",
            f"/interviews/{iv}/cancel",
            f"/interviews/{iv}/outcome",
            f"/settings/sources/{ids['source'][slot]}/edit",
        ]
        if slot != EXTERNAL:
            pages += [f"/careers/hostile-{slot}", f"/careers/hostile-{slot}/apply"]
        notes = ids["application_note"][3 * slot : 3 * slot + 3]
        pages += [f"/notes/{note}" for note in notes]  # each kind of parent
        pages += [f"/notes/{notes[0]}/edit", f"/notes/{notes[0]}/delete"]
    with app.app_context():
        for message_id in db.session.scalars(select(OutboxMessage.id)):
            pages.append(f"/settings/mail/outbox/{message_id}")
    return pages


def test_payloads_in_every_free_text_field_render_inert_on_every_page(app, hostile):
    h, admin = hostile["h"], hostile["admin"]
    problems: list[str] = []
    seen = ""
    pages = _pages(app, h)
    rendered = 0
    for path in pages:
        response = admin.get(path)
        assert response.status_code == 200, (path, response.status_code)
        html = response.get_data(as_text=True)
        problems += check_page(html, path)
        seen += seen_text(html)
        rendered += 1
        if "HX-Request" in response.headers.get("Vary", ""):  # a fragment of its own too
            fragment = admin.get(path, headers={"HX-Request": "true"})
            assert fragment.status_code == 200, (path, "HX")
            problems += check_page(fragment.get_data(as_text=True), f"{path} (HTMX)")
            rendered += 1
    assert not problems, "\n".join(problems[:40])
    # every field was stored with its payloads and shown somewhere (or is known not to be)
    shown = {name for code, name in h.codes.items() if code in seen}
    never = set(h.codes.values()) - shown
    assert never <= NOT_SHOWN, f"fields never rendered: {sorted(never - NOT_SHOWN)}"
    assert len(pages) >= 150 and rendered >= len(pages) + 30
    assert h.stored >= 150 and h.payload_values >= 1000
    # the job that applies elsewhere: its careers page sends the browser there, and only there
    for path in (f"/careers/hostile-{EXTERNAL}", f"/careers/hostile-{EXTERNAL}/apply"):
        response = app.test_client().get(path)
        assert response.status_code == 302
        location = response.headers["Location"]
        assert location.startswith("https://x.example/") and not re.search(r"[\s<>\"]", location)
        assert not check_page(response.get_data(as_text=True), path)
    _FIGURES.update(pages=rendered, fields=len(h.codes), values=h.stored, payloads=h.payload_values)


# Fields no page shows (the API has them): checked by the test so that a page
# that starts showing one is noticed and this list shrinks.
NOT_SHOWN: set[str] = set()
_FIGURES: dict[str, int] = {}


def test_the_checker_catches_what_it_looks_for():
    """The parser-based check is the test's eyes: prove it sees each attack."""
    bad = [
        '<p><img src=x onerror="alert(2)"></p>',
        "<div><script>alert(1)</script></div>",
        '<a href="javascript:alert(9)">x</a>',
        '<a href=" JaVaScRiPt:alert(9)">x</a>',
        "<svg><circle/></svg>",
        '<input value="" autofocus onfocus="alert(4)">',
        '<iframe srcdoc="x"></iframe>',
        '<script type="application/ld+json">{"a": "</script><script>alert(10)</script>"}</script>',
        "<p>50337</p>",
        '<a href="data:text/html,x">x</a>',
    ]
    for html in bad:
        assert check_page(html, "t"), html
    good = (
        "<p>&lt;script&gt;alert(1)&lt;/script&gt; &#34;&gt;&lt;img src=x onerror=alert(2)&gt;</p>"
        '<input value="&#34; onfocus=&#34;alert(4)&#34;">'
        '<script src="/static/app.js" defer></script>'
        '<script type="application/ld+json">{"t": "\\u003cscript\\u003e"}</script>'
        '<img src="data:image/png;base64,AAAA" alt="">'
    )
    assert check_page(good, "t") == []


@pytest.fixture
def open_job(api: Api) -> dict[str, Any]:
    """One published job with a text question, on an enabled careers site."""
    api.create("company_profile", name="Acme", public_careers_enabled=True)
    question = {"id": "q0", "label": "Why?", "type": "text"}
    return api.job(
        title="Open", status="open", public=True, slug="open", screening_questions=[question]
    )


def test_reflected_input_is_escaped(app, open_job, login):
    """Search boxes, filters and a 404 for a strange id echo what was sent: inertly."""
    admin = login("admin")
    payload = PAYLOADS[0] + PAYLOADS[4] + PAYLOADS[2]
    job = open_job["id"]
    for path, query in (
        ("/jobs", {"q": payload, "department": payload, "status": payload}),
        ("/candidates", {"q": payload, "tag": payload[:64], "sort": payload}),
        ("/careers", {"q": payload, "department": payload, "location": payload}),
        ("/interviews", {"mine": payload, "past": payload}),
        ("/settings/audit", {"action": payload, "actor": payload, "from": payload}),
        ("/settings/mail/outbox", {"status": payload}),
        (f"/jobs/{job}", {"next": payload}),
        (f"/jobs/{payload}", {}),
        (f"/applications/{payload}", {}),
        (f"/notes/{payload}", {}),
    ):
        for hx in ({}, {"HX-Request": "true"}):
            response = admin.get(path, query_string=query, headers=hx)
            assert response.status_code in (200, 400, 404), (path, response.status_code)
            assert not check_page(response.get_data(as_text=True), path)
    for path in (f"/xapi2/data/job/{payload}", f"/xapi2/data/{payload}"):
        response = admin.get(path)
        assert response.status_code == 404 and response.mimetype == "application/json"


def test_a_refused_apply_form_shows_what_was_typed_inertly(app, open_job):
    """The public form echoes a refused submission (no consent): the payloads stay text."""
    client = app.test_client()
    form = client.get("/careers/open/apply").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form) or re.search(
        r'name="csrf_token" value="([^"]+)"', form
    )
    assert csrf, "no CSRF token on the apply form"
    token = re.search(r'name="form_token" value="([^"]+)"', form)
    typed = " ".join(PAYLOADS[:8])
    data = {
        "csrf_token": csrf.group(1),
        "form_token": token.group(1) if token else "",
        "name": typed[:200],
        "email": "not an address" + PAYLOADS[0],
        "phone": PAYLOADS[1],
        "cover_letter": typed,
        "q:q0": typed,
    }
    response = client.post("/careers/open/apply", data=data)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "onerror=alert(2)" in seen_text(html)  # it is shown, as text
    assert not check_page(html, "apply form")


# --- uploads --------------------------------------------------------------------------

PDF = make_pdf([["A real CV"]])
NOT_DOCUMENTS = {
    "html": b"<!doctype html><html><script>alert(1)</script></html>",
    "zip": b"PK\x03\x04" + b"\x00" * 26 + b"not a word document",
    "exe": b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + b"\x00" * 100,
    "elf": b"\x7fELF\x02\x01\x01" + b"\x00" * 100,
    "svg": b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>',
    "empty": b"",
}


def _apply(client: Any, slug: str, cv: bytes, filename: str, email: str) -> Any:
    page = client.get(f"/careers/{slug}/apply").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    token = re.search(r'name="form_token"[^>]*value="([^"]+)"', page)
    assert csrf and token
    return client.post(
        f"/careers/{slug}/apply",
        data={
            "csrf_token": csrf.group(1),
            "form_token": token.group(1),
            "name": "Up Loader",
            "email": email,
            "privacy_consent": "yes",
            "cv": (io.BytesIO(cv), filename),
        },
        content_type="multipart/form-data",
    )


def _stored_files(app: Flask) -> list[Path]:
    root = Path(app.config["DATA_DIR"])
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_the_apply_form_refuses_a_pdf_name_on_other_content(app, open_job):
    client = app.test_client()
    for kind, content in NOT_DOCUMENTS.items():
        r = _apply(client, "open", content, "cv.pdf", f"{kind}@example.com")
        assert r.status_code == 400, kind
        html = r.get_data(as_text=True)
        assert "only PDF, DOC or DOCX files are accepted" in html or "the file is empty" in html
    assert _stored_files(app) == []


def test_the_application_page_refuses_a_pdf_name_on_other_content(app, api, login):
    application = api.application()
    client = login("recruiter")
    for kind, content in NOT_DOCUMENTS.items():
        r = client.post(
            f"/applications/{application['id']}/cv",
            data={"csrf_token": client.csrf, "cv": (io.BytesIO(content), "cv.pdf")},
            content_type="multipart/form-data",
            follow_redirects=True,
        )
        assert "CV not saved" in r.get_data(as_text=True), kind
    assert _stored_files(app) == []
    data = api.get(f"/data/application/{application['id']}").get_json()["data"]
    assert data["cv_blob_id"] is None


def test_the_logo_upload_refuses_a_png_name_on_other_content(app, api, login):
    api.create("company_profile", name="Acme")
    client = login("admin")
    for kind in ("html", "svg", "exe", "empty"):
        r = client.post(
            "/settings/company",
            data={
                "csrf_token": client.csrf,
                "name": "Acme",
                "logo_file": (io.BytesIO(NOT_DOCUMENTS[kind]), "logo.png"),
            },
            content_type="multipart/form-data",
        )
        assert r.status_code == 400, kind
    logo = api.get("/data/company_profile").get_json()["items"][0]["data"]["logo_url"]
    assert logo is None


TRAVERSALS = [
    "../../../etc/passwd",
    "..\\..\\windows\\win.ini",
    "/etc/passwd",
    "blob_../../x",
    "blob_01ARZ3NDEKTSV4RRFFQ69G5FA/../../x",
    "..%2F..%2Fetc%2Fpasswd",
    "%2e%2e%2fetc",
    "blob_01ARZ3NDEKTSV4RRFFQ69G5FAV\x00.pdf",
    "blob_01ARZ3NDEKTSV4RRFFQ69G5FAV.pdf",
    "C:\\x.pdf",
]


def test_the_api_refuses_a_blob_id_that_is_a_path(api):
    application = api.application()
    other = api.candidate(name="B")
    for blob_id in TRAVERSALS:
        r = api.patch(f"/data/application/{application['id']}", json={"cv_blob_id": blob_id})
        assert r.status_code == 400 and "cv_blob_id" in r.get_json()["fields"], blob_id
        r = api.post(
            "/data/application",
            json={
                "job_id": application["data"]["job_id"],
                "candidate_id": other["id"],
                "cv_blob_id": blob_id,
            },
        )
        assert r.status_code == 400 and "cv_blob_id" in r.get_json()["fields"], blob_id


UPLOAD_NAMES = [
    "../../../../tmp/evil.pdf",
    "..\\..\\evil.pdf",
    "/etc/cron.d/evil.pdf",
    "a\x00.pdf",
    "%2e%2e%2fx.pdf",
    "cv.pdf\r\nX-Evil: 1",
]


def test_an_upload_name_never_becomes_a_path(app, api, login, tmp_path):
    application = api.application(candidate=api.candidate(name='../../etc/passwd"; x=y\r\nSet: z'))
    client = login("recruiter")
    root = Path(app.config["DATA_DIR"]).resolve()
    for filename in UPLOAD_NAMES:
        r = client.post(
            f"/applications/{application['id']}/cv",
            data={"csrf_token": client.csrf, "cv": (io.BytesIO(PDF), filename)},
            content_type="multipart/form-data",
        )
        assert r.status_code == 303, filename
        [stored] = _stored_files(app)  # the one CV, the one before it replaced
        assert stored.resolve().parent == root / "cv"
        assert re.fullmatch(r"blob_[0-9A-Z]{26}\.pdf", stored.name), stored.name
        download = client.get(f"/applications/{application['id']}/cv")
        download.close()
        assert download.headers["Content-Disposition"] == (
            "attachment; filename=etc-passwd-x-y-set-z-cv.pdf"
        )
        assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert not list(tmp_path.parent.glob("**/evil.pdf"))


STATIC_TRAVERSALS = [
    "/static/../ats/config.py",
    "/static/%2e%2e/ats/config.py",
    "/static/..%2fats%2fconfig.py",
    "/static/..%5cats%5cconfig.py",
    "/static/..\\ats\\config.py",
    "/static//etc/passwd",
    "/static/%2fetc%2fpasswd",
    "/static/app.css%00.py",
]


def test_static_files_stay_inside_the_static_folder(client):
    for path in STATIC_TRAVERSALS:
        response = client.get(path, follow_redirects=True)  # "//" is merged by a redirect
        body = response.get_data(as_text=True)
        response.close()
        assert response.status_code in (400, 404), path
        assert "SECRET" not in body and "root:" not in body


def test_an_ics_download_name_is_the_message_id(app, api, login):
    """The .ics name comes from the message id, never from a candidate's or job's text."""
    api.create("company_profile", name="Acme")
    job = api.job(title='../../x"\r\nSet-Cookie: a=b')
    cand = api.candidate(name='a/b\\c"d', email="x@example.com")
    application = api.application(job=job, candidate=cand)
    api.create(
        "interview",
        application_id=application["id"],
        scheduled_at="2099-01-01T10:00:00Z",
        send_invite=True,
    )
    with app.app_context():
        message_id = db.session.scalars(
            select(OutboxMessage.id).where(OutboxMessage.ics.is_not(None))
        ).first()
    admin = login("admin")
    r = admin.get(f"/settings/mail/outbox/{message_id}/invite.ics")
    assert r.status_code == 200
    assert r.headers["Content-Disposition"] == f'attachment; filename="{message_id}.ics"'
    assert re.fullmatch(r"msg_[0-9A-Z]{26}", message_id)
    assert "Set-Cookie" not in r.headers and r.headers["X-Content-Type-Options"] == "nosniff"


# --- oversized bodies ------------------------------------------------------------------------


def test_an_oversized_api_body_is_413(app, api):
    limit = app.config["MAX_JSON_BYTES"]
    body = b'{"title": "' + b"x" * limit + b'"}'
    r = api.client.post(
        "/xapi2/data/job", data=body, headers={**api.headers(), "Content-Type": "application/json"}
    )
    assert r.status_code == 413 and r.get_json()["error"] == "payload_too_large"
    r = api.client.patch(
        f"/xapi2/data/job/{api.job()['id']}",
        data=body,
        headers={**api.headers(), "Content-Type": "application/json"},
    )
    assert r.status_code == 413
    assert api.get("/data/job").get_json()["total"] == 1


# The request limit is lowered for the form posts: the test client spools a
# multipart body over 500 KB to a temporary file it never closes. The app reads
# MAX_CONTENT_LENGTH per request, so this is the same check at a smaller size.
FORM_LIMIT = 200_000


def test_an_oversized_apply_form_is_413_and_shows_the_form(app, open_job):
    app.config["MAX_CONTENT_LENGTH"] = FORM_LIMIT
    client = app.test_client()
    big = b"%PDF-1.4\n" + b"0" * FORM_LIMIT
    r = _apply(client, "open", big, "cv.pdf", "big@example.com")
    assert r.status_code == 413
    assert 'name="email"' in r.get_data(as_text=True)  # the form again, to send a smaller file
    assert _stored_files(app) == []


def test_an_oversized_settings_upload_is_413(app, api, login):
    api.create("company_profile", name="Acme")
    client = login("admin")
    app.config["MAX_CONTENT_LENGTH"] = FORM_LIMIT
    big = b"\x89PNG\r\n\x1a\n" + b"0" * FORM_LIMIT
    r = client.post(
        "/settings/company",
        data={"csrf_token": client.csrf, "name": "Acme", "logo_file": (io.BytesIO(big), "l.png")},
        content_type="multipart/form-data",
    )
    assert r.status_code == 413
    assert api.get("/data/company_profile").get_json()["items"][0]["data"]["logo_url"] is None
