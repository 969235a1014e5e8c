"""Who is asking, and what they may do: users, API tokens and scopes."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import bindparam, func, select, update

from .. import fields as F
from ..database import writing
from ..errors import BadRequest, Conflict, Forbidden, NotFound, Unauthorized, ValidationFailed
from ..extensions import db
from ..ids import new_id
from ..models import ROLES, ApiToken, User, utcnow

TOKEN_PREFIX = "pat_"  # noqa: S105 - a prefix, not a secret
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


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def find_user(email: str) -> User | None:
    return db.session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))


MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 200
NAME_MAX_LENGTH = 200
MAX_TOKEN_DAYS = 3650


def check_password_rules(password: str) -> str | None:
    """Why a new password is not acceptable, or None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"the password must have at least {MIN_PASSWORD_LENGTH} characters"
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"the password must have at most {MAX_PASSWORD_LENGTH} characters"
    return None


def create_user(
    email: str, password: str, name: str | None = None, role: str = "recruiter"
) -> User:
    """A new user; ``ValidationFailed`` names each field at fault, ``Conflict`` a taken e-mail."""
    from email_validator import EmailNotValidError, validate_email

    errors: dict[str, str] = {}
    try:
        validate_email(email, check_deliverability=False)
    except EmailNotValidError as exc:
        errors["email"] = f"not a valid e-mail address: {exc}"
    if len(email) > 320:
        errors["email"] = "at most 320 characters"
    problem = check_password_rules(password)
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
    return user


def create_token(
    user: User, scopes: list[str], name: str | None = None, expires_days: int | None = None
) -> tuple[ApiToken, str]:
    """Make a token; the clear text is returned once and never stored."""
    if expires_days is not None and not 1 <= expires_days <= MAX_TOKEN_DAYS:
        raise BadRequest(
            f"expires-days must be between 1 and {MAX_TOKEN_DAYS}",
            {"expires_days": f"between 1 and {MAX_TOKEN_DAYS}"},
        )
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with writing():
        token = ApiToken(
            id=new_id("tok"),
            user_id=user.id,
            name=name,
            token_hash=hash_token(secret),
            hint=secret[:10],
            scopes=scopes,
            expires_at=utcnow() + timedelta(days=expires_days) if expires_days else None,
        )
        db.session.add(token)
    return token, secret


def revoke_token(token_id: str) -> ApiToken:
    with writing():
        token = db.session.get(ApiToken, token_id)
        if token is None:
            raise NotFound(f"no token {token_id}")
        if token.revoked_at is None:
            token.revoked_at = utcnow()
    return token


# The columns a bearer token check needs, as plain table columns: no ORM objects
# are built for the lookup every API request makes. Built once; the token hash
# is a bound parameter.
_tokens, _users = ApiToken.__table__, User.__table__
_TOKEN_LOOKUP = (
    select(
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
    .where(_tokens.c.token_hash == bindparam("token_hash"))
)
_TOKEN_USED = (
    update(_tokens)
    .where(_tokens.c.id == bindparam("token_id"))
    .values(last_used_at=bindparam("now"))
)


def actor_for_token(secret: str) -> Actor:
    """The actor a bearer token speaks for, or 401 for any token that is not good."""
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
        raise Unauthorized("malformed token; expected Bearer pat_...", "invalid_token")
    row = db.session.execute(_TOKEN_LOOKUP, {"token_hash": hash_token(secret)}).first()
    if row is None:
        raise Unauthorized("unknown token", "invalid_token")
    token_id, scopes, expires_at, last_used_at, revoked_at, user_id, role, active = row
    now = utcnow()
    if revoked_at is not None:
        raise Unauthorized("this token was revoked", "invalid_token")
    if expires_at is not None and expires_at <= now:
        raise Unauthorized("this token has expired", "invalid_token")
    if not active:
        raise Unauthorized("this token's user is deactivated", "invalid_token")
    actor = Actor(user_id, role, tuple(scopes))
    if last_used_at is None or now - last_used_at > LAST_USED_RESOLUTION:
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


def check_password_login(email: str, password: str, ip: str) -> User | None:
    """The user for these credentials, or None; raises LoginThrottled while locked.

    Failures are counted per e-mail and per address over the last 15 minutes,
    in the database, so the limit holds across worker processes.
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
    user = find_user(email_key)
    # check a hash even for unknown users, so timing does not reveal who exists
    ok = user.check_password(password) if user else _dummy_check(password)
    if ok and user is not None and user.active:
        with writing():
            db.session.get(User, user.id).last_login_at = utcnow()
        return user
    with writing():
        db.session.add(LoginFailure(email=email_key, ip=ip[:64]))
    return None


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
