"""Secrets and the second factor (issue 8): API tokens stored as keyed hashes
found by a public prefix, tokens of the old format still working, the secret
key and its rotation, the password policy, optional TOTP with recovery codes,
and the audit events of every account change, with no personal data in them."""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import subprocess
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyotp
import pytest
from conftest import PASSWORD, csrf_from
from sqlalchemy import event, select, text

from ats.extensions import db
from ats.ids import new_id
from ats.models import ApiToken, AuditEvent, User, utcnow
from ats.services import auth, totp

ROOT = Path(__file__).resolve().parent.parent


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def events(app, action: str | None = None) -> list[AuditEvent]:
    with app.app_context():
        stmt = select(AuditEvent).order_by(AuditEvent.id)
        if action:
            stmt = stmt.where(AuditEvent.action == action)
        rows = list(db.session.scalars(stmt))
        for row in rows:
            db.session.expunge(row)
        return rows


def user_row(app, user_id: str) -> User:
    with app.app_context():
        user = db.session.get(User, user_id)
        db.session.expunge(user)
        return user


# --- API tokens -------------------------------------------------------------------


def make_token(app, user_id: str, scopes: str = "*", **kw: Any) -> tuple[str, str]:
    with app.app_context():
        user = db.session.get(User, user_id)
        token, secret = auth.create_token(user, auth.parse_scopes(scopes), **kw)
        return token.id, secret


def legacy_token(app, user_id: str, **columns: Any) -> tuple[str, str]:
    """A token as made before migration 0008 (plain SHA-256), as that migration leaves it."""
    secret = "pat_" + secrets.token_urlsafe(32)
    with app.app_context():
        token = ApiToken(
            id=new_id("tok"),
            user_id=user_id,
            token_hash=hashlib.sha256(secret.encode()).hexdigest(),
            prefix=secret[4:10],
            key_id=None,
            hint=secret[:10],
            scopes=["*"],
            **columns,
        )
        db.session.add(token)
        db.session.commit()
        return token.id, secret


def token_row(app, token_id: str) -> ApiToken:
    with app.app_context():
        row = db.session.get(ApiToken, token_id)
        db.session.expunge(row)
        return row


def test_new_tokens_carry_a_public_prefix_and_are_stored_as_keyed_hashes(app, client, make_user):
    user_id = make_user("tok@example.com")
    token_id, secret = make_token(app, user_id)
    assert re.fullmatch(r"pat_[a-z0-9]{8}_[A-Za-z0-9_-]{43}", secret)
    row = token_row(app, token_id)
    assert row.prefix == secret[4:12] and row.hint == secret[:12]
    assert row.key_id and len(row.token_hash) == 64
    # neither the token nor its plain SHA-256 is stored
    assert row.token_hash != hashlib.sha256(secret.encode()).hexdigest()
    assert secret[13:] not in json.dumps([str(v) for v in row.__dict__.values()])
    assert client.get("/xapi2/data/job", headers=bearer(secret)).status_code == 200


@pytest.mark.parametrize(
    "change",
    [
        lambda s: s[:4] + ("b" if s[4] == "a" else "a") + s[5:],  # another prefix
        lambda s: s[:-1] + ("A" if s[-1] != "A" else "B"),  # tampered secret, same prefix
        lambda s: s[:13] + s[13:][::-1],  # the secret reversed
        lambda s: s + "x",  # one character too many
        lambda s: s.replace("_", "-", 2),  # not the format
    ],
    ids=["prefix", "last-char", "reversed", "longer", "format"],
)
def test_a_changed_token_is_refused(app, client, make_user, change):
    user_id = make_user("tok@example.com")
    _id, secret = make_token(app, user_id)
    wrong = change(secret)
    assert wrong != secret
    r = client.get("/xapi2/data/job", headers=bearer(wrong))
    assert r.status_code == 401, r.get_json()
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/xapi2/data/job", headers=bearer(secret)).status_code == 200


def test_the_hash_is_compared_in_constant_time(app, client, make_user, monkeypatch):
    import hmac

    user_id = make_user("tok@example.com")
    _id, secret = make_token(app, user_id)
    seen: list[tuple[str, str]] = []
    real = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        seen.append((a, b))
        return real(a, b)

    monkeypatch.setattr(auth.hmac, "compare_digest", spy)
    assert client.get("/xapi2/data/job", headers=bearer(secret)).status_code == 200
    with app.app_context():
        expected = auth.hash_token(secret)
    assert (expected, expected) in seen
    seen.clear()
    assert client.get("/xapi2/data/job", headers=bearer(secret[:-1] + "_")).status_code == 401
    assert seen and all(a == expected and b != expected for a, b in seen)


def test_a_token_check_is_one_select(app, client, make_user):
    """The API read path: one indexed SELECT finds the token and its user."""
    user_id = make_user("tok@example.com")
    _id, secret = make_token(app, user_id)
    client.get("/xapi2/data/job", headers=bearer(secret))  # last_used_at written once
    statements: list[str] = []
    with app.app_context():
        engine = db.engine

        def record(_conn, _cursor, statement, *_args):
            statements.append(statement)

        event.listen(engine, "before_cursor_execute", record)
        try:
            assert client.get("/xapi2/data/job", headers=bearer(secret)).status_code == 200
        finally:
            event.remove(engine, "before_cursor_execute", record)
    lookups = [s for s in statements if "api_token" in s]
    assert len(lookups) == 1 and "prefix" in lookups[0], lookups
    assert not any(s.lstrip().upper().startswith("UPDATE") for s in statements)


def test_an_old_format_token_keeps_working_and_gets_the_keyed_hash(app, client, make_user):
    user_id = make_user("old@example.com")
    token_id, secret = legacy_token(app, user_id)
    assert client.get("/xapi2/data/job", headers=bearer(secret)).status_code == 200
    row = token_row(app, token_id)
    with app.app_context():
        assert row.token_hash == auth.hash_token(secret)
        assert row.key_id == auth.derived_keys(auth.TOKEN_KEY)[0][0]
    assert row.last_used_at is not None
    assert client.get("/xapi2/data/job", headers=bearer(secret)).status_code == 200
    tampered = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    assert client.get("/xapi2/data/job", headers=bearer(tampered)).status_code == 401


@pytest.mark.parametrize("kind", ["revoked", "expired"])
def test_old_format_tokens_are_still_revoked_and_expire(app, client, make_user, kind):
    user_id = make_user("old@example.com")
    when = utcnow() - timedelta(minutes=1)
    column = {"revoked_at": when} if kind == "revoked" else {"expires_at": when}
    token_id, secret = legacy_token(app, user_id, **column)
    r = client.get("/xapi2/data/job", headers=bearer(secret))
    assert r.status_code == 401 and kind in r.get_json()["message"]
    assert token_row(app, token_id).key_id is None  # a refused token is not touched


def test_changing_the_secret_key_keeps_tokens_with_the_fallback_only(app, client, make_user):
    user_id = make_user("rot@example.com")
    token_id, secret = make_token(app, user_id)
    old_key_id = token_row(app, token_id).key_id
    app.config.update(SECRET_KEY="a new key", SECRET_KEY_FALLBACKS=["test"])
    assert client.get("/xapi2/data/job", headers=bearer(secret)).status_code == 200
    rehashed = token_row(app, token_id)
    assert rehashed.key_id != old_key_id  # moved to the new key on its first use
    # now the old key can go
    app.config.update(SECRET_KEY_FALLBACKS=[])
    assert client.get("/xapi2/data/job", headers=bearer(secret)).status_code == 200
    # a token nobody used while the fallback was there is refused, saying why
    _id, other = make_token(app, user_id)
    app.config.update(SECRET_KEY="yet another key")
    r = client.get("/xapi2/data/job", headers=bearer(other))
    assert r.status_code == 401 and "ATS_SECRET_KEY changed" in r.get_json()["message"]


def test_the_tokens_page_marks_old_format_tokens(app, login):
    client = login("recruiter")
    legacy_token(app, client.user_id)
    make_token(app, client.user_id)
    page = client.get("/settings/tokens").get_data(as_text=True)
    assert page.count("Old format") == 1


def test_sessions_survive_a_key_change_only_with_the_fallback(app, login, monkeypatch, tmp_path):
    from ats import config

    monkeypatch.setenv("ATS_SECRET_KEY_FALLBACKS", " old-one , older ")
    assert config.load(str(tmp_path))["SECRET_KEY_FALLBACKS"] == ["old-one", "older"]
    client = login("recruiter")
    app.config.update(SECRET_KEY="a new key", SECRET_KEY_FALLBACKS=["test"])
    assert client.get("/jobs").status_code == 200
    app.config.update(SECRET_KEY_FALLBACKS=[])
    assert client.get("/jobs").status_code == 302


def test_migration_0008_keeps_old_tokens_working(tmp_path, databases):
    """A database with tokens of the old format, upgraded: they still work."""
    from flask_migrate import upgrade

    from ats import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": databases.empty(tmp_path), "SECRET_KEY": "test"})
    secret = "pat_" + secrets.token_urlsafe(32)
    try:
        with app.app_context():
            upgrade(revision="0007")
            db.session.execute(
                text(
                    'INSERT INTO "user" (id, email, password_hash, role, active, created_at,'
                    " session_version) VALUES ('usr_1', 'm@example.com', '!', 'admin', :t, :now, 1)"
                ),
                {"t": True, "now": utcnow()},
            )
            db.session.execute(
                text(
                    "INSERT INTO api_token (id, user_id, token_hash, hint, scopes, created_at)"
                    " VALUES ('tok_1', 'usr_1', :h, :hint, '[\"*\"]', :now)"
                ),
                {
                    "h": hashlib.sha256(secret.encode()).hexdigest(),
                    "hint": secret[:10],
                    "now": utcnow(),
                },  # fmt: skip
            )
            db.session.commit()
            upgrade()
            row = db.session.get(ApiToken, "tok_1")
            assert (row.prefix, row.key_id) == (secret[4:10], None)
        client = app.test_client()
        assert client.get("/xapi2/data/job", headers=bearer(secret)).status_code == 200
    finally:
        with app.app_context():
            db.engine.dispose()


# --- the secret key -------------------------------------------------------------------


def test_no_secret_key_is_tracked_and_the_instance_folder_is_ignored():
    try:
        tracked = subprocess.run(
            ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.splitlines()
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    assert tracked, "git ls-files listed nothing"
    assert not [f for f in tracked if Path(f).name == "secret_key"]
    assert not [f for f in tracked if f.startswith("instance/") and f != "instance/.gitkeep"]
    for path in ("instance/secret_key", "secret_key", "deploy/secret_key"):
        ignored = subprocess.run(["git", "check-ignore", "-q", path], cwd=ROOT)
        assert ignored.returncode == 0, f"{path} is not ignored"


def test_derived_keys_differ_by_purpose_and_from_the_secret_key(app):
    with app.app_context():
        token_key = auth.derived_keys(auth.TOKEN_KEY)[0]
        totp_key = auth.derived_keys(totp.TOTP_KEY)[0]
        assert token_key[1] != totp_key[1] and token_key[0] != totp_key[0]
        assert b"test" not in token_key[1]
        app.config["SECRET_KEY_FALLBACKS"] = ["older"]
        keys = auth.derived_keys(auth.TOKEN_KEY)
        assert len(keys) == 2 and keys[0] == token_key


# --- password policy ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("short", "at least 8 characters"),
        ("x" * 201, "at most 200 characters"),
        ("password1", "too easy to guess (this is a very common password)"),
        ("qwertyuiop", "too easy to guess"),
        ("Password123!", "too easy to guess"),
        ("iloveyou2", "too easy to guess"),
        ("12345678", "too easy to guess"),
        ("aaaaaaaaaaaa", "too easy to guess"),
        ("margaret-2024-otter", "must not contain your name or e-mail"),
        ("xx-HOPPER-xx-99", "must not contain your name or e-mail"),
        ("ghopper-velvet-1", "must not contain your name or e-mail"),
        (PASSWORD, None),
        ("correct horse 1", None),
        ("k7#Lq9!z", None),
        ("the long way round past the old mill and over the hill to the sea " * 3, None),
        ("x" * 200, "too easy to guess"),
    ],
)
def test_password_rules(password, problem):
    got = auth.check_password_rules(password, "ghopper@navy.example", "Margaret Hopper")
    if problem is None:
        assert got is None
    else:
        assert got is not None and problem in got, got


def test_the_setup_page_refuses_a_common_password(client):
    token = csrf_from(client.get("/setup").get_data(as_text=True))
    data = {"csrf_token": token, "company": "Acme", "email": "ann@acme.io", "name": "Ann"}
    r = client.post("/setup", data={**data, "password": "password1"})
    assert r.status_code == 200 and "too easy to guess" in r.get_data(as_text=True)
    assert client.get("/setup").status_code == 200  # nobody was made
    r = client.post("/setup", data={**data, "password": PASSWORD})
    assert r.status_code == 302


def test_new_users_and_new_passwords_follow_the_policy(app, login):
    admin = login("admin")
    r = admin.post(
        "/settings/users",
        data={
            "csrf_token": admin.csrf,
            "email": "robert@example.com",
            "password": "robert-otter-1",
        },
    )
    assert r.status_code == 400 and "must not contain your name or e-mail" in r.get_data(
        as_text=True
    )
    r = admin.post(
        "/settings/users",
        data={"csrf_token": admin.csrf, "email": "rob@example.com", "password": "letmein1"},
    )
    assert r.status_code == 400 and "too easy to guess" in r.get_data(as_text=True)
    for new, message in (("iloveyou1", "too easy to guess"), ("admin-0-otters", "name or e-mail")):
        r = admin.post(
            "/settings/account/password",
            data={
                "csrf_token": admin.csrf,
                "pw-current_password": PASSWORD,
                "pw-new_password": new,
                "pw-confirm": new,
            },  # fmt: skip
        )
        assert r.status_code == 400 and message in r.get_data(as_text=True)
    with app.app_context():
        assert auth.find_user("robert@example.com") is None
        assert auth.find_user("admin-0@example.com").check_password(PASSWORD)


# --- TOTP ------------------------------------------------------------------------------


def log_in(app, email: str, password: str = PASSWORD, **extra: str) -> Any:
    """A new client after the password step; returns (client, response)."""
    client = app.test_client()
    token = csrf_from(client.get("/login").get_data(as_text=True))
    r = client.post(
        "/login",
        data={"csrf_token": token, "email": email, "password": password, **extra},
    )
    return client, r


def send_code(client, code: str) -> Any:
    page = client.get("/login/code")
    assert page.status_code == 200, page.status_code
    return client.post(
        "/login/code", data={"csrf_token": csrf_from(page.get_data(as_text=True)), "code": code}
    )


def enrol(client) -> tuple[str, list[str]]:
    """Switch TOTP on through the account pages: (secret, recovery codes)."""
    r = client.post("/settings/account/totp/start", data={"csrf_token": client.csrf})
    assert r.status_code == 303 and r.headers["Location"] == "/settings/account/totp"
    page = client.get("/settings/account/totp")
    html = page.get_data(as_text=True)
    secret = re.search(r'id="totp-key" value="([A-Z2-7 ]+)"', html).group(1).replace(" ", "")
    r = client.post(
        "/settings/account/totp",
        data={"csrf_token": client.csrf, "code": pyotp.TOTP(secret).now()},
    )
    assert r.status_code == 200, r.get_data(as_text=True)
    codes = re.search(
        r'<textarea id="recovery-codes"[^>]*>([^<]*)</textarea>', r.get_data(as_text=True)
    )
    return secret, codes.group(1).split()


def next_code(secret: str, steps: int = 1) -> str:
    return pyotp.TOTP(secret).at(time.time() + 30 * steps)


def test_enrolment_shows_the_secret_and_a_qr_code_and_needs_a_first_code(app, login):
    client = login("admin")
    page = client.get("/settings/account").get_data(as_text=True)
    assert "Recommended for admins" in page and "Set up two-factor authentication" in page
    client.post("/settings/account/totp/start", data={"csrf_token": client.csrf})
    page = client.get("/settings/account/totp")
    html = page.get_data(as_text=True)
    assert page.headers["Cache-Control"] == "no-store"
    assert "<svg" in html and 'class="totp-qr"' in html  # drawn here, inline
    assert not re.search(r"<script(?![^>]*\bsrc=)", html)  # no inline script (CSP)
    assert "http" not in html.split('class="totp-qr"')[1].split("</figure>")[0]
    secret = re.search(r'id="totp-key" value="([A-Z2-7 ]+)"', html).group(1).replace(" ", "")
    assert len(secret) == 32
    user = user_row(app, client.user_id)
    assert not user.totp_enabled and user.totp_secret and secret not in user.totp_secret
    # a wrong first code leaves it off
    r = client.post("/settings/account/totp", data={"csrf_token": client.csrf, "code": "000000"})
    assert r.status_code == 400 and "does not match" in r.get_data(as_text=True)
    assert not user_row(app, client.user_id).totp_enabled
    code = pyotp.TOTP(secret).now()
    r = client.post("/settings/account/totp", data={"csrf_token": client.csrf, "code": code})
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    codes = re.search(r'<textarea id="recovery-codes"[^>]*>([^<]*)</textarea>', html).group(1)
    codes = codes.split()
    assert len(codes) == 10 and len(set(codes)) == 10
    assert all(re.fullmatch(r"[0-9a-hjkmnp-tv-z]{4}(-[0-9a-hjkmnp-tv-z]{4}){3}", c) for c in codes)
    user = user_row(app, client.user_id)
    assert user.totp_enabled and len(user.totp_recovery) == 10
    assert not set(codes) & set(user.totp_recovery)  # only hashes are kept
    page = client.get("/settings/account").get_data(as_text=True)
    assert "Recommended for admins" not in page and "10 recovery codes left" in page


def test_login_with_totp_needs_the_code_and_the_half_way_state_grants_nothing(app, login):
    admin = login("admin")
    secret, _codes = enrol(admin)
    email = "admin-0@example.com"
    client, r = log_in(app, email)
    assert r.status_code == 302 and r.headers["Location"].startswith("/login/code")
    # password accepted, code not yet given: nothing is open
    assert client.get("/jobs").status_code == 302
    assert client.get("/settings/account").status_code == 302
    assert client.get("/xapi2/data/job").status_code == 401
    r = send_code(client, "123456" if next_code(secret, 0) != "123456" else "654321")
    assert r.status_code == 401 and "Wrong code" in r.get_data(as_text=True)
    assert client.get("/jobs").status_code == 302
    r = send_code(client, next_code(secret, 1))
    assert r.status_code == 302 and r.headers["Location"] == "/"
    assert client.get("/jobs").status_code == 200
    assert [e.detail["method"] for e in events(app, "login")][-1] == "password+totp"
    # "next" survives the second step
    client, r = log_in(app, email)
    assert client.get("/login/code").status_code == 200


def test_a_code_counts_once(app, login):
    admin = login("admin")
    secret, _codes = enrol(admin)
    code = next_code(secret, 1)
    client, _r = log_in(app, "admin-0@example.com")
    assert send_code(client, code).status_code == 302
    other, _r = log_in(app, "admin-0@example.com")
    r = send_code(other, code)
    assert r.status_code == 401 and "used already" in r.get_data(as_text=True)
    # nor an older one, still inside the window
    assert send_code(other, next_code(secret, 0)).status_code == 401
    assert [e.detail["reason"] for e in events(app, "totp_failed")] == [
        "reused_code",
        "reused_code",
    ]


def test_wrong_codes_count_against_the_login_throttle(app, login):
    admin = login("admin")
    secret, _codes = enrol(admin)
    client, _r = log_in(app, "admin-0@example.com")
    for _ in range(auth.MAX_FAILURES_PER_EMAIL):
        assert (
            send_code(
                client, "000000" if next_code(secret, 0) != "000000" else "111111"
            ).status_code
            == 401
        )
    r = send_code(client, next_code(secret, 1))
    assert r.status_code == 429 and "Too many failed attempts" in r.get_data(as_text=True)
    # and the password step is locked as well
    _client, r = log_in(app, "admin-0@example.com")
    assert r.status_code == 429


def test_a_recovery_code_works_once(app, login):
    admin = login("admin")
    _secret, codes = enrol(admin)
    client, _r = log_in(app, "admin-0@example.com")
    typed = codes[0].upper().replace("-", " ")  # as someone types it from paper
    r = send_code(client, typed)
    assert r.status_code == 302
    assert "9 left" in client.get("/").get_data(as_text=True)
    assert [e.detail["method"] for e in events(app, "login")][-1] == "password+recovery_code"
    client, _r = log_in(app, "admin-0@example.com")
    assert send_code(client, codes[0]).status_code == 401
    assert send_code(client, codes[1]).status_code == 302


def test_new_recovery_codes_replace_the_old_ones(app, login):
    admin = login("admin")
    _secret, codes = enrol(admin)
    r = admin.post(
        "/settings/account/totp/recovery", data={"csrf_token": admin.csrf, "rc-password": "nope"}
    )
    assert r.status_code == 400 and "wrong password" in r.get_data(as_text=True)
    r = admin.post(
        "/settings/account/totp/recovery", data={"csrf_token": admin.csrf, "rc-password": PASSWORD}
    )
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    new = (
        re.search(
            r'<textarea id="recovery-codes"[^>]*>([^<]*)</textarea>', r.get_data(as_text=True)
        )
        .group(1)
        .split()
    )
    assert len(new) == 10 and not set(new) & set(codes)
    client, _r = log_in(app, "admin-0@example.com")
    assert send_code(client, codes[0]).status_code == 401
    assert send_code(client, new[0]).status_code == 302


def test_the_code_step_expires_and_ends_with_the_sessions(app, login):
    admin = login("admin")
    secret, _codes = enrol(admin)
    client, _r = log_in(app, "admin-0@example.com")
    with client.session_transaction() as s:
        s["second_factor"] = {**s["second_factor"], "since": int(time.time()) - 301}
    r = client.get("/login/code")
    assert r.status_code == 302 and r.headers["Location"].startswith("/login")
    client, _r = log_in(app, "admin-0@example.com")
    admin.post("/logout", data={"csrf_token": admin.csrf})  # ends every session of the user
    token = csrf_from(client.get("/login").get_data(as_text=True))
    r = client.post("/login/code", data={"csrf_token": token, "code": next_code(secret, 1)})
    assert r.status_code == 302 and r.headers["Location"].startswith("/login")
    assert client.get("/jobs").status_code == 302


def test_switching_off_needs_the_password(app, login):
    admin = login("admin")
    enrol(admin)
    r = admin.post(
        "/settings/account/totp/disable", data={"csrf_token": admin.csrf, "off-password": "nope"}
    )
    assert r.status_code == 400 and "wrong password" in r.get_data(as_text=True)
    assert user_row(app, admin.user_id).totp_enabled
    r = admin.post(
        "/settings/account/totp/disable", data={"csrf_token": admin.csrf, "off-password": PASSWORD}
    )
    assert r.status_code == 303
    user = user_row(app, admin.user_id)
    assert not user.totp_enabled and user.totp_secret is None and user.totp_recovery is None
    _client, r = log_in(app, "admin-0@example.com")
    assert r.status_code == 302 and r.headers["Location"] == "/"
    assert events(app, "totp_disabled")[-1].detail == {"user": admin.user_id, "by": "self"}


def test_an_operator_resets_a_locked_out_user(app, login, runner):
    admin = login("admin")
    enrol(admin)
    result = runner.invoke(args=["users", "reset-totp", "ADMIN-0@example.com"])
    assert result.exit_code == 0 and "switched off" in result.output
    assert not user_row(app, admin.user_id).totp_enabled
    assert events(app, "totp_disabled")[-1].actor == "system"
    _client, r = log_in(app, "admin-0@example.com")
    assert r.headers["Location"] == "/"
    result = runner.invoke(args=["users", "reset-totp", "admin-0@example.com"])
    assert result.exit_code == 0 and "nothing changed" in result.output
    result = runner.invoke(args=["users", "reset-totp", "nobody@example.com"])
    assert result.exit_code != 0 and "no user" in result.output


def test_totp_survives_a_key_change_with_the_fallback(app, login):
    admin = login("admin")
    secret, codes = enrol(admin)
    stored = user_row(app, admin.user_id).totp_secret
    app.config.update(SECRET_KEY="a new key", SECRET_KEY_FALLBACKS=["test"])
    client, _r = log_in(app, "admin-0@example.com")
    assert send_code(client, next_code(secret, 1)).status_code == 302
    assert user_row(app, admin.user_id).totp_secret != stored  # re-encrypted under the new key
    # without the old key the secret cannot be read: said so, and a recovery code still works
    app.config.update(SECRET_KEY="yet another", SECRET_KEY_FALLBACKS=[])
    client, _r = log_in(app, "admin-0@example.com")
    r = send_code(client, next_code(secret, 0))
    assert r.status_code == 401 and "secret key" in r.get_data(as_text=True)
    assert send_code(client, codes[0]).status_code == 302


# --- audit events ------------------------------------------------------------------------


def test_account_events_are_audited_without_personal_data(app, login, runner):
    admin = login("admin")  # user_created, login
    with app.app_context():
        rec_id = auth.create_user("rita@example.com", PASSWORD, "Rita", "recruiter").id
    post = lambda path, **data: admin.post(path, data={"csrf_token": admin.csrf, **data})  # noqa: E731
    post(f"/settings/users/{rec_id}/role", role="interviewer")
    post(f"/settings/users/{rec_id}/active", active="0")
    post(f"/settings/users/{rec_id}/active", active="1")
    post("/settings/tokens", name="ci", scopes="*")
    token = next(
        t.id for t in [token_row(app, e.detail["token"]) for e in events(app, "token_created")]
    )
    post(f"/settings/tokens/{token}/revoke")
    log_in(app, "rita@example.com", "wrong password")
    log_in(app, "stranger@example.com", "wrong password")
    secret, _codes = enrol(admin)
    client, _r = log_in(app, "admin-0@example.com")
    send_code(client, "000000" if next_code(secret, 0) != "000000" else "111111")
    send_code(client, next_code(secret, 1))
    post("/settings/account/totp/disable", **{"off-password": PASSWORD})
    post(
        "/settings/account/password",
        **{
            "pw-current_password": PASSWORD,
            "pw-new_password": "brand-new-pass-otter",
            "pw-confirm": "brand-new-pass-otter",
        },  # fmt: skip
    )
    # the password change ended the other session; this one stays, until it logs out
    assert client.get("/jobs").status_code == 302
    assert admin.post("/logout", data={"csrf_token": admin.csrf}).status_code == 302

    got = events(app)
    actions = {e.action for e in got}
    wanted = {
        "login", "login_failed", "logout", "password_changed", "token_created", "token_revoked",
        "user_created", "role_changed", "user_deactivated", "user_activated", "totp_enabled",
        "totp_disabled", "totp_failed",
    }  # fmt: skip
    assert wanted <= actions, wanted - actions
    for e in got:
        blob = json.dumps(e.detail)
        assert "@" not in blob and "example.com" not in blob and "Rita" not in blob, e.detail
        assert PASSWORD not in blob and "wrong password" not in blob
    failed = [e.detail for e in got if e.action == "login_failed"]
    assert {f["reason"] for f in failed} == {"wrong_password", "unknown_email"}
    with app.app_context():
        assert failed[0]["email_hash"] == auth.email_hash("RITA@example.com")
    assert failed[0]["user"] == rec_id and "user" not in failed[1]
    role = next(e for e in got if e.action == "role_changed")
    assert role.actor == admin_id(app) and role.detail == {
        "user": rec_id, "from_role": "recruiter", "to_role": "interviewer"
    }  # fmt: skip


def admin_id(app) -> str:
    with app.app_context():
        return auth.find_user("admin-0@example.com").id
