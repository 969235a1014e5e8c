"""Gunicorn settings for `make run` and production.

Run as ``gunicorn -c python:ats.gunicorn_conf app:app``.

ATS_HOST, ATS_PORT and ATS_WORKERS override the bind address and worker count,
ATS_THREADS the threads per worker.

Threaded workers (``gthread``), because a sync worker closes the connection
after every response: a client sending many requests in a row (``atscli``
importing rows) would pay a new TCP connection each time, and while one request
waits on the SQLite write lock, the worker's other threads go on serving.
"""

import os

bind = f"{os.environ.get('ATS_HOST', '127.0.0.1')}:{os.environ.get('ATS_PORT', '5000')}"
workers = int(os.environ.get("ATS_WORKERS", "3"))
worker_class = "gthread"
threads = int(os.environ.get("ATS_THREADS", "4"))
accesslog = "-"
# gunicorn 24+ opens a control socket at one fixed path per user; two servers
# (a test run beside `make run`) would fight over it, and we do not use it.
control_socket_disable = True
forwarded_allow_ips = os.environ.get("ATS_FORWARDED_ALLOW_IPS", "127.0.0.1")


def when_ready(server) -> None:  # type: ignore[no-untyped-def]
    """Tell the operator how to make the first admin while there is no user."""
    from sqlalchemy import func, select

    from ats import create_app
    from ats.extensions import db
    from ats.models import User

    app = create_app()
    with app.app_context():
        try:
            count = db.session.scalar(select(func.count()).select_from(User))
        except Exception as exc:  # noqa: BLE001 - only a hint; the server still starts
            server.log.warning("could not count users (%s); did `flask db upgrade` run?", exc)
            return
        finally:
            db.engine.dispose()
    if not count:
        server.log.info(
            "No users yet. Open http://%s/setup to create the first admin, or run:\n"
            "  .venv/bin/flask --app app users create --email you@example.com "
            "--password '...' --admin",
            bind,
        )
    server.log.info("ATS listening on http://%s", bind)
