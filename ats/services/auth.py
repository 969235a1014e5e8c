"""Who is asking, and what they may do: users, API tokens and scopes."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache

from flask import current_app
from sqlalchemy import bindparam, func, select, update

from .. import fields as F
from ..database import writing
from ..errors import BadRequest, Conflict, Forbidden, NotFound, Unauthorized, ValidationFailed
from ..extensions import db
from ..ids import new_id
from ..models import ROLES, ApiToken, User, utcnow
from . import audit

TOKEN_PREFIX = "pat_"  # noqa: S105 - a prefix, not a secret
# pat_<8 characters of public id>_<43 characters: 256 random bits>
_TOKEN = re.compile(r"pat_([a-z0-9]{8})_[A-Za-z0-9_-]{43}")
# made before migration 0008: pat_<43 characters>, found by the six after "pat_"
_LEGACY_TOKEN = re.compile(r"pat_[A-Za-z0-9_-]{43}")
_PREFIX_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
# Recording last_used_at on every call would make every read a write; once a minute is enough.
LAST_USED_RESOLUTION = timedelta(minutes=1)

# What each role may do at most; a token's scopes are cut down to its user's role.
ROLE_SCOPES: dict[str, tuple[str, ...]] = {
    "admin": ("*",),
    "recruiter": tuple(f"{m}:*" for m in F.MODELS if m != "company_profile")
    + ("company_profile:read", "company_profile:list"),
    "interviewer": ("*:read", "*:list", "application_note:*"),
}


@dataclass(frozen=True)
class Actor:
    """The user behind a request, with the scopes this request carries."""

    user_id: str | None  # None: the public (careers-page submissions)
    role: str
    scopes: tuple[str, ...]

    def allows(self, model: str, action: str) -> bool:
        return scope_allows(self.scopes, model, action) and scope_allows(
            ROLE_SCOPES.get(self.role, ()), model, action
        )

    def require(self, model: str, action: str) -> None:
        if not self.allows(model, action):
            raise Forbidden(
                f"this token lacks the scope {model}:{action}", missing_scope=f"{model}:{action}"
            )


def scope_allows(scopes: tuple[str, ...] | list[str], model: str, action: str) -> bool:
    for scope in scopes:
        if scope == "*":
            return True
        m, _, a = scope.partition(":")
        if m in (model, "*") and a in (action, "*"):
            return True
    return False


def parse_scopes(text: str) -> list[str]:
    """``"job:read, job:list"`` to a checked list; wildcards ``*``, ``job:*``, ``*:read``."""
    scopes = [s.strip() for s in text.split(",") if s.strip()]
    if not scopes:
        raise BadRequest("give at least one scope, e.g. job:read or *")
    bad = []
    for scope in scopes:
        if scope == "*":
            continue
        m, sep, a = scope.partition(":")
        if not sep or m not in (*F.MODELS, "*") or a not in (*F.ACTIONS, "*"):
            bad.append(scope)
    if bad:
        raise BadRequest(
            "unknown scope "
            + ", ".join(bad)
            + "; scopes are MODEL:ACTION with MODEL one of "
            + ", ".join(F.MODELS)
            + " (or *) and ACTION one of "
            + ", ".join(F.ACTIONS)
            + " (or *)"
        )
    return list(dict.fromkeys(scopes))


# --- keys derived from SECRET_KEY -----------------------------------------------


def _as_bytes(key: str | bytes) -> bytes:
    return key if isinstance(key, bytes) else key.encode()


def _derive(secret_key: str | bytes, label: str) -> tuple[str, bytes]:
    """(key id, key) for one purpose: HMAC(SECRET_KEY, label), so the session
    signer, token hashes and TOTP encryption never share a key."""
    key = hmac.new(_as_bytes(secret_key), f"ats:{label}:v1".encode(), hashlib.sha256).digest()
    key_id = hmac.new(key, b"key id", hashlib.sha256).hexdigest()[:8]
    return key_id, key


@lru_cache(maxsize=64)
def _derive_all(label: str, secret_key: str | bytes, fallbacks: tuple) -> tuple:
    return tuple(_derive(k, label) for k in (secret_key, *fallbacks) if k)


def derived_keys(label: str) -> tuple[tuple[str, bytes], ...]:
    """(key id, key) for ``label``: from SECRET_KEY first, then from each of
    SECRET_KEY_FALLBACKS (earlier keys an operator still accepts). Cached: every
    API call asks."""
    config = current_app.config
    fallbacks = config.get("SECRET_KEY_FALLBACKS") or ()
    return _derive_all(label, config["SECRET_KEY"], tuple(fallbacks))


def keyed_hash(label: str, text: str) -> str:
    """HMAC-SHA256 of ``text`` under the current key for ``label``, as hex."""
    return _mac(derived_keys(label)[0][1], text)


def _mac(key: bytes, text: str) -> str:
    return hmac.digest(key, text.encode(), "sha256").hex()  # one C call: every API request


TOKEN_KEY = "api token"  # noqa: S105 - a label, not a secret
AUDIT_KEY = "audit e-mail"


def hash_token(token: str) -> str:
    """The stored form of a new token: HMAC-SHA256 under the current token key."""
    return keyed_hash(TOKEN_KEY, token)


def legacy_hash(token: str) -> str:
    """How tokens were stored before 0008 (plain SHA-256), until their first use."""
    return hashlib.sha256(token.encode()).hexdigest()


def token_prefix(token: str) -> str | None:
    """The public part that finds a token's row, or None for text that is no token."""
    if len(token) > 100:
        return None
    match = _TOKEN.fullmatch(token)
    if match:
        return match.group(1)
    if _LEGACY_TOKEN.fullmatch(token):
        return token[4:10]
    return None


def email_hash(email: str) -> str:
    """A keyed hash of an e-mail address: failed logins in the audit log can be
    told apart and grouped without the log holding the addresses typed."""
    return keyed_hash(AUDIT_KEY, email.strip().lower())[:16]


def find_user(email: str) -> User | None:
    return db.session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))


MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 200
NAME_MAX_LENGTH = 200
MAX_TOKEN_DAYS = 3650


# zxcvbn's estimate of the guesses an attacker needs, with its lists of the most
# common passwords from leaked sets, words, names and keyboard patterns: below
# a million (its score 0 and 1) a password is common or a small variation of one.
MIN_PASSWORD_GUESSES_LOG10 = 6
ZXCVBN_MAX_LENGTH = 72
_PERSONAL_MIN = 4  # shorter parts of a name or e-mail are too often inside other words


def _personal_parts(email: str | None, name: str | None) -> list[str]:
    parts: list[str] = []
    if email:
        email = email.strip().lower()
        parts.append(email)
        parts.extend(re.split(r"[^\w]+", email.partition("@")[0]))
    if name:
        parts.extend(re.split(r"[^\w]+", name.strip().lower()))
    return [p for p in dict.fromkeys(parts) if len(p) >= _PERSONAL_MIN]


def check_password_rules(
    password: str, email: str | None = None, name: str | None = None
) -> str | None:
    """Why a new password is not acceptable, or None.

    Length (8 to 200), not one of the commonly used or leaked passwords nor a
    small variation of one, and not containing the user's e-mail address or
    name. No rules about character classes: they make passwords harder to
    remember, not to guess (NIST SP 800-63B).
    """
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"the password must have at least {MIN_PASSWORD_LENGTH} characters"
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"the password must have at most {MAX_PASSWORD_LENGTH} characters"
    lowered = password.lower()
    personal = _personal_parts(email, name)
    if any(part in lowered for part in personal):
        return "the password must not contain your name or e-mail address"
    from zxcvbn import zxcvbn

    # zxcvbn refuses more than 72 characters (its time grows with the length);
    # the first 72 tell enough
    estimate = zxcvbn(password[:ZXCVBN_MAX_LENGTH], user_inputs=personal)
    if estimate["guesses_log10"] < MIN_PASSWORD_GUESSES_LOG10:
        warning = (estimate["feedback"].get("warning") or "").rstrip(".")
        why = f" ({warning[0].lower()}{warning[1:]})" if warning else ""
        return (
            f"this password is too easy to guess{why}; "
            "try a longer one, e.g. three or four unrelated words"
        )
    return None


def create_user(
    email: str,
    password: str,
    name: str | None = None,
    role: str = "recruiter",
    by: str | None = None,
    via: str = "cli",
) -> User:
    """A new user; ``ValidationFailed`` names each field at fault, ``Conflict`` a taken e-mail.

    ``by`` is the admin who made them (None: an operator command or the setup
    page), ``via`` where: both go into the audit log.
    """
    from email_validator import EmailNotValidError, validate_email

    errors: dict[str, str] = {}
    try:
        validate_email(email, check_deliverability=False)
    except EmailNotValidError as exc:
        errors["email"] = f"not a valid e-mail address: {exc}"
    if len(email) > 320:
        errors["email"] = "at most 320 characters"
    problem = check_password_rules(password, email, name)
    if problem:
        errors["password"] = problem
    if name is not None and len(name) > NAME_MAX_LENGTH:
        errors["name"] = f"at most {NAME_MAX_LENGTH} characters"
    if role not in ROLES:
        errors["role"] = "the role must be one of " + ", ".join(ROLES)
    if errors:
        raise ValidationFailed(errors)
    with writing():
        if find_user(email):
            raise Conflict(
                f"a user with the e-mail {email} exists already",
                {"email": "a user with this e-mail exists already"},
            )
        user = User(id=new_id("usr"), email=email.strip(), name=name, role=role)
        user.set_password(password)
        db.session.add(user)
        audit.record(by, "user_created", {"user": user.id, "role": role, "via": via})
    return user


def create_token(
    user: User,
    scopes: list[str],
    name: str | None = None,
    expires_days: int | None = None,
    by: str | None = None,
) -> tuple[ApiToken, str]:
    """Make a token; the clear text is returned once and never stored.

    ``by``: the user who asked (None: an operator command), for the audit log.
    """
    if expires_days is not None and not 1 <= expires_days <= MAX_TOKEN_DAYS:
        raise BadRequest(
            f"expires-days must be between 1 and {MAX_TOKEN_DAYS}",
            {"expires_days": f"between 1 and {MAX_TOKEN_DAYS}"},
        )
    # The prefix only finds the row: two tokens sharing one (1 in 2.8e12) still
    # work, as each is checked against its own hash.
    prefix = "".join(secrets.choice(_PREFIX_ALPHABET) for _ in range(8))
    secret = f"{TOKEN_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    key_id, key = derived_keys(TOKEN_KEY)[0]
    with writing():
        token = ApiToken(
            id=new_id("tok"),
            user_id=user.id,
            name=name,
            token_hash=_mac(key, secret),
            prefix=prefix,
            key_id=key_id,
            hint=f"{TOKEN_PREFIX}{prefix}",
            scopes=scopes,
            expires_at=utcnow() + timedelta(days=expires_days) if expires_days else None,
        )
        db.session.add(token)
        audit.record(
            by,
            "token_created",
            {"token": token.id, "user": user.id, "scopes": scopes, "expires_days": expires_days},
        )
    return token, secret


def revoke_token(token_id: str, by: str | None = None) -> ApiToken:
    with writing():
        token = db.session.get(ApiToken, token_id)
        if token is None:
            raise NotFound(f"no token {token_id}")
        if token.revoked_at is None:
            token.revoked_at = utcnow()
            audit.record(by, "token_revoked", {"token": token.id, "user": token.user_id})
    return token


# The columns a bearer token check needs, as plain table columns: no ORM objects
# are built for the lookup every API request makes. Built once; the token's
# public prefix is a bound parameter (an index finds it).
_tokens, _users = ApiToken.__table__, User.__table__
_TOKEN_LOOKUP = (
    select(
        _tokens.c.token_hash,
        _tokens.c.key_id,
        _tokens.c.id,
        _tokens.c.scopes,
        _tokens.c.expires_at,
        _tokens.c.last_used_at,
        _tokens.c.revoked_at,
        _users.c.id,
        _users.c.role,
        _users.c.active,
    )
    .join(_users, _users.c.id == _tokens.c.user_id)
    .where(_tokens.c.prefix == bindparam("prefix"))
)
_TOKEN_USED = (
    update(_tokens)
    .where(_tokens.c.id == bindparam("token_id"))
    .values(last_used_at=bindparam("now"))
)
# the first use under a newer key (or of a pre-0008 token) stores the current keyed hash
_TOKEN_REHASH = (
    update(_tokens)
    .where(_tokens.c.id == bindparam("token_id"))
    .values(
        last_used_at=bindparam("now"),
        token_hash=bindparam("new_hash"),
        key_id=bindparam("new_key_id"),
    )
)


def _matching_row(secret: str, rows: list, keys: tuple) -> tuple[object | None, bool]:
    """The row whose hash this token matches, compared in constant time; and
    whether some row could not be checked because its key is no longer known."""
    unknown_key = False
    for row in rows:
        key = next((k for key_id, k in keys if key_id == row.key_id), None)
        if row.key_id is None:
            expected = legacy_hash(secret)
        elif key is not None:
            expected = _mac(key, secret)
        else:
            unknown_key = True
            continue
        if hmac.compare_digest(row.token_hash, expected):
            return row, False
    return None, unknown_key


def actor_for_token(secret: str) -> Actor:
    """The actor a bearer token speaks for, or 401 for any token that is not good."""
    prefix = token_prefix(secret)
    if prefix is None:
        if secret.startswith(TOKEN_PREFIX) and len(secret) <= 200:
            raise Unauthorized("unknown token", "invalid_token")  # as before 0008: no lookup
        raise Unauthorized("malformed token; expected Bearer pat_...", "invalid_token")
    rows = db.session.execute(_TOKEN_LOOKUP, {"prefix": prefix}).all()
    keys = derived_keys(TOKEN_KEY)
    row, unknown_key = _matching_row(secret, rows, keys)
    if row is None:
        if unknown_key:
            raise Unauthorized(
                "this token was made under a secret key the server no longer has "
                "(ATS_SECRET_KEY changed); make a new token",
                "invalid_token",
            )
        raise Unauthorized("unknown token", "invalid_token")
    _hash, key_id, token_id, scopes, expires_at, last_used_at, revoked_at, user_id, role, active = (
        row
    )
    now = utcnow()
    if revoked_at is not None:
        raise Unauthorized("this token was revoked", "invalid_token")
    if expires_at is not None and expires_at <= now:
        raise Unauthorized("this token has expired", "invalid_token")
    if not active:
        raise Unauthorized("this token's user is deactivated", "invalid_token")
    actor = Actor(user_id, role, tuple(scopes))
    current_id, current_key = keys[0]
    if key_id != current_id:
        with writing():
            db.session.execute(
                _TOKEN_REHASH,
                {
                    "token_id": token_id,
                    "now": now,
                    "new_hash": _mac(current_key, secret),
                    "new_key_id": current_id,
                },
            )
    elif last_used_at is None or now - last_used_at > LAST_USED_RESOLUTION:
        with writing():
            db.session.execute(_TOKEN_USED, {"token_id": token_id, "now": now})
    return actor


def actor_for_user(user: User) -> Actor:
    """A browser session acts with everything its user's role allows."""
    return Actor(user.id, user.role, ("*",))


# --- browser logins -----------------------------------------------------------

LOGIN_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_EMAIL = 5
MAX_FAILURES_PER_IP = 30


class LoginThrottled(Exception):
    """Too many failed logins lately; the message says when to try again."""


def check_throttle(email: str, ip: str) -> None:
    """Raise LoginThrottled while this e-mail or address has failed too often.

    Failures (wrong passwords and wrong second-factor codes alike) are counted
    per e-mail and per address over the last 15 minutes, in the database, so
    the limit holds across worker processes.
    """
    from ..models import LoginFailure

    email_key = email.strip().lower()[:320]
    since = utcnow() - LOGIN_WINDOW
    by_email = db.session.scalar(
        select(func.count()).where(LoginFailure.email == email_key, LoginFailure.at > since)
    )
    by_ip = db.session.scalar(
        select(func.count()).where(LoginFailure.ip == ip, LoginFailure.at > since)
    )
    if by_email >= MAX_FAILURES_PER_EMAIL or by_ip >= MAX_FAILURES_PER_IP:
        raise LoginThrottled("Too many failed attempts. Wait 15 minutes, then try again.")


def count_failure(email: str, ip: str) -> None:
    """One more failed attempt against the throttle (joins a write transaction)."""
    from ..models import LoginFailure

    with writing():
        db.session.add(LoginFailure(email=email.strip().lower()[:320], ip=ip[:64]))


def check_password_login(
    email: str, password: str, ip: str, actor: str | None = None, during: str = "login"
) -> User | None:
    """The user for these credentials, or None; raises LoginThrottled while locked.

    A failure is counted against the throttle and written to the audit log as
    ``login_failed``, with a keyed hash of the e-mail typed instead of the
    address (and the user's id when the address is an account's). ``actor``
    and ``during`` say who checks and why (a password change checks the
    current password here too). Success writes nothing: the login is complete
    only after a second factor, if any (``complete_login``).
    """
    check_throttle(email, ip)
    user = find_user(email)
    # check a hash even for unknown users, so timing does not reveal who exists
    ok = user.check_password(password) if user else _dummy_check(password)
    if ok and user is not None and user.active:
        return user
    detail: dict[str, str] = {
        "reason": "unknown_email" if user is None else "inactive" if ok else "wrong_password",
        "email_hash": email_hash(email),
        "during": during,
    }
    if user is not None:
        detail["user"] = user.id
    with writing():
        count_failure(email, ip)
        audit.record(actor, "login_failed", detail)
    return None


def complete_login(user_id: str, method: str) -> None:
    """Note a finished login (after the second factor, if any) in the audit log."""
    with writing():
        db.session.get(User, user_id).last_login_at = utcnow()
        audit.record(user_id, "login", {"method": method})


def log_out(user_id: str) -> None:
    """End every session of the user (this one too) and note it."""
    with writing():
        end_sessions(user_id)
        audit.record(user_id, "logout", {})


_DUMMY_HASH: list[str] = []


def _dummy_check(password: str) -> bool:
    from werkzeug.security import check_password_hash, generate_password_hash

    if not _DUMMY_HASH:
        _DUMMY_HASH.append(generate_password_hash("not a password"))
    check_password_hash(_DUMMY_HASH[0], password)
    return False


def end_sessions(user_id: str) -> None:
    """Invalidate every session and remember-me cookie of the user."""
    with writing():
        user = db.session.get(User, user_id)
        user.session_version += 1


def needs_setup() -> bool:
    return db.session.scalar(select(func.count()).select_from(User)) == 0
