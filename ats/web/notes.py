"""Notes on candidates, applications and jobs: add, edit inline, pin, delete.

Other pages show a parent's notes with ``notes_for()`` and
``{% include "notes/_list.html" %}`` (the template states its contract). Every
read and write goes through ``records``, so a private note is its author's
alone here exactly as in the API. Each action answers HTMX with a fragment
(the refreshed list, or the one note) and a plain form post with a 303 back
to the page it came from, so the notes work without JavaScript too.

Who may do what, beyond the role rules of the services: only the author edits
a note (it is shown under their name); the author or an admin deletes it;
anyone who sees a note may pin or unpin it (pinning is shared curation).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
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
    url_for,
)
from flask_login import login_required
from flask_wtf import FlaskForm
from sqlalchemy import select

from .. import fields as F
from ..errors import NotFound
from ..extensions import db
from ..models import User
from ..services import records, rules
from ..services.auth import Actor
from ..services.markdown import render_markdown
from .access import actor, is_htmx, render
from .forms import form_values, model_form, save

bp = Blueprint("notes", __name__, url_prefix="/notes")

NOTE = F.APPLICATION_NOTE
PARENTS: dict[str, F.ModelDef] = {
    "candidate": F.CANDIDATE,
    "application": F.APPLICATION,
    "job": F.JOB,
}
ADD_FIELDS = ["body", "pinned", "private"]
EDIT_FIELDS = ["body", "private"]


def register(app: Flask) -> None:
    app.add_template_filter(render_markdown, "markdown")
    app.add_template_global(add_form, "note_add_form")
    app.add_template_global(current_page, "notes_page_url")


# --- reading ------------------------------------------------------------------


@dataclass
class NoteView:
    """A note as the list shows it: the record, its author's name, what the viewer may do."""

    note: Any
    author: str
    mine: bool
    can_delete: bool

    @property
    def id(self) -> str:
        return self.note.id

    @property
    def parent_kind(self) -> str:
        return self.note.parent_kind

    @property
    def parent_id(self) -> str:
        return self.note.parent_id

    @property
    def body(self) -> str:
        return self.note.body

    @property
    def pinned(self) -> bool:
        return self.note.pinned

    @property
    def private(self) -> bool:
        return self.note.private

    @property
    def created_at(self) -> datetime:
        return self.note.created_at

    @property
    def updated_at(self) -> datetime:
        return self.note.updated_at


def _views(notes: list[Any], me: Actor) -> list[NoteView]:
    """Wrap notes with their authors' names: one query for all of them."""
    author_ids = {n.created_by for n in notes if n.created_by}
    names: dict[str, str] = {}
    if author_ids:
        rows = db.session.execute(
            select(User.id, User.name, User.email).where(User.id.in_(author_ids))
        )
        names = {uid: name or email for uid, name, email in rows}
    return [
        NoteView(
            note=n,
            author=names.get(n.created_by or "", "a former user"),
            mine=rules.note_editable_by(n, me),
            can_delete=rules.note_removable_by(n, me),
        )
        for n in notes
    ]


def notes_for(parent_kind: str, parent_id: str, me: Actor) -> list[NoteView]:
    """The notes on one object that ``me`` may see: pinned first, then newest.

    Two queries whatever the number of notes (the notes, their authors).
    """
    cls = records.model_class(NOTE)
    notes = db.session.scalars(
        select(cls)
        .where(
            cls.parent_kind == parent_kind,
            cls.parent_id == parent_id,
            cls.is_archived.is_(False),
            records.visible(NOTE, me),
        )
        .order_by(cls.pinned.desc(), cls.created_at.desc(), cls.id.desc())
    ).all()
    return _views(list(notes), me)


def _view(note: Any, me: Actor) -> NoteView:
    return _views([note], me)[0]


# --- where to go back to ---------------------------------------------------------


def safe_next(target: str | None, default: str) -> str:
    """A same-site path (``/x?y``) or ``default``: never an open redirect."""
    if target and target.startswith("/") and not target.startswith("//"):
        parts = urlsplit(target)
        if (
            not parts.scheme
            and not parts.netloc
            and "\\" not in target
            and not any(ord(c) < 32 or ord(c) == 127 for c in target)
        ):
            return target
    return default


def current_page() -> str:
    """The page the browser shows: where a no-JS note form comes back to.

    For an HTMX request that is the page the fragment lands on (``HX-Current-URL``),
    not the fragment's own URL.
    """
    if is_htmx():
        parts = urlsplit(request.headers.get("HX-Current-URL", ""))
        if parts.netloc in ("", request.host):
            page = parts.path + (f"?{parts.query}" if parts.query else "")
            return safe_next(page, url_for("dashboard.index"))
        return url_for("dashboard.index")
    query = request.query_string.decode("utf-8", "replace")
    return request.path + (f"?{query}" if query else "")


def parent_url(parent_kind: str, parent_id: str) -> str:
    if parent_kind == "candidate":
        return url_for("candidates.profile", candidate_id=parent_id)
    if parent_kind == "application":
        return url_for("applications.detail", app_id=parent_id)
    return url_for("jobs.board", job_id=parent_id)


def _next_for(note_or_kind: Any, parent_id: str | None = None) -> str:
    if isinstance(note_or_kind, str):
        default = parent_url(note_or_kind, parent_id or "")
    else:
        default = parent_url(note_or_kind.parent_kind, note_or_kind.parent_id)
    return safe_next(request.values.get("next"), default)


# --- forms ------------------------------------------------------------------------


def add_form(parent_id: str, bind: bool = False) -> FlaskForm:
    """The add form of one parent's list.

    Field ids carry the parent, so two lists can share a page.
    """
    kwargs: dict[str, Any] = {} if bind else {"formdata": None}
    form = model_form(NOTE, ADD_FIELDS, prefix=f"note-{parent_id}", **kwargs)
    form.body.label.text = "New note"
    form.pinned.label.text = "Pin"
    return form


def edit_form(note: Any = None, note_id: str = "", bind: bool = False) -> FlaskForm:
    kwargs: dict[str, Any] = {} if bind else {"formdata": None}
    form = model_form(NOTE, EDIT_FIELDS, obj=note, prefix=f"edit-{note_id or note.id}", **kwargs)
    form.body.label.text = "Note"
    return form


def _list_fragment(parent_kind: str, parent_id: str, me: Actor, **context: Any) -> Any:
    context.setdefault("note_form", add_form(parent_id))
    return render_template(
        "notes/_list.html",
        parent_kind=parent_kind,
        parent_id=parent_id,
        notes=notes_for(parent_kind, parent_id, me),
        **context,
    )


def _get_note(note_id: str, me: Actor) -> Any:
    try:
        return records.get(NOTE, note_id, me)
    except NotFound:
        abort(404)


def _parent(parent_kind: str, parent_id: str, me: Actor) -> Any:
    if parent_kind not in PARENTS:
        abort(400, "Notes belong to a candidate, an application or a job.")
    try:
        return records.get(PARENTS[parent_kind], parent_id, me)
    except NotFound:
        abort(404)


def _parent_label(parent_kind: str, parent: Any) -> str:
    if parent_kind == "job":
        return parent.title
    if parent_kind == "candidate":
        return parent.name
    return "this application"


# --- views ------------------------------------------------------------------------


@bp.post("")
@login_required
def create() -> Any:
    """Add a note; HTMX gets the refreshed list, a plain post a 303 back."""
    me = actor()
    if not me.allows("application_note", "create"):
        abort(403)
    parent_kind = request.form.get("parent_kind", "")
    parent_id = request.form.get("parent_id", "")
    parent = _parent(parent_kind, parent_id, me)
    next_url = _next_for(parent_kind, parent_id)
    form = add_form(parent_id, bind=True)
    values, errors = form_values(NOTE, form, ADD_FIELDS)
    created = save(
        form,
        errors,
        lambda: records.create(
            NOTE, {**values, "parent_kind": parent_kind, "parent_id": parent_id}, me
        ),
    )
    if created is None:
        if is_htmx():
            # 200: htmx swaps only successful answers; the errors are in the fragment
            return _list_fragment(parent_kind, parent_id, me, note_form=form, notes_next=next_url)
        return render(
            "notes/new.html",
            note_form=form,
            parent_kind=parent_kind,
            parent_id=parent_id,
            parent_label=_parent_label(parent_kind, parent),
            notes_next=next_url,
            status=400,
        )
    if is_htmx():
        return _list_fragment(parent_kind, parent_id, me, notes_next=next_url)
    flash("Note added.", "success")
    return redirect(next_url, code=303)


@bp.get("/<note_id>")
@login_required
def show(note_id: str) -> Any:
    """One note: a page of its own, or (HTMX) the note element, e.g. to cancel an edit."""
    me = actor()
    note = _get_note(note_id, me)
    return render(
        "notes/show.html",
        partial="notes/_note.html",
        item=_view(note, me),
        notes_next=_next_for(note),
        parent_href=parent_url(note.parent_kind, note.parent_id),
    )


@bp.route("/<note_id>/edit", methods=["GET", "POST"])
@login_required
def edit(note_id: str) -> Any:
    """Edit in place (HTMX swaps the note for the form and back) or on a page of its own."""
    me = actor()
    note = _get_note(note_id, me)
    if not rules.note_editable_by(note, me) or not me.allows("application_note", "update"):
        abort(403)
    next_url = _next_for(note)
    context = {
        "item": _view(note, me),
        "notes_next": next_url,
        "parent_href": parent_url(note.parent_kind, note.parent_id),
    }
    if request.method == "GET":
        return render(
            "notes/edit.html", partial="notes/_edit.html", form=edit_form(note), **context
        )
    form = edit_form(note_id=note.id, bind=True)
    values, errors = form_values(NOTE, form, EDIT_FIELDS, mode="patch")
    updated = save(form, errors, lambda: records.update(NOTE, note.id, values, me))
    if updated is None:
        # HTMX: 200, so that htmx swaps the form with its errors in
        return render(
            "notes/edit.html",
            partial="notes/_edit.html",
            form=form,
            status=200 if is_htmx() else 400,
            **context,
        )
    if is_htmx():
        return render_template("notes/_note.html", item=_view(updated, me), notes_next=next_url)
    flash("Note saved.", "success")
    return redirect(next_url, code=303)


@bp.post("/<note_id>/pin")
@login_required
def pin(note_id: str) -> Any:
    """Pin (``pinned=1``) or unpin (``pinned=0``); the list is re-ordered."""
    me = actor()
    note = _get_note(note_id, me)
    if not me.allows("application_note", "update"):
        abort(403)
    pinned = request.form.get("pinned") == "1"
    records.update(NOTE, note.id, {"pinned": pinned}, me)
    next_url = _next_for(note)
    if is_htmx():
        return _list_fragment(note.parent_kind, note.parent_id, me, notes_next=next_url)
    flash("Note pinned." if pinned else "Note unpinned.", "success")
    return redirect(next_url, code=303)


@bp.route("/<note_id>/delete", methods=["GET", "POST"])
@login_required
def delete(note_id: str) -> Any:
    """GET asks for confirmation (the no-JS path; HTMX asks with ``hx-confirm``); POST deletes."""
    me = actor()
    note = _get_note(note_id, me)
    view = _view(note, me)
    if not view.can_delete or not me.allows("application_note", "delete"):
        abort(403)
    next_url = _next_for(note)
    if request.method == "GET":
        return render(
            "notes/delete.html",
            item=view,
            notes_next=next_url,
            parent_href=parent_url(note.parent_kind, note.parent_id),
        )
    parent_kind, parent_id = note.parent_kind, note.parent_id
    records.remove(NOTE, note.id, me, cascade=False)
    if is_htmx():
        return _list_fragment(parent_kind, parent_id, me, notes_next=next_url)
    flash("Note deleted.", "success")
    return redirect(next_url, code=303)
