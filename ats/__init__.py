"""A self-hosted applicant tracking system.

Importing the package is cheap on purpose: ``atscli`` (``ats.client``) lives
here too and should not load Flask and SQLAlchemy to print a list.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask

MIGRATIONS = str(Path(__file__).parent / "migrations")
ROOT = Path(__file__).resolve().parent.parent


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    from flask import Flask

    from . import config
    from .extensions import CookieSessions, babel, csrf, db, htmx, login_manager, migrate

    app = Flask(
        __name__,
        instance_path=str(ROOT / "instance"),
        instance_relative_config=True,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    app.config.from_pyfile("config.py", silent=True)
    app.config.update(config.load(app.instance_path, test_config))
    app.json.sort_keys = False  # keep the envelope and field-table order
    app.session_interface = CookieSessions()
    if hops := app.config["PROXY_HOPS"]:
        # X-Forwarded-For/-Proto/-Host/-Prefix from that many proxies in front:
        # the client's address (throttling), https and the public host in URLs
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_prefix=hops)

    db.init_app(app)
    migrate.init_app(app, db, directory=MIGRATIONS, render_as_batch=True)
    login_manager.init_app(app)
    csrf.init_app(app)
    htmx.init_app(app)
    from . import i18n

    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", i18n.TRANSLATION_DIRECTORIES)
    babel.init_app(app, locale_selector=i18n.select_locale)

    from .database import configure_engine

    with app.app_context():
        configure_engine(db.engine, app.config["SQLITE_BUSY_TIMEOUT_MS"])

    from . import automations, models  # noqa: F401  (models register their tables)

    automations.load()
    from .api import bp as api_bp
    from .web import register_all

    app.register_blueprint(api_bp)
    register_all(app)
    from . import ratelimit

    ratelimit.init_app(app)  # the per-token limit of the xapi2 blueprint

    from .cli import register as register_cli

    register_cli(app)
    return app
