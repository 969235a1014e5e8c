"""Operator commands: ``flask --app app users|tokens|worker ...``.

``flask --app app db upgrade`` comes from Flask-Migrate.
"""

from __future__ import annotations

import signal
import threading
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
@click.option("--password", required=True, help="At least 8 characters.")
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


def register(app: Flask) -> None:
    app.cli.add_command(users)
    app.cli.add_command(tokens)
    app.cli.add_command(worker)
