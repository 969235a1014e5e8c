"""Operator commands (ats/cli.py, docs/api.md "Calling it"): ``flask users create``,
``flask tokens create`` and ``flask tokens revoke``."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, text

from ats.extensions import db
from ats.models import ApiToken, User, utcnow
from ats.services import auth


def invoke(runner, *args: str) -> Any:
    return runner.invoke(args=list(args))


def assert_ok(result: Any) -> None:
    assert result.exit_code == 0, (result.exit_code, result.output, result.exception)


def assert_fails(result: Any, *needles: str) -> None:
    """A non-zero exit with a clear message (no traceback) naming each needle."""
    assert result.exit_code != 0, result.output
    assert "Traceback" not in result.output
    # a ClickException/UsageError, not an unexpected crash
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    for needle in needles:
        assert needle.lower() in result.output.lower(), (needle, result.output)


def get_user(app, email: str) -> User | None:
    with app.app_context():
        user = auth.find_user(email)
        if user is not None:
            db.session.expunge(user)
        return user


def tokens_of(app, email: str) -> list[ApiToken]:
    with app.app_context():
        user = auth.find_user(email)
        rows = list(db.session.scalars(select(ApiToken).where(ApiToken.user_id == user.id)))
        for row in rows:
            db.session.expunge(row)
        return rows


def create_user(runner, email: str = "ops@example.com", *extra: str) -> Any:
    result = invoke(
        runner, "users", "create", "--email", email, "--password", "s3cret-pass", *extra
    )
    assert_ok(result)
    return result


def create_token(runner, email: str, scopes: str, *extra: str) -> tuple[Any, str]:
    result = invoke(runner, "tokens", "create", "--email", email, "--scopes", scopes, *extra)
    assert_ok(result)
    lines = result.stdout.strip().splitlines()
    assert lines, result.output
    return result, lines[-1].strip()


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


# --- users create -----------------------------------------------------------------


def test_users_create_default_role(app, runner):
    result = create_user(runner, "rita@example.com")
    user = get_user(app, "rita@example.com")
    assert user is not None
    assert user.role == "recruiter"
    assert user.active
    assert user.name is None
    assert user.check_password("s3cret-pass")
    assert user.password_hash != "s3cret-pass"
    assert "rita@example.com" in result.output
    assert user.id in result.output


def test_passwords_are_stored_with_scrypt_at_its_full_cost(monkeypatch):
    monkeypatch.undo()  # conftest's cheap test hashes
    from ats.models import User

    user = User()
    user.set_password("s3cret-pass")
    assert user.password_hash.startswith("scrypt:32768:8:1$")
    assert user.check_password("s3cret-pass") and not user.check_password("s3cret-pasS")


def test_users_create_admin_with_name(app, runner):
    create_user(runner, "boss@example.com", "--admin", "--name", "Big Boss")
    user = get_user(app, "boss@example.com")
    assert user.role == "admin"
    assert user.name == "Big Boss"


def test_users_create_with_role(app, runner):
    create_user(runner, "ivan@example.com", "--role", "interviewer")
    assert get_user(app, "ivan@example.com").role == "interviewer"


def test_users_create_duplicate_email_fails(app, runner):
    create_user(runner, "dup@example.com", "--name", "First")
    result = invoke(
        runner, "users", "create", "--email", "dup@example.com", "--password", "another-pass"
    )
    assert_fails(result, "dup@example.com", "exists")
    # case-insensitively the same address
    result = invoke(
        runner, "users", "create", "--email", "DUP@Example.com", "--password", "another-pass"
    )
    assert_fails(result, "exists")
    with app.app_context():
        users = db.session.scalars(select(User)).all()
        assert len(users) == 1
        assert users[0].name == "First"
        assert users[0].check_password("s3cret-pass")


def test_users_create_short_password_fails(app, runner):
    result = invoke(
        runner, "users", "create", "--email", "short@example.com", "--password", "1234567"
    )
    assert_fails(result, "8 characters")
    assert get_user(app, "short@example.com") is None
    # exactly 8 is enough, if they are not a common password
    result = invoke(
        runner, "users", "create", "--email", "short@example.com", "--password", "12345678"
    )
    assert_fails(result, "password: this password is too easy to guess")
    result = invoke(
        runner, "users", "create", "--email", "short@example.com", "--password", "k7#Lq9!z"
    )
    assert_ok(result)


@pytest.mark.parametrize(
    ("password", "needle"),
    [
        ("password1", "too easy to guess (this is a very common password)"),
        ("qwertyuiop", "too easy to guess"),
        ("Password123!", "too easy to guess"),
        ("carol-is-here-42", "must not contain your name or e-mail"),
    ],
)
def test_users_create_refuses_common_and_personal_passwords(app, runner, password, needle):
    result = invoke(
        runner, "users", "create", "--email", "carol@example.com", "--password", password
    )
    assert_fails(result, needle)
    assert get_user(app, "carol@example.com") is None


def test_users_create_bad_email_fails(app, runner):
    for bad in ("not-an-address", "a@", "@example.com", "two@@example.com", ""):
        result = invoke(runner, "users", "create", "--email", bad, "--password", "long-enough")
        assert_fails(result, "e-mail")
    with app.app_context():
        assert db.session.scalars(select(User)).all() == []


def test_users_create_needs_email_and_password(runner):
    assert_fails(invoke(runner, "users", "create", "--email", "x@example.com"), "--password")
    assert_fails(invoke(runner, "users", "create", "--password", "long-enough"), "--email")


def test_users_create_unknown_role_fails(app, runner):
    result = invoke(
        runner, "users", "create", "--email", "r@example.com", "--password", "long-enough",
        "--role", "superuser",
    )  # fmt: skip
    assert_fails(result, "superuser")
    assert get_user(app, "r@example.com") is None


# --- tokens create ----------------------------------------------------------------


def test_tokens_create_prints_a_working_token_last(app, client, runner):
    create_user(runner, "tok@example.com", "--admin")
    start = utcnow()
    result, secret = create_token(
        runner, "tok@example.com", "job:read,job:list", "--name", "ci", "--expires-days", "3"
    )
    assert secret.startswith("pat_")
    assert len(secret) > 30
    assert " " not in secret

    [token] = tokens_of(app, "tok@example.com")
    assert token.name == "ci"
    assert token.scopes == ["job:read", "job:list"]
    assert token.prefix == secret.split("_")[1] and token.hint == secret[:12]
    with app.app_context():
        assert token.token_hash == auth.hash_token(secret)
    assert token.token_hash != hashlib.sha256(secret.encode()).hexdigest()
    assert token.revoked_at is None
    expected = start + timedelta(days=3)
    assert expected - timedelta(minutes=1) <= token.expires_at <= expected + timedelta(minutes=1)
    # the token id is shown so that it can be revoked later
    assert token.id in result.output

    # it works against the API, with exactly its scopes
    r = client.get("/xapi2/data/job", headers=bearer(secret))
    assert r.status_code == 200, r.get_json()
    r = client.post("/xapi2/data/job", json={"title": "No"}, headers=bearer(secret))
    assert r.status_code == 403
    assert r.get_json()["missing_scope"] == "job:create"
    assert client.get("/xapi2/data/candidate", headers=bearer(secret)).status_code == 403


def test_tokens_create_stdout_is_only_the_token(app, runner):
    """``TOKEN=$(flask tokens create ... | tail -1)`` must capture the token:
    its last stdout line is the token, with nothing after it."""
    create_user(runner, "pipe@example.com")
    result = invoke(runner, "tokens", "create", "--email", "pipe@example.com", "--scopes", "*")
    assert_ok(result)
    last = result.stdout.rstrip("\n").split("\n")[-1]
    assert last.startswith("pat_")
    assert result.stdout.endswith(last + "\n")


def test_tokens_create_star_without_expiry(app, client, runner):
    create_user(runner, "star@example.com", "--admin")
    _result, secret = create_token(runner, "star@example.com", "*")
    [token] = tokens_of(app, "star@example.com")
    assert token.expires_at is None
    assert token.name is None
    r = client.post("/xapi2/data/job", json={"title": "Yes"}, headers=bearer(secret))
    assert r.status_code == 201


def test_tokens_create_wildcards_and_spaces(app, runner):
    create_user(runner, "wild@example.com")
    create_token(runner, "wild@example.com", " job:* , *:read,candidate:list ")
    [token] = tokens_of(app, "wild@example.com")
    assert token.scopes == ["job:*", "*:read", "candidate:list"]


def test_tokens_create_email_is_case_insensitive(app, runner):
    create_user(runner, "case@example.com")
    _result, secret = create_token(runner, "CASE@Example.com", "*")
    assert secret.startswith("pat_")
    assert len(tokens_of(app, "case@example.com")) == 1


def test_tokens_create_each_call_makes_a_new_token(app, runner):
    create_user(runner, "many@example.com")
    _r1, first = create_token(runner, "many@example.com", "*")
    _r2, second = create_token(runner, "many@example.com", "*")
    assert first != second
    assert len(tokens_of(app, "many@example.com")) == 2


def test_tokens_create_bad_scope_fails(app, runner):
    create_user(runner, "bad@example.com")
    for scopes, bad in [
        ("job:fly", "job:fly"),
        ("nomodel:read", "nomodel:read"),
        ("job:read,job:fly", "job:fly"),
        ("job", "job"),
        ("job:", "job:"),
        (":read", ":read"),
    ]:
        result = invoke(
            runner, "tokens", "create", "--email", "bad@example.com", "--scopes", scopes
        )
        assert_fails(result, bad)
        assert "pat_" not in result.stdout
    result = invoke(runner, "tokens", "create", "--email", "bad@example.com", "--scopes", " , ")
    assert_fails(result, "scope")
    assert tokens_of(app, "bad@example.com") == []


def test_tokens_create_unknown_email_fails(app, runner):
    result = invoke(runner, "tokens", "create", "--email", "ghost@example.com", "--scopes", "*")
    assert_fails(result, "ghost@example.com")
    assert "pat_" not in result.stdout
    with app.app_context():
        assert db.session.execute(text("SELECT count(*) FROM api_token")).scalar() == 0


def test_tokens_create_bad_expiry_fails(app, runner):
    create_user(runner, "exp@example.com")
    for days in ("0", "-1", "soon"):
        result = invoke(
            runner, "tokens", "create", "--email", "exp@example.com", "--scopes", "*",
            "--expires-days", days,
        )  # fmt: skip
        assert_fails(result, "expires-days")
    assert tokens_of(app, "exp@example.com") == []


def test_token_of_recruiter_is_capped_by_role(client, runner):
    create_user(runner, "rec@example.com")
    _result, secret = create_token(runner, "rec@example.com", "*")
    r = client.post("/xapi2/data/company_profile", json={"name": "Acme"}, headers=bearer(secret))
    assert r.status_code == 403
    r = client.post("/xapi2/data/job", json={"title": "Fine"}, headers=bearer(secret))
    assert r.status_code == 201


# --- tokens revoke ---------------------------------------------------------------


def test_tokens_revoke(app, client, runner):
    create_user(runner, "rev@example.com", "--admin")
    _result, secret = create_token(runner, "rev@example.com", "*")
    _result, other = create_token(runner, "rev@example.com", "*")
    assert client.get("/xapi2/data/job", headers=bearer(secret)).status_code == 200
    token = next(t for t in tokens_of(app, "rev@example.com") if secret.startswith(t.hint + "_"))

    result = invoke(runner, "tokens", "revoke", token.id)
    assert_ok(result)
    assert token.id in result.output

    r = client.get("/xapi2/data/job", headers=bearer(secret))
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    # only that token
    assert client.get("/xapi2/data/job", headers=bearer(other)).status_code == 200
    with app.app_context():
        assert db.session.get(ApiToken, token.id).revoked_at is not None


def test_tokens_revoke_unknown_id_fails(app, runner):
    result = invoke(runner, "tokens", "revoke", "tok_01J00000000000000000000000")
    assert_fails(result, "tok_01J00000000000000000000000")
    assert_fails(invoke(runner, "tokens", "revoke", "nonsense"), "nonsense")
    assert_fails(invoke(runner, "tokens", "revoke"), "TOKEN_ID")
