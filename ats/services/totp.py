"""The optional second factor: time-based one-time codes (TOTP, RFC 6238) and recovery codes.

Any user may switch it on in Settings → My account; admins are shown a notice
recommending it. Enrolment stores a new secret, shows it as text and as a QR
code, and switches TOTP on only once a first code from the app matches. Then
a login asks for a code after the password.

- The secret is stored encrypted (Fernet from ``cryptography``: AES-128-CBC
  with HMAC-SHA256) under a key derived from SECRET_KEY, so a copy of the
  database alone does not give away anyone's codes. SECRET_KEY_FALLBACKS are
  accepted for reading; each successful use re-encrypts under the current key.
- A code is accepted in its 30-second step and one step either side (clocks
  drift), and never twice: the last step used is stored, and no code of that
  step or an earlier one counts again.
- Wrong codes count against the login throttle like wrong passwords.
- Ten recovery codes of 80 random bits each are shown once and stored as
  SHA-256 hashes (80 bits cannot be guessed offline, so a fast hash is as
  safe as a slow one). They do not depend on SECRET_KEY: a user whose TOTP
  secret can no longer be read, after a key change, still gets in with one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time

import pyotp
from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from ..database import writing
from ..errors import Conflict, ValidationFailed
from ..extensions import db
from ..models import User, utcnow
from . import audit, auth

TOTP_KEY = "totp secret"  # the label of the derived key (auth.derived_keys)
ISSUER = "ATS"
VALID_WINDOW = 1  # steps either side of now
RECOVERY_CODE_COUNT = 10
# Crockford's base32: no i, l, o, u, so a printed code reads back unambiguously
RECOVERY_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
RECOVERY_LENGTH = 16  # 80 bits
_READ_AS = str.maketrans({"o": "0", "i": "1", "l": "1"})
_CODE = re.compile(r"\d{6}")


class SecretUnreadable(Exception):
    """The stored secret was encrypted under a key the server no longer has."""


def _fernet() -> MultiFernet:
    return MultiFernet(
        [Fernet(base64.urlsafe_b64encode(key)) for _id, key in auth.derived_keys(TOTP_KEY)]
    )


def _encrypt(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode()


def _decrypt(stored: str) -> str:
    try:
        return _fernet().decrypt(stored.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable(
            "the authenticator secret can no longer be read (the server's secret key "
            "changed): use a recovery code, or ask an administrator to reset it"
        ) from None


def _user(user_id: str) -> User:
    """The user as stored now, even if this session loaded it earlier."""
    return db.session.get(User, user_id, populate_existing=True)


def matching_step(secret: str, code: str, now: float | None = None) -> int | None:
    """The time step whose code this is (now or one step either side), or None."""
    if not _CODE.fullmatch(code):
        return None
    totp = pyotp.TOTP(secret)
    current = int((time.time() if now is None else now) // totp.interval)
    found = None
    for step in range(current - VALID_WINDOW, current + VALID_WINDOW + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            found = step  # no early exit: the time taken does not tell which step
    return found


def _hash_recovery(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def normalise_recovery(text: str) -> str:
    """What was typed, as stored: lower case, no dashes or spaces, o→0, i/l→1."""
    return re.sub(r"[\s-]", "", text).lower().translate(_READ_AS)


def _new_recovery_codes() -> tuple[list[str], list[str]]:
    """(codes to show, hashes to store)."""
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_LENGTH))
        codes.append(raw)
    shown = ["-".join(c[i : i + 4] for i in range(0, RECOVERY_LENGTH, 4)) for c in codes]
    return shown, [_hash_recovery(c) for c in codes]


# --- enrolment -------------------------------------------------------------------


def start_enrolment(user_id: str) -> str:
    """A new secret waiting for its first code (replacing any earlier one)."""
    secret = pyotp.random_base32()
    with writing():
        user = _user(user_id)
        if user.totp_enabled:
            raise Conflict("two-factor authentication is on already; switch it off first")
        user.totp_secret = _encrypt(secret)
        user.totp_last_step = None
        user.totp_recovery = None
    return secret


def pending_secret(user: User) -> str | None:
    """The secret of an enrolment not yet confirmed, or None."""
    if user.totp_enabled or not user.totp_secret:
        return None
    try:
        return _decrypt(user.totp_secret)
    except SecretUnreadable:
        return None


def provisioning_uri(secret: str, email: str, issuer: str | None = None) -> str:
    """The otpauth:// address an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=issuer or ISSUER)


def qr_svg(uri: str) -> str:
    """The QR code as inline SVG, drawn here: no remote service sees the secret."""
    import segno

    return segno.make(uri, error="m").svg_inline(
        scale=5, border=2, dark="#000", light="#fff", svgclass="totp-qr"
    )


def confirm_enrolment(user_id: str, code: str) -> list[str]:
    """Switch TOTP on once ``code`` matches the pending secret; returns the recovery codes."""
    code = (code or "").strip().replace(" ", "")
    with writing():
        user = _user(user_id)
        if user.totp_enabled:
            raise Conflict("two-factor authentication is on already")
        secret = pending_secret(user)
        if secret is None:
            raise ValidationFailed({"code": "start the set-up again: no secret is waiting"})
        step = matching_step(secret, code)
        if step is None:
            raise ValidationFailed(
                {"code": "that code does not match: check the phone's clock, use the newest code"}
            )
        shown, hashes = _new_recovery_codes()
        user.totp_enabled_at = utcnow()
        user.totp_last_step = step
        user.totp_recovery = hashes
        audit.record(user_id, "totp_enabled", {"user": user_id})
    return shown


def _check_password(user: User, password: str, ip: str, during: str) -> None:
    try:
        ok = auth.check_password_login(user.email, password or "", ip, user.id, during)
    except auth.LoginThrottled as exc:
        raise ValidationFailed({"password": str(exc)}) from None
    if ok is None:
        raise ValidationFailed({"password": "wrong password"})


def disable(user_id: str, password: str, ip: str) -> None:
    """Switch TOTP off (or drop a pending enrolment); the password proves it is the user."""
    _check_password(_user(user_id), password, ip, "totp_disable")
    _switch_off(user_id, user_id, "self")


def reset(user_id: str) -> bool:
    """The operator's way out for a user locked out of their second factor.

    Returns whether TOTP was on. The user logs in with the password alone and
    may enrol again.
    """
    return _switch_off(user_id, None, "operator")


def _switch_off(user_id: str, actor: str | None, by: str) -> bool:
    """Forget the secret and recovery codes; audited when TOTP was on (returned)."""
    with writing():
        user = _user(user_id)
        was_on = user.totp_enabled
        user.totp_secret = None
        user.totp_enabled_at = None
        user.totp_last_step = None
        user.totp_recovery = None
        if was_on:
            audit.record(actor, "totp_disabled", {"user": user_id, "by": by})
    return was_on


def new_recovery_codes(user_id: str, password: str, ip: str) -> list[str]:
    """Replace every recovery code (the old ones stop working); needs the password."""
    user = _user(user_id)
    if not user.totp_enabled:
        raise Conflict("two-factor authentication is off")
    _check_password(user, password, ip, "recovery_codes")
    shown, hashes = _new_recovery_codes()
    with writing():
        _user(user_id).totp_recovery = hashes
    return shown


def recovery_codes_left(user: User) -> int:
    return len(user.totp_recovery or [])


# --- login ---------------------------------------------------------------------------


def verify_login(user_id: str, code: str, ip: str) -> str | None:
    """The second step of a login: "totp" or "recovery_code" when accepted, else None.

    Raises LoginThrottled while the user's e-mail or the address has failed
    too often, and SecretUnreadable for a six-digit code that cannot be
    checked. A wrong or reused code is counted against the throttle and noted
    in the audit log as ``totp_failed``.
    """
    user = _user(user_id)
    auth.check_throttle(user.email, ip)
    code = (code or "").strip()
    unreadable: SecretUnreadable | None = None
    with writing():
        user = _user(user_id)
        if not user.totp_enabled:
            return None
        digits = code.replace(" ", "")
        if _CODE.fullmatch(digits):
            try:
                secret = _decrypt(user.totp_secret)
            except SecretUnreadable as exc:
                secret, unreadable = "", exc
            step = matching_step(secret, digits) if secret else None
            if step is not None and (user.totp_last_step is None or step > user.totp_last_step):
                user.totp_last_step = step
                user.totp_secret = _encrypt(secret)  # under the current key, if it was older
                return "totp"
            if unreadable:
                reason = "secret_unreadable"
            else:
                reason = "wrong_code" if step is None else "reused_code"
        else:
            hashed = _hash_recovery(normalise_recovery(code))
            left = list(user.totp_recovery or [])
            match = next((h for h in left if hmac.compare_digest(h, hashed)), None)
            if match is not None:
                left.remove(match)
                user.totp_recovery = left
                return "recovery_code"
            reason = "wrong_recovery_code"
        auth.count_failure(user.email, ip)
        audit.record(user_id, "totp_failed", {"reason": reason})
    if unreadable is not None:
        raise unreadable
    return None
