"""Browser sessions: first-run setup, login (with a second step for TOTP), logout.

The session stores ``<user id>:<session version>``; bumping the version (on
logout, password change, deactivation) ends every session of that user, which
a signed cookie alone could not. A login starts a fresh session (nothing from
before carries over).

A user with TOTP on is not logged in by the password: the session then holds
only who passed it, when, and their session version, for five minutes, and
the code page (``/login/code``) completes the login. Nothing else reads that
state, so it grants nothing.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    abort,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, Email, Length

from ..errors import ApiError
from ..extensions import db, login_manager
from ..fields import COMPANY_PROFILE
from ..models import User
from ..services import auth, records, totp

bp = Blueprint("auth", __name__)


def register(app: Flask) -> None:
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please log in to continue."
    login_manager.session_protection = "basic"

    @login_manager.user_loader
    def load_user(alternative_id: str) -> User | None:
        user_id, _, version = alternative_id.partition(":")
        user = db.session.get(User, user_id)
        if user is None or not user.active or str(user.session_version) != version:
            return None
        return user


class LoginForm(FlaskForm):
    email = EmailField("E-mail", validators=[DataRequired(), Length(max=320)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=200)])
    remember = BooleanField("Remember me on this device")


class SetupForm(FlaskForm):
    company = StringField(
        "Company name",
        validators=[DataRequired(), Length(max=COMPANY_PROFILE["name"].max_length)],
    )
    name = StringField("Your name", validators=[Length(max=200)])
    email = EmailField("E-mail", validators=[DataRequired(), Email(), Length(max=320)])
    password = PasswordField("Password", validators=[DataRequired(), Length(min=8, max=200)])


class CodeForm(FlaskForm):
    code = StringField(
        "Code",
        validators=[DataRequired(), Length(max=40)],
        description="The six digits your authenticator app shows, or one of your recovery codes.",
        render_kw={
            "autocomplete": "one-time-code",
            "autocapitalize": "off",
            "spellcheck": "false",
            "autofocus": True,
        },
    )


PENDING = "second_factor"  # the session key of a login waiting for its code
PENDING_SECONDS = 300


def _safe_next(target: str | None) -> str:
    """Only same-site paths: an open redirect after login is a phishing tool."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/"):
            if not target.startswith("//") and "\\" not in target:
                return target
    return url_for("dashboard.index")


@bp.route("/setup", methods=["GET", "POST"])
def setup() -> Any:
    """First run: the first admin and the company name. Gone once a user exists."""
    if not auth.needs_setup():
        abort(404)
    form = SetupForm()
    if form.validate_on_submit():
        try:
            user = auth.create_user(
                form.email.data, form.password.data, form.name.data, "admin", via="setup"
            )
            records.create(
                COMPANY_PROFILE,
                {"name": form.company.data},
                auth.actor_for_user(user),
            )
        except ApiError as exc:
            fields = getattr(exc, "fields", None) or {}
            if fields:
                for name, message in fields.items():
                    getattr(form, name, form.email).errors.append(message)
            else:
                form.email.errors.append(exc.message)
        else:
            login_user(user)
            auth.complete_login(user.id, "setup")
            flash("Welcome! Your ATS is ready.", "success")
            return redirect(url_for("dashboard.index"))
    return render_template("auth/setup.html", form=form)


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    if auth.needs_setup():
        return redirect(url_for("auth.setup"))
    if current_user.is_authenticated:
        return redirect(_safe_next(request.args.get("next")))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        try:
            user = auth.check_password_login(
                form.email.data, form.password.data, request.remote_addr or "?"
            )
        except auth.LoginThrottled as exc:
            form.form_errors.append(str(exc))
            status = 429
        else:
            if user is None:
                form.form_errors.append("Wrong e-mail or password.")
                status = 401
            else:
                session.clear()  # a fresh session at login: nothing carried over
                if user.totp_enabled:
                    session[PENDING] = {
                        "user": user.id,
                        "version": user.session_version,
                        "since": int(time.time()),
                        "remember": bool(form.remember.data),
                    }
                    return redirect(url_for("auth.login_code", next=request.args.get("next")))
                _finish_login(user, bool(form.remember.data), "password")
                return redirect(_safe_next(request.args.get("next")))
    elif request.method == "POST":
        status = 400
    return render_template("auth/login.html", form=form), status, _retry_after(status)


def _retry_after(status: int) -> dict[str, str]:
    """Retry-After on a throttled attempt: the whole window, after which every
    counted failure has expired (an upper bound, as the page's message says)."""
    return {"Retry-After": str(int(auth.LOGIN_WINDOW.total_seconds()))} if status == 429 else {}


def _finish_login(user: User, remember: bool, method: str) -> None:
    login_user(user, remember=remember)
    auth.complete_login(user.id, method)
    if user.role == "admin" and not user.totp_enabled:
        flash(
            "Your admin account has no second factor: we recommend switching on "
            "two-factor authentication in Settings → My account.",
            "info",
        )


def _pending_login() -> tuple[User, bool] | None:
    """(user, remember me) of a password accepted in the last five minutes, if any."""
    pending = session.get(PENDING)
    if not isinstance(pending, dict):
        return None
    if not 0 <= time.time() - pending.get("since", 0) <= PENDING_SECONDS:
        session.pop(PENDING, None)
        return None
    user = db.session.get(User, str(pending.get("user")))
    if (
        user is None
        or not user.active
        or not user.totp_enabled
        or user.session_version != pending.get("version")  # logged out or password changed
    ):
        session.pop(PENDING, None)
        return None
    return user, bool(pending.get("remember"))


@bp.route("/login/code", methods=["GET", "POST"])
def login_code() -> Any:
    """The second step of a login with TOTP: a code from the app or a recovery code."""
    if current_user.is_authenticated:
        return redirect(_safe_next(request.args.get("next")))
    pending = _pending_login()
    if pending is None:
        flash("Please log in again: the code step expired or was not started.", "info")
        return redirect(url_for("auth.login", next=request.args.get("next")))
    user, remember = pending
    form = CodeForm()
    status = 200
    if form.validate_on_submit():
        try:
            method = totp.verify_login(user.id, form.code.data, request.remote_addr or "?")
        except auth.LoginThrottled as exc:
            form.form_errors.append(str(exc))
            status = 429
        except totp.SecretUnreadable as exc:
            form.code.errors = [*form.code.errors, f"This code cannot be checked: {exc}."]
            status = 401
        else:
            if method is None:
                form.code.errors = [
                    *form.code.errors,
                    "Wrong code, or a code used already: wait for the next one.",
                ]
                status = 401
            else:
                session.clear()
                _finish_login(user, remember, f"password+{method}")
                if method == "recovery_code":
                    left = totp.recovery_codes_left(user)
                    flash(
                        f"You used a recovery code; {left} left. "
                        "Make new ones in Settings → My account if you are running short.",
                        "info" if left > 2 else "error",
                    )
                return redirect(_safe_next(request.args.get("next")))
    elif request.method == "POST":
        status = 400
    response = render_template("auth/login_code.html", form=form)
    return response, status, {"Cache-Control": "no-store", **_retry_after(status)}


@bp.post("/logout")
@login_required
def logout() -> Any:
    auth.log_out(current_user.id)
    logout_user()
    flash("You are logged out.", "info")
    return redirect(url_for("auth.login"))
