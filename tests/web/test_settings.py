"""Settings pages: the company profile, users, sources, personal API tokens, my account.

Pins who may use which section (403 otherwise), that every write needs POST with
CSRF, that a refused save keeps what was typed, that logo and banner uploads are
judged by their bytes and not their names, that a token is shown once and can do
exactly what its scopes say, and that deactivation and password changes end
sessions for real (except the one that changed the password).
"""

from __future__ import annotations

import base64
import re
import struct
import zlib
from io import BytesIO
from typing import Any

import pytest
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from ats import fields as F
from ats.extensions import db
from ats.models import ApiToken, Application, User
from ats.web import settings as S

# --- helpers -------------------------------------------------------------------


def tiny_png() -> bytes:
    """A real 1x1 PNG, built by hand (signature, IHDR, IDAT, IEND)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00\xff\x00\x00")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def csrf(client: Any, path: str = "/settings") -> str:
    """A CSRF token from a page, as the browser would have it."""
    html = client.get(path).get_data(as_text=True)
    m = re.search(r'"X-CSRFToken": "([^"]+)"', html)
    assert m, html[:500]
    return m.group(1)


def post(client: Any, path: str, data: dict | None = None, **kw: Any) -> Any:
    data = {"csrf_token": csrf(client), **(data or {})}
    if kw.get("content_type") == "multipart/form-data":
        # encoded here, in memory: the test client spools bodies over 500 kB to a
        # temporary file that it never closes (a ResourceWarning, an error here)
        files = {k: FileStorage(v[0], v[1]) for k, v in data.items() if isinstance(v, tuple)}
        boundary, body = encode_multipart({**data, **files})
        kw["content_type"] = f"multipart/form-data; boundary={boundary}"
        return client.post(path, data=body, **kw)
    return client.post(path, data=data, **kw)


def login_as(app: Any, email: str, password: str = "quiet-otter-harbour-7") -> Any:
    """Another browser, logged in through the real form."""
    client = app.test_client()
    html = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)
    r = client.post("/login", data={"email": email, "password": password, "csrf_token": token})
    assert r.status_code == 302, r.get_data(as_text=True)
    return client


def logged_in(client: Any) -> bool:
    r = client.get("/settings/account")
    if r.status_code == 302:
        assert "/login" in r.headers["Location"]
        return False
    assert r.status_code == 200
    return True


def user(app: Any, user_id: str) -> User:
    with app.app_context():
        u = db.session.get(User, user_id)
        db.session.expunge(u)
        return u


def company_form(**overrides: Any) -> dict[str, Any]:
    data = {
        "name": "Acme GmbH",
        "display_name": "Acme",
        "size": "11-50",
        "industry": "Software",
        "summary": "We make anvils.",
        "website": "https://acme.example",
        "main_location": "Berlin",
        "logo_url": "",
        "banner_url": "",
        "accent_color": "#ff6600",
        "imprint_url": "https://acme.example/imprint",
        "privacy_url": "https://acme.example/privacy",
        "show_about": "y",
        "public_careers_enabled": "y",
        "retention_unit": "months",
        "retention_value": "6",
    }
    data.update(overrides)
    return data


def profile(api: Any) -> dict[str, Any] | None:
    items = api.get("/data/company_profile").get_json()["items"]
    return items[0]["data"] if items else None


# --- who may see what --------------------------------------------------------------


def test_index_lists_the_sections_each_role_may_use(login):
    page = login("admin").get("/settings").get_data(as_text=True)
    for label in ("Company profile", "Users", "Sources", "API tokens", "My account"):
        assert label in page
    page = login("recruiter").get("/settings").get_data(as_text=True)
    assert "Sources" in page and "API tokens" in page and "My account" in page
    assert "Company profile" not in page and "/settings/users" not in page
    page = login("interviewer").get("/settings").get_data(as_text=True)
    assert "API tokens" in page and "My account" in page
    assert "Sources" not in page and "Company profile" not in page


@pytest.mark.parametrize(
    ("role", "method", "path"),
    [
        ("recruiter", "get", "/settings/company"),
        ("recruiter", "post", "/settings/company"),
        ("interviewer", "get", "/settings/company"),
        ("interviewer", "post", "/settings/company"),
        ("recruiter", "get", "/settings/users"),
        ("recruiter", "post", "/settings/users"),
        ("recruiter", "post", "/settings/users/usr_x/role"),
        ("recruiter", "post", "/settings/users/usr_x/active"),
        ("interviewer", "get", "/settings/users"),
        ("interviewer", "get", "/settings/sources"),
        ("interviewer", "post", "/settings/sources"),
        ("interviewer", "get", "/settings/sources/src_x/edit"),
        ("interviewer", "post", "/settings/sources/src_x/delete"),
    ],
)
def test_wrong_role_is_forbidden(login, role, method, path):
    client = login(role)
    if method == "get":
        assert client.get(path).status_code == 403
    else:
        assert post(client, path, company_form()).status_code == 403


@pytest.mark.parametrize(
    "path", ["/settings", "/settings/tokens", "/settings/account", "/settings/sources"]
)
def test_anonymous_is_sent_to_login(client, make_user, path):
    make_user()
    r = client.get(path)
    assert r.status_code == 302 and "/login" in r.headers["Location"]


@pytest.mark.parametrize(
    "path",
    [
        "/settings/company",
        "/settings/users",
        "/settings/users/{me}/role",
        "/settings/users/{me}/active",
        "/settings/sources",
        "/settings/sources/src_x/edit",
        "/settings/sources/src_x/delete",
        "/settings/tokens",
        "/settings/tokens/tok_x/revoke",
        "/settings/account/timezone",
        "/settings/account/password",
    ],
)
def test_every_write_needs_the_csrf_token(login, path):
    client = login("admin")
    r = client.post(path.format(me=client.user_id), data={"name": "x", "role": "recruiter"})
    assert r.status_code == 400
    assert "CSRF" in r.get_data(as_text=True)


# --- company profile -----------------------------------------------------------


def test_company_form_covers_every_profile_field():
    assert sorted(S.COMPANY_FIELDS) == sorted(f.name for f in F.COMPANY_PROFILE.fields if f.create)


def test_upload_limits_fit_the_field_lengths():
    for name, (_file, max_bytes) in S.IMAGE_UPLOADS.items():
        longest = len("data:image/jpeg;base64,") + len(base64.b64encode(b"\0" * max_bytes))
        assert longest <= F.COMPANY_PROFILE[name].max_length


def test_company_profile_is_created_then_updated(login, api):
    client = login("admin")
    assert profile(api) is None
    page = client.get("/settings/company").get_data(as_text=True)
    assert "saving this form creates it" in page
    r = post(client, "/settings/company", company_form())
    assert r.status_code == 303, r.get_data(as_text=True)
    data = profile(api)
    assert data["name"] == "Acme GmbH" and data["accent_color"] == "#ff6600"
    assert data["public_careers_enabled"] is True and data["show_other_jobs"] is False
    assert data["retention_value"] == 6 and data["retention_unit"] == "months"

    r = post(client, "/settings/company", company_form(show_about="", retention_value="2"))
    assert r.status_code == 303
    data = profile(api)
    assert data["show_about"] is False and data["retention_value"] == 2
    assert len(api.get("/data/company_profile").get_json()["items"]) == 1
    page = client.get("/settings/company").get_data(as_text=True)
    assert 'value="Acme GmbH"' in page and "accent-sample" in page


def test_company_validation_errors_keep_what_was_typed(login, api):
    client = login("admin")
    r = post(
        client,
        "/settings/company",
        company_form(name="Typed Name", accent_color="orange", website="nope", retention_value="x"),
    )
    assert r.status_code == 400
    page = r.get_data(as_text=True)
    assert 'value="Typed Name"' in page and 'value="orange"' in page and 'value="nope"' in page
    assert page.count('class="error"') >= 3  # accent colour, website, retention value
    assert "must be a number" in page and "must match" in page
    assert profile(api) is None  # nothing saved


def test_logo_upload_accepts_a_real_png(login, api):
    client = login("admin")
    png = tiny_png()
    r = post(
        client,
        "/settings/company",
        {**company_form(), "logo_file": (BytesIO(png), "whatever.bin")},
        content_type="multipart/form-data",
    )
    assert r.status_code == 303, r.get_data(as_text=True)
    logo = profile(api)["logo_url"]
    assert logo == "data:image/png;base64," + base64.b64encode(png).decode()
    page = client.get("/settings/company").get_data(as_text=True)
    assert f'src="{logo}"' in page  # the preview
    assert f'value="{logo}"' not in page  # not dumped into the URL box

    # saving again with the URL box empty keeps the uploaded logo
    assert post(client, "/settings/company", company_form(name="Acme 2")).status_code == 303
    assert profile(api)["logo_url"] == logo
    # ticking "remove" clears it
    r = post(client, "/settings/company", company_form(logo_url_remove="1"))
    assert r.status_code == 303 and profile(api)["logo_url"] is None


def test_text_file_named_png_is_rejected(login, api):
    client = login("admin")
    r = post(
        client,
        "/settings/company",
        {**company_form(name="Kept"), "logo_file": (BytesIO(b"hello, I am text"), "logo.png")},
        content_type="multipart/form-data",
    )
    assert r.status_code == 400
    page = r.get_data(as_text=True)
    assert "not a PNG, JPEG, GIF or WebP image" in page and 'value="Kept"' in page
    assert profile(api) is None


def test_oversized_banner_is_rejected_and_webp_accepted(login, api):
    client = login("admin")
    big = b"\x89PNG\r\n\x1a\n" + b"\0" * 1_800_000
    r = post(
        client,
        "/settings/company",
        {**company_form(), "banner_file": (BytesIO(big), "banner.png")},
        content_type="multipart/form-data",
    )
    assert r.status_code == 400 and "at most 1.8 MB" in r.get_data(as_text=True)
    webp = b"RIFF\x10\x00\x00\x00WEBPVP8 " + b"\0" * 16
    r = post(
        client,
        "/settings/company",
        {**company_form(), "banner_file": (BytesIO(webp), "banner")},
        content_type="multipart/form-data",
    )
    assert r.status_code == 303
    assert profile(api)["banner_url"].startswith("data:image/webp;base64,")


def test_https_logo_url_can_be_typed(login, api):
    client = login("admin")
    r = post(client, "/settings/company", company_form(logo_url="https://cdn.example/logo.png"))
    assert r.status_code == 303
    assert profile(api)["logo_url"] == "https://cdn.example/logo.png"
    r = post(client, "/settings/company", company_form(logo_url="http://insecure.example/x.png"))
    assert r.status_code == 400 and "https URL" in r.get_data(as_text=True)


# --- users ---------------------------------------------------------------------


def test_admin_creates_a_user_who_can_log_in(login, app):
    client = login("admin")
    r = post(
        client,
        "/settings/users",
        {"email": "new@example.com", "name": "New Person", "role": "interviewer",
         "password": "long-enough-otter"},
    )  # fmt: skip
    assert r.status_code == 303
    page = client.get("/settings/users").get_data(as_text=True)
    assert "new@example.com" in page and "New Person" in page
    other = login_as(app, "new@example.com", "long-enough-otter")
    assert other.get("/settings/company").status_code == 403  # an interviewer


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"email": "not-an-email", "password": "long-enough-otter"}, "email", "not a valid e-mail"),
        ({"email": "ok@example.com", "password": "short"}, "password", "at least 8"),
        (
            {"email": "ok@example.com", "password": "long-enough-otter", "role": "boss"},
            "role",
            "role",
        ),
    ],
)
def test_user_create_errors_keep_input(login, data, field, message):
    client = login("admin")
    r = post(client, "/settings/users", {"name": "Typed Name", "role": "recruiter", **data})
    assert r.status_code == 400
    page = r.get_data(as_text=True)
    assert f'value="{data["email"]}"' in page and 'value="Typed Name"' in page
    assert re.search(rf'id="{field}-error">[^<]*{message}', page), page


def test_duplicate_user_is_a_conflict(login):
    client = login("admin", email="boss@example.com")
    r = post(
        client, "/settings/users", {"email": "BOSS@example.com", "password": "long-enough-otter"}
    )
    assert r.status_code == 409 and "exists already" in r.get_data(as_text=True)


def test_change_role(login, make_user, app):
    client = login("admin")
    other = make_user("rec@example.com", "recruiter")
    r = post(client, f"/settings/users/{other}/role", {"role": "admin"})
    assert r.status_code == 303
    assert user(app, other).role == "admin"
    # with htmx, the row comes back
    r = post(client, f"/settings/users/{other}/role", {"role": "interviewer"},
             headers={"HX-Request": "true"})  # fmt: skip
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert html.lstrip().startswith("<tr") and f'id="user-{other}"' in html
    assert user(app, other).role == "interviewer"
    assert post(client, "/settings/users/usr_nobody/role", {"role": "admin"}).status_code == 404


def test_last_admin_can_be_neither_demoted_nor_deactivated(login, app, make_user):
    client = login("admin")
    me = client.user_id
    r = post(client, f"/settings/users/{me}/role", {"role": "recruiter"}, follow_redirects=True)
    assert "last active admin" in r.get_data(as_text=True)
    assert user(app, me).role == "admin"
    r = post(client, f"/settings/users/{me}/role", {"role": "recruiter"},
             headers={"HX-Request": "true"})  # fmt: skip
    assert "last active admin" in r.get_data(as_text=True)
    assert user(app, me).role == "admin"

    # a second admin who is deactivated does not count
    other = make_user("admin2@example.com", "admin")
    assert post(client, f"/settings/users/{other}/active", {"active": "0"}).status_code == 303
    post(client, f"/settings/users/{me}/role", {"role": "recruiter"})
    assert user(app, me).role == "admin"
    # nor can the other admin, reactivated, be left as the last one by deactivating me
    post(client, f"/settings/users/{other}/active", {"active": "1"})
    second = login_as(app, "admin2@example.com")
    assert post(second, f"/settings/users/{me}/role", {"role": "recruiter"}).status_code == 303
    assert user(app, me).role == "recruiter"
    r = post(second, f"/settings/users/{other}/role", {"role": "recruiter"}, follow_redirects=True)
    assert "last active admin" in r.get_data(as_text=True)


def test_deactivated_users_session_and_tokens_stop_working(login, app, client):
    admin = login("admin")
    victim = login("recruiter")
    assert logged_in(victim)
    _r, secret = _create_token(victim, name="script", scopes=["*"])
    bearer = {"Authorization": f"Bearer {secret}"}
    assert client.get("/xapi2/data/job", headers=bearer).status_code == 200
    r = post(admin, f"/settings/users/{victim.user_id}/active", {"active": "0"})
    assert r.status_code == 303
    assert not logged_in(victim)
    assert client.get("/xapi2/data/job", headers=bearer).status_code == 401
    assert "deactivated" in admin.get("/settings/users").get_data(as_text=True)
    # reactivation does not revive the old session, but a new login works
    post(admin, f"/settings/users/{victim.user_id}/active", {"active": "1"})
    assert not logged_in(victim)
    assert logged_in(login_as(app, user(app, victim.user_id).email))


def test_admin_cannot_deactivate_themselves(login, app, make_user):
    client = login("admin")
    make_user("admin2@example.com", "admin")
    r = post(client, f"/settings/users/{client.user_id}/active", {"active": "0"},
             follow_redirects=True)  # fmt: skip
    assert "cannot deactivate your own account" in r.get_data(as_text=True)
    assert user(app, client.user_id).active


# --- sources -------------------------------------------------------------------


@pytest.mark.parametrize("role", ["admin", "recruiter"])
def test_sources_create_edit_delete(login, api, role):
    client = login(role)
    r = post(client, "/settings/sources", {"name": "LinkedIn", "kind": "job_board"})
    assert r.status_code == 303
    items = api.get("/data/source").get_json()["items"]
    assert [(s["data"]["name"], s["data"]["kind"]) for s in items] == [("LinkedIn", "job_board")]
    source_id = items[0]["id"]
    assert "LinkedIn" in client.get("/settings/sources").get_data(as_text=True)

    edit = f"/settings/sources/{source_id}/edit"
    assert 'value="LinkedIn"' in client.get(edit).get_data(as_text=True)
    assert post(client, edit, {"name": "LinkedIn Jobs", "kind": "job_board"}).status_code == 303
    assert api.get(f"/data/source/{source_id}").get_json()["data"]["name"] == "LinkedIn Jobs"

    r = post(client, f"/settings/sources/{source_id}/delete")
    assert r.status_code == 303
    assert api.get(f"/data/source/{source_id}").status_code == 404


def test_source_errors_keep_input(login, api):
    client = login("recruiter")
    post(client, "/settings/sources", {"name": "Referral", "kind": "referral"})
    r = post(client, "/settings/sources", {"name": "Referral", "kind": "agency"})
    assert r.status_code == 400
    page = r.get_data(as_text=True)
    assert "already taken" in page and 'value="Referral"' in page
    assert re.search(r'<option selected value="agency">|<option value="agency" selected>', page)
    r = post(client, "/settings/sources", {"name": "", "kind": "nonsense"})
    assert r.status_code == 400
    page = r.get_data(as_text=True)
    assert "must be one of" in page and ("required" in page or "must not be empty" in page)
    source_id = api.get("/data/source").get_json()["items"][0]["id"]
    r = post(client, f"/settings/sources/{source_id}/edit", {"name": "x" * 201, "kind": ""})
    assert r.status_code == 400 and "at most 200 characters" in r.get_data(as_text=True)
    assert client.get("/settings/sources/src_nope/edit").status_code == 404


def test_source_in_use_asks_before_deleting(login, api, app):
    client = login("admin")
    source = api.create("source", name="Agency X", kind="agency")
    application = api.application(source_id=source["id"])
    r = post(client, f"/settings/sources/{source['id']}/delete")
    assert r.status_code == 409
    page = r.get_data(as_text=True)
    assert "in use by 1 application" in page and "Delete anyway" in page
    assert api.get(f"/data/source/{source['id']}").status_code == 200

    r = post(client, f"/settings/sources/{source['id']}/delete", {"force": "1"})
    assert r.status_code == 303
    assert api.get(f"/data/source/{source['id']}").status_code == 404
    with app.app_context():
        assert db.session.get(Application, application["id"]).source_id is None


# --- API tokens ------------------------------------------------------------------


def _create_token(client: Any, **data: Any) -> tuple[Any, str | None]:
    r = post(client, "/settings/tokens", data)
    m = re.search(r'id="new-token" value="(pat_[^"]+)"', r.get_data(as_text=True))
    return r, (m.group(1) if m else None)


def test_token_is_shown_once_and_has_exactly_its_scopes(login, client):
    browser = login("recruiter")
    r, secret = _create_token(browser, name="laptop", scopes=["job:list", "job:read"])
    assert r.status_code == 200 and secret
    assert r.headers["Cache-Control"] == "no-store"
    assert "shown only this once" in r.get_data(as_text=True)

    listing = browser.get("/settings/tokens").get_data(as_text=True)
    assert "laptop" in listing and secret not in listing and secret[:10] in listing

    auth = {"Authorization": f"Bearer {secret}"}
    assert client.get("/xapi2/data/job", headers=auth).status_code == 200
    r = client.post("/xapi2/data/job", json={"title": "X"}, headers=auth)
    assert r.status_code == 403 and r.get_json()["missing_scope"] == "job:create"
    assert client.get("/xapi2/data/candidate", headers=auth).status_code == 403
    row = browser.get("/settings/tokens").get_data(as_text=True).split("laptop")[1]
    cells = re.findall(r"<td>(.*?)</td>", row.split("</tr>")[0], re.S)
    assert cells[2] != "never" and cells[3] == "never"  # last used is recorded; no expiry


def test_everything_scope_and_expiry(login, client, app):
    browser = login("admin")
    r, secret = _create_token(browser, name="ci", scopes=["*"], expires_days="30")
    assert secret
    auth = {"Authorization": f"Bearer {secret}"}
    assert client.post("/xapi2/data/job", json={"title": "X"}, headers=auth).status_code == 201
    with app.app_context():
        token = db.session.query(ApiToken).filter_by(name="ci").one()
        assert token.scopes == ["*"]
        assert 29 <= (token.expires_at - token.created_at).days <= 30


def test_revoked_token_gets_401(login, client):
    browser = login("admin")
    _r, secret = _create_token(browser, name="temp", scopes=["*"])
    auth = {"Authorization": f"Bearer {secret}"}
    assert client.get("/xapi2/data/job", headers=auth).status_code == 200
    token_id = re.search(r"/settings/tokens/(tok_[^/]+)/revoke", browser.get(
        "/settings/tokens").get_data(as_text=True)).group(1)  # fmt: skip
    r = post(browser, f"/settings/tokens/{token_id}/revoke", headers={"HX-Request": "true"})
    assert r.status_code == 200 and "revoked" in r.get_data(as_text=True)
    assert r.get_data(as_text=True).lstrip().startswith("<tr")
    assert client.get("/xapi2/data/job", headers=auth).status_code == 401
    assert post(browser, f"/settings/tokens/{token_id}/revoke").status_code == 303


def test_tokens_of_others_are_invisible(login, app):
    alice = login("admin")
    bob = login("admin")
    _create_token(alice, name="alice-token", scopes=["*"])
    with app.app_context():
        token_id = db.session.query(ApiToken).filter_by(name="alice-token").one().id
    assert "alice-token" not in bob.get("/settings/tokens").get_data(as_text=True)
    assert post(bob, f"/settings/tokens/{token_id}/revoke").status_code == 404
    with app.app_context():
        assert db.session.get(ApiToken, token_id).revoked_at is None


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"scopes": []}, "at least one scope"),
        ({"scopes": ["job:fly"]}, "unknown scope job:fly"),
        ({"scopes": ["job:read"], "expires_days": "0"}, "between 1 and"),
        ({"scopes": ["job:read"], "expires_days": "soon"}, "whole number"),
    ],
)
def test_token_errors_keep_input(login, data, message):
    browser = login("interviewer")
    r, secret = _create_token(browser, name="typed-name", **data)
    assert r.status_code == 400 and secret is None
    page = r.get_data(as_text=True)
    assert message in page and 'value="typed-name"' in page
    for scope in data["scopes"]:
        if scope == "job:read":
            assert re.search(r'value="job:read"[^>]*checked', page)


# --- my account --------------------------------------------------------------------


def test_timezone(login, app):
    client = login("interviewer")
    r = post(client, "/settings/account/timezone", {"tz-timezone": "Europe/Berlin"})
    assert r.status_code == 303
    assert user(app, client.user_id).timezone == "Europe/Berlin"
    assert "selected" in re.search(
        r'<option[^>]*value="Europe/Berlin"[^>]*>', client.get("/settings/account").get_data(
            as_text=True)).group(0)  # fmt: skip
    r = post(client, "/settings/account/timezone", {"tz-timezone": "Mars/Olympus"})
    assert r.status_code == 400 and "not a known time zone" in r.get_data(as_text=True)
    assert user(app, client.user_id).timezone == "Europe/Berlin"
    assert post(client, "/settings/account/timezone", {"tz-timezone": ""}).status_code == 303
    assert user(app, client.user_id).timezone is None


def test_password_change_keeps_this_session_and_ends_others(login, app):
    here = login("recruiter")
    email = user(app, here.user_id).email
    elsewhere = login_as(app, email)
    assert logged_in(elsewhere)
    r = post(
        here,
        "/settings/account/password",
        {"pw-current_password": "quiet-otter-harbour-7", "pw-new_password": "brand-new-pass",
         "pw-confirm": "brand-new-pass"},
    )  # fmt: skip
    assert r.status_code == 303
    assert logged_in(here)
    assert not logged_in(elsewhere)
    assert logged_in(login_as(app, email, "brand-new-pass"))
    # the session that changed it can still write
    assert post(here, "/settings/account/timezone", {"tz-timezone": "UTC"}).status_code == 303


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"pw-current_password": "wrong", "pw-new_password": "brand-new-pass",
          "pw-confirm": "brand-new-pass"}, "wrong password"),
        ({"pw-current_password": "quiet-otter-harbour-7", "pw-new_password": "short",
          "pw-confirm": "short"}, "at least 8"),
        ({"pw-current_password": "quiet-otter-harbour-7", "pw-new_password": "brand-new-pass",
          "pw-confirm": "different-pass"}, "differ"),
    ],
)  # fmt: skip
def test_password_change_errors(login, app, data, message):
    client = login("admin")
    r = post(client, "/settings/account/password", data)
    assert r.status_code == 400 and message in r.get_data(as_text=True)
    assert logged_in(client)
    assert logged_in(login_as(app, user(app, client.user_id).email))  # unchanged
