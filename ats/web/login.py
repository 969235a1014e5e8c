"""Browser sessions: first-run setup, login, logout (Flask-Login).

The session stores ``<user id>:<session version>``; bumping the version (on
logout, password change, deactivation) ends every session of that user, which
a signed cookie alone could not.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Flask, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, Email, Length

from ..errors import ApiError
from ..extensions import db, login_manager
from ..fields import COMPANY_PROFILE
from ..models import User
from ..services import auth, records

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
            user = auth.create_user(form.email.data, form.password.data, form.name.data, "admin")
            records.create(
                COMPANY_PROFILE,
                {"name": form.company.data},
                auth.actor_for_user(user),
            )
        except ApiError as exc:
            form.email.errors.append(exc.message)
        else:
            login_user(user)
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
                from flask import session

                session.clear()  # a fresh session at login: nothing carried over
                login_user(user, remember=form.remember.data)
                return redirect(_safe_next(request.args.get("next")))
    elif request.method == "POST":
        status = 400
    return render_template("auth/login.html", form=form), status


@bp.post("/logout")
@login_required
def logout() -> Any:
    auth.end_sessions(current_user.id)
    logout_user()
    flash("You are logged out.", "info")
    return redirect(url_for("auth.login"))
