"""Operator commands: ``flask --app app users|tokens|worker ...``.

``flask --app app db upgrade`` comes from Flask-Migrate.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Any

import click
from flask import Flask
from flask.cli import AppGroup, with_appcontext

from .errors import ApiError, ValidationFailed
from .services import auth

users = AppGroup("users", help="Manage user accounts.")
tokens = AppGroup("tokens", help="Manage API tokens.")


def _fail(exc: ApiError) -> None:
    if isinstance(exc, ValidationFailed):  # name every field at fault
        raise click.ClickException("; ".join(f"{k}: {v}" for k, v in exc.fields.items()))
    raise click.ClickException(exc.message)


@users.command("create")
@click.option("--email", required=True, help="Login e-mail address.")
@click.option(
    "--password", required=True, help="At least 8 characters, not a common or leaked one."
)
@click.option("--name", default=None, help="Display name.")
@click.option("--admin", is_flag=True, help="Make the user an administrator.")
@click.option(
    "--role",
    type=click.Choice(["admin", "recruiter", "interviewer"]),
    default=None,
    help="Role (default recruiter; --admin means admin).",
)
def create_user(email: str, password: str, name: str | None, admin: bool, role: str | None) -> None:
    """Create a user who can log in and own API tokens."""
    try:
        user = auth.create_user(email, password, name, "admin" if admin else role or "recruiter")
    except ApiError as exc:
        _fail(exc)
    click.echo(f"created {user.role} {user.email} ({user.id})")


@tokens.command("create")
@click.option("--email", required=True, help="The user the token acts for.")
@click.option("--scopes", required=True, help='Comma-separated, e.g. "job:read,job:list" or "*".')
@click.option("--name", default=None, help="What the token is for.")
@click.option(
    "--expires-days",
    type=click.IntRange(min=1, max=auth.MAX_TOKEN_DAYS),
    default=None,
    help="Lifetime in days.",
)
def create_token(email: str, scopes: str, name: str | None, expires_days: int | None) -> None:
    """Create a personal access token; it is printed once, as the last line."""
    user = auth.find_user(email)
    if user is None:
        raise click.ClickException(f"no user with the e-mail {email}")
    try:
        token, secret = auth.create_token(user, auth.parse_scopes(scopes), name, expires_days)
    except ApiError as exc:
        _fail(exc)
    click.echo(f"token {token.id} for {user.email}, scopes {','.join(token.scopes)}", err=True)
    click.echo(secret)


@tokens.command("revoke")
@click.argument("token_id")
def revoke_token(token_id: str) -> None:
    """Revoke a token by its id (tok_...); it stops working at once."""
    try:
        token = auth.revoke_token(token_id)
    except ApiError as exc:
        _fail(exc)
    click.echo(f"revoked {token.id}")


# --- two-factor authentication (issue 8) ----------------------------------------


@users.command("reset-totp")
@click.argument("email")
def reset_totp(email: str) -> None:
    """Switch off a user's second factor (TOTP), e.g. after a lost phone.

    The user then logs in with the password alone and may set it up again.
    """
    from .services import totp

    user = auth.find_user(email)
    if user is None:
        raise click.ClickException(f"no user with the e-mail {email}")
    if totp.reset(user.id):
        click.echo(f"two-factor authentication switched off for {user.email} ({user.id})")
    else:
        click.echo(f"{user.email} had no two-factor authentication; nothing changed")


# --- the background worker ------------------------------------------------------


@click.command("worker")
@click.option("--once", is_flag=True, help="Run one round (everything due) and exit.")
@click.option(
    "--interval",
    type=click.FloatRange(0.1, 3600),
    default=5.0,
    show_default=True,
    help="Seconds to sleep when there is nothing to do.",
)
@with_appcontext
def worker(once: bool, interval: float) -> None:
    """Run the background jobs: e-mail delivery, slow scoring, daily retention.

    Safe to run more than once at a time, on one machine or several.
    """
    from . import automations
    from .extensions import db
    from .services import tasks

    automations.load()
    name = tasks.worker_name()
    stop = threading.Event()

    def _stop(_signum: int, _frame: Any) -> None:
        stop.set()  # finish the task in hand, then leave

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
    click.echo(f"worker {name} started", err=True)
    while True:
        ran = tasks.tick(name)
        db.session.remove()
        if once or stop.is_set():
            break
        if ran == 0:
            stop.wait(interval)
    click.echo(f"worker {name} stopped", err=True)


# --- data retention (GDPR) --------------------------------------------------------

retention = AppGroup("retention", help="Data retention (GDPR): erase applicants past the period.")


@retention.command("run")
@click.option("--dry-run", is_flag=True, help="List who would be erased; change nothing.")
def retention_run(dry_run: bool) -> None:
    """Erase the candidates past the retention period (--dry-run: list them only).

    Prints candidate ids, reasons and counts, never names: output lands in logs.
    """
    from .services import retention as R

    report = R.run(dry_run=dry_run, trigger="cli")
    click.echo(report.policy.describe())
    if dry_run:
        for due in report.candidates:
            click.echo(f"{due.candidate_id}\t{due.reason}")
    counts = ", ".join(f"{n} {key}" for key, n in report.counts.items())
    click.echo(f"{'would erase' if dry_run else 'erased'}: {counts}")
    if report.failed:
        raise click.ClickException(
            f"could not erase {', '.join(report.failed)} (see the log); the next run retries"
        )


# --- e-mail ---------------------------------------------------------------------

mail_group = AppGroup("mail", help="E-mail: check the SMTP settings, retry failed messages.")


@mail_group.command("test")
@click.option("--to", "to", required=True, help="Where to send the test message.")
def mail_test(to: str) -> None:
    """Queue a test message and try to deliver it now; says what happened."""
    from email.errors import MessageError
    from email.headerregistry import Address

    from .extensions import db
    from .models import OutboxMessage
    from .services import mail, tasks

    try:
        Address(addr_spec=to.strip())
    except (ValueError, MessageError) as exc:
        raise click.ClickException(f"--to is not an e-mail address: {exc}") from None
    problem = mail.delivery_problem()
    message = mail.send_test(to.strip())
    click.echo(f"queued {message.id} to {message.to_email}")
    if problem:
        raise click.ClickException(f"not sent: {problem}")
    mail.deliver_due(tasks.worker_name())
    db.session.expire_all()
    message = db.session.get(OutboxMessage, message.id)
    if message.status == "sent":
        click.echo(f"sent through {mail.smtp_settings().describe()}")
        return
    raise click.ClickException(
        f"not sent ({message.status}): {message.last_error or 'another message was due first'}; "
        "the worker keeps trying"
    )


@mail_group.command("retry")
def mail_retry() -> None:
    """Send every failed message again at the worker's next round."""
    from sqlalchemy import select

    from .extensions import db
    from .models import OutboxMessage
    from .services import mail

    ids = db.session.scalars(select(OutboxMessage.id).where(OutboxMessage.status == "failed")).all()
    for message_id in ids:
        mail.retry(message_id)
    click.echo(f"{len(ids)} failed message(s) queued again")


# --- fit scoring -----------------------------------------------------------------

fit = AppGroup("fit", help="Fit scoring of applications (automated suggestions; people decide).")


@fit.command("rescore")
@click.option("--job", "job_id", default=None, help="Only this job's applications (job_...).")
@click.option("--queue", is_flag=True, help="Leave the work to the background worker.")
def fit_rescore(job_id: str | None, queue: bool) -> None:
    """Score the fit of every application of the jobs with AI screening on, again.

    Scores here, one by one, with the language model when one is configured;
    --queue hands them to the worker instead.
    """
    from .extensions import db
    from .services import scoring

    try:
        ids = scoring.applications_of(job_id)
    except LookupError as exc:
        raise click.ClickException(str(exc)) from None
    except scoring.ScoringOff:
        raise click.ClickException(
            f"fit scoring is off for job {job_id} (ai_screen_enabled)"
        ) from None
    if queue:
        click.echo(f"queued {scoring.queue(ids)} applications")
        return
    scored = failed = 0
    for app_id in ids:
        try:
            fit_result = scoring.rescore(app_id)
        except Exception as exc:  # noqa: BLE001 - report it and go on with the rest
            db.session.rollback()
            failed += 1
            click.echo(f"{app_id}: failed: {type(exc).__name__}: {exc}", err=True)
            continue
        if fit_result is not None:
            scored += 1
            score = "-" if fit_result.score is None else f"{fit_result.score:g}"
            click.echo(f"{app_id}\t{score}\t{','.join(fit_result.flags)}")
    click.echo(f"scored {scored} applications" + (f", {failed} failed" if failed else ""), err=True)
    if failed:
        raise SystemExit(1)


# --- backup and restore (issue 8) ------------------------------------------------


def _backup_errors() -> tuple[type[BaseException], ...]:
    import sqlite3

    from sqlalchemy.exc import SQLAlchemyError

    from .services.backup import BackupError

    return (BackupError, OSError, sqlite3.Error, SQLAlchemyError)


@click.command("backup")
@click.argument("path", type=click.Path(path_type=Path))
@with_appcontext
def backup_command(path: Path) -> None:
    """Back up the database and uploaded files to PATH (a new directory, or .tar/.tar.gz).

    Safe while the app runs: SQLite is copied with its online backup API,
    PostgreSQL with pg_dump on one snapshot.
    """
    from .services import backup

    try:
        manifest = backup.create(path)
    except _backup_errors() as exc:
        raise click.ClickException(f"backup failed: {exc}") from None
    click.echo(f"backed up {manifest.describe()} to {path} in {manifest.seconds:.1f} s")


@click.command("restore")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--force", is_flag=True, help="Replace a non-empty or running install.")
@click.option("--check", "check_only", is_flag=True, help="Verify the backup; change nothing.")
@with_appcontext
def restore_command(path: Path, force: bool, check_only: bool) -> None:
    """Restore a backup made by `backup` into this install (its database and files).

    Refuses a damaged backup, and without --force an install that has data or
    is running; migrates a backup from an older version.
    """
    from .services import backup

    try:
        if check_only:
            manifest = backup.check(path)
            click.echo(f"{path} is complete: {manifest.describe()}, made {manifest.created_at}")
            return
        done = backup.restore(path, force=force)
    except _backup_errors() as exc:
        raise click.ClickException(f"restore failed: {exc}") from None
    click.echo(f"restored {done.manifest.describe()}, made {done.manifest.created_at}")
    if done.upgraded_from is not None:
        click.echo(f"migrated the schema from {done.upgraded_from} to {done.revision}")
    if done.secret_key == "restored":  # noqa: S105 - what happened to it
        click.echo("restored the secret key (instance/secret_key)")
    if not done.key_matches:
        click.echo(
            "warning: this install's secret key is not the one the backup was made with: "
            "API tokens and two-factor logins from the backup fail until ATS_SECRET_KEY "
            "is that key again",
            err=True,
        )


def register(app: Flask) -> None:
    app.cli.add_command(users)
    app.cli.add_command(tokens)
    app.cli.add_command(worker)
    app.cli.add_command(retention)
    app.cli.add_command(mail_group)
    app.cli.add_command(fit)
    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)
