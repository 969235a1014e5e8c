"""A small company for the attack tests: two jobs (an interviewer is on one),
a candidate and an application on each, CVs, interviews with calendar
invitations, public and private notes, a source and the company profile.

``world["mine"]`` is what the interviewer may see, ``world["theirs"]`` what
they may not; every id of every kind is in ``world["ids"]``.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from ats.extensions import db
from ats.models import OutboxMessage, User
from ats.services import auth, files
from tests.conftest import Api
from tests.cvfiles import make_pdf


def token_for(app: Flask, user_id: str, scopes: str = "*", **kw: Any) -> Api:
    """An ``Api`` speaking for an existing user (e.g. one logged in by ``login``)."""
    with app.app_context():
        user = db.session.get(User, user_id)
        _token, secret = auth.create_token(user, auth.parse_scopes(scopes), **kw)
    return Api(app.test_client(), secret, user_id)


def store_cv(app: Flask, text: str) -> str:
    with app.app_context():
        return files.store_cv(io.BytesIO(make_pdf([[text]]))).id


def _when(days: int) -> str:
    at = datetime.now(UTC) + timedelta(days=days)
    return at.replace(microsecond=0, tzinfo=None).isoformat() + "Z"


@pytest.fixture
def world(app: Flask, api: Api, login: Any) -> dict[str, Any]:
    admin = login("admin", email="boss@example.com")
    recruiter = login("recruiter", email="rec@example.com")
    iv = login("interviewer", email="iv@example.com")
    profile = api.create("company_profile", name="Acme", public_careers_enabled=True)
    source = api.create("source", name="Job board")
    sides: dict[str, dict[str, Any]] = {}
    for side, team in (("mine", [iv.user_id]), ("theirs", [])):
        job = api.job(
            title=f"Job {side}", status="open", public=True, team_ids=team, slug=f"job-{side}"
        )
        cand = api.candidate(name=f"Cand {side}", email=f"{side}@example.org")
        application = api.application(
            job=job, candidate=cand, source_id=source["id"], cover_letter=f"letter {side}"
        )
        blob = store_cv(app, f"cv of {side}")
        api.patch(f"/data/application/{application['id']}", json={"cv_blob_id": blob})
        interview = api.create(
            "interview",
            application_id=application["id"],
            scheduled_at=_when(3),
            duration_minutes=30,
            interviewer_id=api.user_id,
            send_invite=True,
        )
        public = api.create(
            "application_note",
            parent_kind="application",
            parent_id=application["id"],
            body=f"public note {side}",
        )
        sides[side] = {
            "job": job,
            "candidate": cand,
            "application": application,
            "interview": interview,
            "note": public,
            "blob": blob,
        }
    private = api.create(
        "application_note",
        parent_kind="application",
        parent_id=sides["mine"]["application"]["id"],
        body="private note of the admin",
        private=True,
    )
    with app.app_context():
        messages = {
            m.application_id: m.id
            for m in db.session.scalars(select(OutboxMessage).where(OutboxMessage.ics.is_not(None)))
        }
    for side in sides.values():
        side["message"] = messages[side["application"]["id"]]
    return {
        "api": api,
        "admin": admin,
        "recruiter": recruiter,
        "iv": iv,
        "source": source,
        "private": private,
        "mine": sides["mine"],
        "theirs": sides["theirs"],
        "profile": profile,
        "draft": api.job(title="Draft job", slug="draft-job"),
    }
