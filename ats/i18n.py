"""Languages of the public pages (careers, apply): English and German.

A page about a job speaks the job's ``language`` (``use_locale``); otherwise
the browser's Accept-Language decides. Staff pages are English for now.
Catalogs live in ``ats/translations/<area>/<locale>/LC_MESSAGES/messages.po``
(one folder per area, merged by Flask-Babel); the compiled ``.mo`` files are
committed next to them (``pybabel compile -d ats/translations/<area>``).
"""

from __future__ import annotations

from pathlib import Path

import flask_babel
from flask import g, has_request_context, request

LOCALES = ("en", "de")
DEFAULT_LOCALE = "en"
_HERE = Path(__file__).parent / "translations"
TRANSLATION_DIRECTORIES = ";".join(str(_HERE / area) for area in ("careers", "apply"))


def locale_for_tag(tag: str | None) -> str | None:
    """``"de-AT"`` → ``"de"``; None for languages we have no catalog for."""
    if not tag:
        return None
    primary = tag.split("-")[0].lower()
    return primary if primary in LOCALES else None


def use_locale(tag: str | None) -> None:
    """Speak this BCP 47 tag's language for the rest of the request, if we can."""
    locale = locale_for_tag(tag)
    if locale:
        g.locale = locale
        flask_babel.refresh()  # Flask-Babel may have settled on a locale already


def select_locale() -> str:
    if not has_request_context():
        return DEFAULT_LOCALE
    return g.get("locale") or request.accept_languages.best_match(LOCALES) or DEFAULT_LOCALE
