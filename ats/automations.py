"""The automations (issue 6): e-mail, fit scoring, data retention.

Importing their service modules registers their task handlers and periodic
hooks (``ats.services.tasks``) and their session events; the app factory and
the worker both load them, so every path (API, pages, careers form, CLI)
triggers them alike.
"""

from __future__ import annotations

import importlib

# names under ats.services
MODULES: tuple[str, ...] = ("retention", "mail", "invitations", "scoring")


def load() -> None:
    for name in MODULES:
        importlib.import_module(f"ats.services.{name}")
