"""Settings: the company profile, users, sources, personal API tokens and one's own account.

The company profile and source forms are derived from their field tables and
saved through ``records``, so they accept and refuse what xapi2 does. Users,
passwords and time zones go through ``services.users``, tokens through
``services.auth``. Every write is a POST behind the app-wide CSRF check; a
refused save shows the page again with the errors and everything typed.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, request, url_for
from flask_login import current_user, login_required, login_user
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage, MultiDict
from wtforms import (
    BooleanField,
    EmailField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.validators import EqualTo, Length
from wtforms.widgets import TextInput

from .. import fields as F
from ..errors import ApiError, BadRequest, Conflict, NotFound, ValidationFailed
from ..extensions import db
from ..models import ROLES, ApiToken, Application, User
from ..services import audit, auth, query, records, totp, users
from ..services import retention as retention_service
from ..validation import clean
from .access import STAFF, actor, is_htmx, render, roles
from .forms import form_values, model_form, options, save, show_errors

bp = Blueprint("settings", __name__, url_prefix="/settings")

# (endpoint, label, roles allowed or None for everyone logged in, what it is for)
SECTIONS: list[tuple[str, str, tuple[str, ...] | None, str]] = [
    ("settings.company", "Company profile", ("admin",),
     "Name, logo, banner and colour, legal pages, careers-page switches and data retention."),
    ("settings.users", "Users", ("admin",),
     "Add colleagues, change their role, deactivate accounts."),
    ("settings.retention", "Data retention", ("admin",),
     "Who the next retention run erases and why; run it now; the last runs."),
    ("audit.index", "Audit log", ("admin",),
     "Logins, tokens, users and roles, erasures and retention runs: who did what, when."),
    ("mail.index", "E-mail", ("admin",),
     "Message templates in English and German; the outbox of waiting, sent and failed e-mail."),
    ("settings.sources", "Sources", STAFF, "Where applications come from."),
    ("settings.tokens", "API tokens", None, "Personal tokens for the xapi2 API and atscli."),
    ("settings.account", "My account", None, "Your time zone and password."),
]  # fmt: skip


def _sections() -> list[tuple[str, str, str]]:
    role = getattr(current_user, "role", None)
    return [
        (e, label, text) for e, label, allowed, text in SECTIONS if not allowed or role in allowed
    ]


def _current_section() -> str | None:
    """The section a request belongs to: ``settings.source_edit`` is under ``settings.sources``."""
    here = request.endpoint or ""
    for endpoint, *_rest in SECTIONS:
        if here == endpoint or here.startswith(endpoint.rstrip("s") + "_"):
            return endpoint
    return None


@bp.context_processor
def _settings_context() -> dict[str, Any]:
    if not current_user.is_authenticated:
        return {}
    return {"settings_sections": _sections(), "settings_current": _current_section()}


def _column_length(column: Any) -> int:
    return column.property.columns[0].type.length


@bp.get("")
@login_required
def index() -> Any:
    return render("settings/index.html")


# --- company profile ------------------------------------------------------------

COMPANY_SECTIONS: list[tuple[str, list[str]]] = [
    ("Company", ["name", "display_name", "size", "industry", "website", "main_location",
                 "summary"]),
    ("Branding", ["logo_url", "banner_url", "accent_color"]),
    ("Legal pages", ["imprint_url", "privacy_url"]),
    ("Careers page", ["public_careers_enabled", "show_about", "show_other_jobs"]),
    ("Data retention", ["retention_value", "retention_unit"]),
]  # fmt: skip
COMPANY_FIELDS = [name for _, names in COMPANY_SECTIONS for name in names]

# Uploads become data URLs; base64 grows them by 4/3, which still fits the
# field's max length (1,500,000 and 2,500,000 characters).
IMAGE_UPLOADS: dict[str, tuple[str, int]] = {
    "logo_url": ("logo_file", 1_000_000),
    "banner_url": ("banner_file", 1_800_000),
}
_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
)


def image_kind(data: bytes) -> str | None:
    """PNG, JPEG, GIF or WebP by the file's first bytes; the name proves nothing."""
    for magic, kind in _MAGIC:
        if data.startswith(magic):
            return kind
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def image_data_url(upload: FileStorage, max_bytes: int) -> str:
    """The upload as a ``data:image/...;base64,`` URL, or ValueError saying why not."""
    data = upload.stream.read(max_bytes + 1)
    if not data:
        raise ValueError("the file is empty")
    if len(data) > max_bytes:
        raise ValueError(f"the image must be at most {max_bytes / 1_000_000:g} MB")
    kind = image_kind(data)
    if kind is None:
        raise ValueError("the file is not a PNG, JPEG, GIF or WebP image")
    return f"data:image/{kind};base64," + base64.b64encode(data).decode("ascii")


def _is_data_url(value: str | None) -> bool:
    return bool(value) and value.startswith("data:")


def _profile() -> Any:
    """The one company profile (archived or not), or None before it is made."""
    for archived in ("false", "true"):
        args = MultiDict([("limit", "1"), ("is_archived", archived)])
        page = query.list_records(F.COMPANY_PROFILE, args, actor())
        if page.items:
            return page.items[0]
    return None


def _apply_images(values: dict[str, Any], errors: dict[str, str], profile: Any) -> None:
    """Uploaded files win over typed URLs; an empty URL box keeps an uploaded image."""
    for name, (file_field, max_bytes) in IMAGE_UPLOADS.items():
        upload = request.files.get(file_field)
        if upload is not None and upload.filename:
            try:
                values[name] = image_data_url(upload, max_bytes)
            except ValueError as exc:
                errors[name] = str(exc)
        elif request.form.get(f"{name}_remove"):
            values[name] = None
        elif (
            values.get(name) is None
            and profile is not None
            and _is_data_url(getattr(profile, name))
        ):
            values.pop(name, None)  # the box is empty because it never shows a data URL


def _company_form(obj: Any = None) -> Any:
    form = model_form(F.COMPANY_PROFILE, COMPANY_FIELDS, obj=obj)
    for name in IMAGE_UPLOADS:
        # a one-line box for a URL, though the field may hold megabytes of data URL
        form[name].widget = TextInput()
        form[name].render_kw = {**(form[name].render_kw or {}), "inputmode": "url"}
    return form


def _company_page(form: Any, profile: Any, status: int = 200) -> Any:
    return render(
        "settings/company.html",
        form=form,
        profile=profile,
        sections=COMPANY_SECTIONS,
        uploads=IMAGE_UPLOADS,
        status=status,
    )


@bp.route("/company", methods=["GET", "POST"])
@roles("admin")
def company() -> Any:
    profile = _profile()
    if request.method == "GET":
        form = _company_form(profile)
        for name in IMAGE_UPLOADS:  # megabytes of base64 do not belong in a text box
            if _is_data_url(form[name].data):
                form[name].data = None
        return _company_page(form, profile)

    form = _company_form()
    values, errors = form_values(F.COMPANY_PROFILE, form, COMPANY_FIELDS)
    _apply_images(values, errors, profile)
    mode = "patch" if profile else "create"
    try:
        if errors:
            # report every other field's problem too, without saving anything
            _, more = clean(
                F.COMPANY_PROFILE, {k: v for k, v in values.items() if k not in errors}, mode
            )
            raise ValidationFailed({**more, **errors})
        if profile is None:
            records.create(F.COMPANY_PROFILE, values, actor())
        else:
            records.update(F.COMPANY_PROFILE, profile.id, values, actor())
    except (ValidationFailed, Conflict) as exc:
        show_errors(form, exc.fields or {"name": exc.message})
        for name, (file_field, _max) in IMAGE_UPLOADS.items():
            upload = request.files.get(file_field)
            if upload is not None and upload.filename and name not in (exc.fields or {}):
                form[name].errors = [
                    *form[name].errors,
                    "Nothing was saved: choose the file again.",
                ]
        if not form.form_errors:
            form.form_errors.append("Nothing was saved; please correct the marked fields.")
        return _company_page(form, profile, status=400)
    flash("Company profile saved.", "success")
    return redirect(url_for("settings.company"), code=303)


# --- users ---------------------------------------------------------------------


class NewUserForm(FlaskForm):
    email = EmailField(
        "E-mail",
        validators=[Length(max=_column_length(User.email))],
        render_kw={"required": True, "autocomplete": "off"},
    )
    name = StringField("Name", validators=[Length(max=_column_length(User.name))])
    role = SelectField(
        "Role",
        choices=options([(r, F.humanize(r)) for r in ROLES]),
        default="recruiter",
        validate_choice=False,
    )
    password = PasswordField(
        "Initial password",
        render_kw={"minlength": users.MIN_PASSWORD_LENGTH, "autocomplete": "new-password"},
        description=f"At least {users.MIN_PASSWORD_LENGTH} characters, not a common password "
        "nor their name or e-mail; tell them to change it.",
    )


def _users_page(form: NewUserForm, status: int = 200) -> Any:
    return render(
        "settings/users.html", form=form, users=users.list_users(), roles=ROLES, status=status
    )


@bp.route("/users", methods=["GET", "POST"], endpoint="users")
@roles("admin")
def users_page() -> Any:
    form = NewUserForm()
    if request.method == "GET":
        return _users_page(form)
    if not form.validate():
        return _users_page(form, status=400)
    try:
        user = auth.create_user(
            form.email.data,
            form.password.data,
            form.name.data,
            form.role.data,
            by=current_user.id,
            via="settings",
        )
    except (ValidationFailed, Conflict) as exc:
        show_errors(form, exc.fields or {"email": exc.message})
        return _users_page(form, status=400 if isinstance(exc, ValidationFailed) else 409)
    flash(f"Created {user.email} ({user.role}).", "success")
    return redirect(url_for("settings.users"), code=303)


def _user_action_done(user: User, message: str | None, error: str | None) -> Any:
    """HTMX swaps the user's row, with any refusal written in it; a plain POST redirects."""
    if is_htmx():
        # 200 even for a refusal: htmx swaps only successful answers, and the
        # row itself says what went wrong
        return render(
            "settings/users.html",
            partial="settings/_user_row.html",
            u=user,
            roles=ROLES,
            row_error=error,
        )
    flash(error or message, "error" if error else "success")
    return redirect(url_for("settings.users"), code=303)


def _user_or_404(user_id: str) -> User:
    try:
        return users.get_user(user_id)
    except NotFound:
        abort(404)


@bp.post("/users/<user_id>/role")
@roles("admin")
def user_role(user_id: str) -> Any:
    _user_or_404(user_id)
    try:
        user = users.change_role(user_id, request.form.get("role", ""), by=current_user.id)
    except (ValidationFailed, Conflict) as exc:
        return _user_action_done(_user_or_404(user_id), None, exc.message)
    return _user_action_done(user, f"{user.email} is now {user.role}.", None)


@bp.post("/users/<user_id>/active")
@roles("admin")
def user_active(user_id: str) -> Any:
    _user_or_404(user_id)
    active = request.form.get("active") == "1"
    try:
        user = users.set_active(user_id, active, current_user.id)
    except Conflict as exc:
        return _user_action_done(_user_or_404(user_id), None, exc.message)
    state = "reactivated" if active else "deactivated; their sessions and tokens stopped working"
    return _user_action_done(user, f"{user.email} {state}.", None)


# --- sources -------------------------------------------------------------------

SOURCE_FIELDS = [f.name for f in F.SOURCE.fields if f.create]


def _source_form(obj: Any = None) -> Any:
    return model_form(F.SOURCE, SOURCE_FIELDS, obj=obj)


def _sources_page(form: Any, status: int = 200) -> Any:
    text = request.args.get("q", "").strip()
    args = MultiDict([("sort", "name"), ("limit", str(F.SOURCE.max_page))])
    page = query.list_records(F.SOURCE, args, actor(), search=text or None)
    ids = [s.id for s in page.items]
    counts = dict(
        db.session.execute(
            select(Application.source_id, func.count())
            .where(Application.source_id.in_(ids))
            .group_by(Application.source_id)
        ).all()
    )
    return render(
        "settings/sources.html", form=form, page=page, counts=counts, q=text, status=status
    )


def _save_source(source_id: str | None) -> tuple[Any, Any]:
    """Create or update from the posted form: (source, None) or (None, form with errors)."""
    form = _source_form()
    values, errors = form_values(F.SOURCE, form, SOURCE_FIELDS)
    source = save(
        form,
        errors,
        lambda: (
            records.update(F.SOURCE, source_id, values, actor())
            if source_id
            else records.create(F.SOURCE, values, actor())
        ),
    )
    return (source, None) if source is not None else (None, form)


@bp.route("/sources", methods=["GET", "POST"])
@roles(*STAFF)
def sources() -> Any:
    if request.method == "GET":
        return _sources_page(_source_form())
    source, form = _save_source(None)
    if source is None:
        return _sources_page(form, status=400)
    flash(f"Added the source “{source.name}”.", "success")
    return redirect(url_for("settings.sources"), code=303)


def _source_or_404(source_id: str) -> Any:
    try:
        return records.get(F.SOURCE, source_id, actor())
    except NotFound:
        abort(404)


@bp.route("/sources/<source_id>/edit", methods=["GET", "POST"])
@roles(*STAFF)
def source_edit(source_id: str) -> Any:
    source = _source_or_404(source_id)
    if request.method == "GET":
        return render("settings/source_edit.html", form=_source_form(source), source=source)
    saved, form = _save_source(source_id)
    if saved is None:
        return render(
            "settings/source_edit.html", form=form, source=_source_or_404(source_id), status=400
        )
    flash(f"Saved the source “{saved.name}”.", "success")
    return redirect(url_for("settings.sources"), code=303)


@bp.post("/sources/<source_id>/delete")
@roles(*STAFF)
def source_delete(source_id: str) -> Any:
    """Delete; a source in use asks first, and "delete anyway" clears the applications' source."""
    source = _source_or_404(source_id)
    name = source.name
    force = request.form.get("force") == "1"
    try:
        records.remove(F.SOURCE, source_id, actor(), cascade=force)
    except Conflict as exc:
        return render(
            "settings/source_delete.html",
            source=_source_or_404(source_id),
            in_use=(exc.extra.get("dependents") or {}).get("application", 0),
            status=409,
        )
    flash(f"Deleted the source “{name}”.", "success")
    return redirect(url_for("settings.sources"), code=303)


# --- personal API tokens --------------------------------------------------------

EVERYTHING = "*"
MAX_EXPIRES_DAYS = 3650
SCOPE_CHOICES = [(EVERYTHING, "Everything")] + [
    (f"{m}:{a}", f"{m}:{a}") for m in F.MODELS for a in F.ACTIONS
]


class TokenForm(FlaskForm):
    name = StringField(
        "Name",
        validators=[Length(max=_column_length(ApiToken.name))],
        description="What it is for, e.g. “atscli on my laptop”.",
    )
    scopes = SelectMultipleField("Scopes", choices=options(SCOPE_CHOICES), validate_choice=False)
    expires_days = StringField(
        "Expires after (days)",
        render_kw={"type": "number", "min": 1, "max": MAX_EXPIRES_DAYS, "step": 1},
        description="Leave empty for a token that does not expire.",
    )


def _my_tokens() -> list[ApiToken]:
    return list(
        db.session.scalars(
            select(ApiToken)
            .where(ApiToken.user_id == current_user.id)
            .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
        )
    )


def _tokens_page(form: TokenForm, status: int = 200) -> Any:
    role_scopes = auth.ROLE_SCOPES.get(current_user.role, ())
    allowed = {
        f"{m}:{a}": auth.scope_allows(role_scopes, m, a) for m in F.MODELS for a in F.ACTIONS
    }
    return render(
        "settings/tokens.html",
        form=form,
        tokens=_my_tokens(),
        models=list(F.MODELS),
        actions=F.ACTIONS,
        allowed=allowed,
        now=datetime.now(UTC).replace(tzinfo=None),
        status=status,
    )


def _expires_days(raw: str | None) -> int | None:
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        days = int(raw)
    except ValueError:
        raise ValueError("must be a whole number of days") from None
    if not 1 <= days <= MAX_EXPIRES_DAYS:
        raise ValueError(f"must be between 1 and {MAX_EXPIRES_DAYS}")
    return days


@bp.route("/tokens", methods=["GET", "POST"])
@login_required
def tokens() -> Any:
    form = TokenForm()
    if request.method == "GET":
        return _tokens_page(form)
    if not form.validate():
        return _tokens_page(form, status=400)
    errors: dict[str, str] = {}
    scopes: list[str] = []
    days = None
    try:
        scopes = auth.parse_scopes(",".join(form.scopes.data or []))
    except BadRequest as exc:
        errors["scopes"] = exc.message
    try:
        days = _expires_days(form.expires_days.data)
    except ValueError as exc:
        errors["expires_days"] = str(exc)
    if not errors:
        try:
            token, secret = auth.create_token(
                current_user._get_current_object(),
                scopes,
                name=(form.name.data or "").strip() or None,
                expires_days=days,
                by=current_user.id,
            )
        except ApiError as exc:
            errors["expires_days"] = exc.message
    if errors:
        show_errors(form, errors)
        return _tokens_page(form, status=400)
    response = render("settings/token_created.html", token=token, secret=secret)
    response.headers["Cache-Control"] = "no-store"  # the clear token exists only in this answer
    return response


@bp.post("/tokens/<token_id>/revoke")
@login_required
def token_revoke(token_id: str) -> Any:
    token = db.session.get(ApiToken, token_id)
    if token is None or token.user_id != current_user.id:
        abort(404)  # someone else's token does not exist, as far as this user can tell
    auth.revoke_token(token_id, by=current_user.id)
    if is_htmx():
        return render("settings/tokens.html", partial="settings/_token_row.html", t=token)
    flash(f"Revoked the token {token.name or token.hint + '…'}.", "success")
    return redirect(url_for("settings.tokens"), code=303)


# --- my account ------------------------------------------------------------------


class TimezoneForm(FlaskForm):
    timezone = SelectField("Time zone", validate_choice=False)


class PasswordForm(FlaskForm):
    current_password = PasswordField(
        "Current password", render_kw={"autocomplete": "current-password"}
    )
    new_password = PasswordField(
        "New password",
        render_kw={"minlength": users.MIN_PASSWORD_LENGTH, "autocomplete": "new-password"},
        description=f"At least {users.MIN_PASSWORD_LENGTH} characters, not a common password "
        "nor your name or e-mail. Your other sessions end; this one stays.",
    )
    confirm = PasswordField(
        "New password again",
        validators=[EqualTo("new_password", message="the two new passwords differ")],
        render_kw={"autocomplete": "new-password"},
    )


def _timezone_form(**kw: Any) -> TimezoneForm:
    form = TimezoneForm(prefix="tz", **kw)
    form.timezone.choices = options([("", "UTC (default)"), *[(z, z) for z in users.timezones()]])
    return form


class TotpPasswordForm(FlaskForm):
    """Switching the second factor off, or new recovery codes: the password again."""

    password = PasswordField("Your password", render_kw={"autocomplete": "current-password"})


class TotpCodeForm(FlaskForm):
    code = StringField(
        "Code from the app",
        render_kw={
            "autocomplete": "one-time-code",
            "inputmode": "numeric",
            "pattern": "[0-9 ]*",
            "maxlength": 7,
        },
        description="The six digits the app shows now.",
    )


def _account_page(
    tz_form: TimezoneForm,
    pw_form: PasswordForm,
    status: int = 200,
    totp_off_form: TotpPasswordForm | None = None,
    recovery_form: TotpPasswordForm | None = None,
) -> Any:
    user = current_user._get_current_object()
    return render(
        "settings/account.html",
        tz_form=tz_form,
        pw_form=pw_form,
        totp_on=user.totp_enabled,
        totp_pending=bool(totp.pending_secret(user)),
        recovery_left=totp.recovery_codes_left(user),
        start_form=FlaskForm(),
        totp_off_form=totp_off_form or TotpPasswordForm(prefix="off", formdata=None),
        recovery_form=recovery_form or TotpPasswordForm(prefix="rc", formdata=None),
        status=status,
    )


def _account_forms() -> tuple[TimezoneForm, PasswordForm]:
    """The time zone and password forms, filled as stored (for a page showing another error)."""
    tz_form = _timezone_form(formdata=None, data={"timezone": current_user.timezone or ""})
    return tz_form, PasswordForm(prefix="pw", formdata=None)


@bp.get("/account")
@login_required
def account() -> Any:
    tz_form = _timezone_form(data={"timezone": current_user.timezone or ""})
    return _account_page(tz_form, PasswordForm(prefix="pw"))


# --- my account: two-factor authentication (TOTP) ------------------------------------


def _no_store(response: Any) -> Any:
    """Secrets and recovery codes are in this answer only: no cache keeps them."""
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/account/totp/start")
@login_required
def account_totp_start() -> Any:
    """A new secret (replacing any unconfirmed one); the next page shows it."""
    if not FlaskForm().validate():
        abort(400)
    try:
        totp.start_enrolment(current_user.id)
    except Conflict as exc:
        flash(exc.message, "error")
        return redirect(url_for("settings.account"), code=303)
    return redirect(url_for("settings.account_totp"), code=303)


def _totp_setup_page(form: TotpCodeForm, status: int = 200) -> Any:
    secret = totp.pending_secret(current_user._get_current_object())
    if secret is None:
        return redirect(url_for("settings.account"), code=303)
    from markupsafe import Markup

    from . import _company_name

    uri = totp.provisioning_uri(secret, current_user.email, _company_name() or None)
    return _no_store(
        render(
            "settings/totp_setup.html",
            form=form,
            secret=secret,
            spaced=" ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
            qr=Markup(totp.qr_svg(uri)),  # noqa: S704 - drawn by segno from our own data
            status=status,
        )
    )


@bp.route("/account/totp", methods=["GET", "POST"])
@login_required
def account_totp() -> Any:
    """Scan the QR code (or type the secret), then confirm with a first code."""
    form = TotpCodeForm()
    if request.method == "GET":
        return _totp_setup_page(form)
    if not form.validate():
        return _totp_setup_page(form, status=400)
    try:
        codes = totp.confirm_enrolment(current_user.id, form.code.data or "")
    except ValidationFailed as exc:
        show_errors(form, exc.fields or {"code": exc.message})
        return _totp_setup_page(form, status=400)
    except Conflict as exc:
        flash(exc.message, "error")
        return redirect(url_for("settings.account"), code=303)
    return _no_store(render("settings/totp_recovery.html", codes=codes, first=True))


@bp.post("/account/totp/disable")
@login_required
def account_totp_disable() -> Any:
    form = TotpPasswordForm(prefix="off")
    if not form.validate():
        return _account_page(*_account_forms(), status=400, totp_off_form=form)
    try:
        totp.disable(current_user.id, form.password.data or "", request.remote_addr or "?")
    except ValidationFailed as exc:
        show_errors(form, exc.fields or {})
        return _account_page(*_account_forms(), status=400, totp_off_form=form)
    flash("Two-factor authentication is off: your password alone logs you in.", "success")
    return redirect(url_for("settings.account"), code=303)


@bp.post("/account/totp/recovery")
@login_required
def account_totp_recovery() -> Any:
    """New recovery codes for the old ones (used up or lost); needs the password."""
    form = TotpPasswordForm(prefix="rc")
    if not form.validate():
        return _account_page(*_account_forms(), status=400, recovery_form=form)
    try:
        codes = totp.new_recovery_codes(
            current_user.id, form.password.data or "", request.remote_addr or "?"
        )
    except ValidationFailed as exc:
        show_errors(form, exc.fields or {})
        return _account_page(*_account_forms(), status=400, recovery_form=form)
    except Conflict as exc:
        flash(exc.message, "error")
        return redirect(url_for("settings.account"), code=303)
    return _no_store(render("settings/totp_recovery.html", codes=codes, first=False))


@bp.post("/account/timezone")
@login_required
def account_timezone() -> Any:
    form = _timezone_form()
    try:
        users.set_timezone(current_user.id, form.timezone.data)
    except ValidationFailed as exc:
        show_errors(form, exc.fields or {})
        return _account_page(form, PasswordForm(prefix="pw", formdata=None), status=400)
    flash("Time zone saved.", "success")
    return redirect(url_for("settings.account"), code=303)


@bp.post("/account/password")
@login_required
def account_password() -> Any:
    form = PasswordForm(prefix="pw")
    tz_form = _timezone_form(formdata=None, data={"timezone": current_user.timezone or ""})
    if not form.validate():
        return _account_page(tz_form, form, status=400)
    try:
        user = users.change_password(
            current_user.id,
            form.current_password.data,
            form.new_password.data,
            request.remote_addr or "?",
        )
    except ValidationFailed as exc:
        show_errors(form, exc.fields or {})
        return _account_page(tz_form, form, status=400)
    # The version bump ended every session, this one too: log this browser in
    # again, keeping "remember me" if it was on.

    remember_cookie = current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token")
    login_user(user, remember=remember_cookie in request.cookies)
    flash("Password changed. Your other sessions have ended.", "success")
    return redirect(url_for("settings.account"), code=303)


# --- data retention (GDPR) -------------------------------------------------------

RETENTION_SHOWN = 500  # candidates listed on the page; the count covers all
RETENTION_RUNS_SHOWN = 10


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


class RetentionRunForm(FlaskForm):
    confirm = BooleanField("I understand: these candidates are erased for good.")


def _retention_page(form: RetentionRunForm, status: int = 200) -> Any:
    policy = retention_service.policy()
    found = retention_service.due(pol=policy)
    runs = audit.recent("retention_run", RETENTION_RUNS_SHOWN)
    actor_ids = {r.actor for r in runs if r.actor != audit.SYSTEM}
    people = {
        u.id: u.name or u.email
        for u in db.session.scalars(select(User).where(User.id.in_(actor_ids)))
    }
    return render(
        "settings/retention.html",
        form=form,
        policy=policy,
        due=found[:RETENTION_SHOWN],
        total=len(found),
        runs=runs,
        people=people,
        status=status,
    )


@bp.get("/retention")
@roles("admin")
def retention() -> Any:
    """What the next retention run would erase, and why: admins see it before it happens."""
    return _retention_page(RetentionRunForm())


@bp.post("/retention/run")
@roles("admin")
def retention_run() -> Any:
    """Run the retention now (the worker does it daily), after an explicit confirmation."""
    form = RetentionRunForm()
    if not form.confirm.data:
        form.confirm.errors = ["Tick the box to confirm; nothing was erased."]
        return _retention_page(form, status=400)
    report = retention_service.run(actor=current_user.id, trigger="settings")
    counts = report.counts
    if report.failed:
        flash(
            f"{_plural(len(report.failed), 'candidate')} could not be erased (see the server "
            "log); the next run tries again.",
            "error",
        )
    if counts["candidates"]:
        what = ", ".join(
            _plural(counts[key], word)
            for key, word in (("applications", "application"), ("interviews", "interview"),
                              ("notes", "note"), ("files", "file"), ("messages", "message"))
        )  # fmt: skip
        flash(f"Erased {_plural(counts['candidates'], 'candidate')} with {what}.", "success")
    elif not report.failed:
        flash("Nobody was due for erasure; nothing changed.", "info")
    return redirect(url_for("settings.retention"), code=303)
