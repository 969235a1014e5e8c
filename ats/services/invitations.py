"""Interview invitations: iCalendar e-mails (RFC 5545/5546) when interviews change.

An interview with ``send_invite`` and a time still ahead is *live*. At the
commit of any transaction that wrote interviews, each one's state before the
transaction is compared with its state now:

- it became live (created, ``send_invite`` switched on, un-cancelled), or its
  time, duration, location, meeting link or interviewers changed while live:
  a ``METHOD:REQUEST`` to the candidate and every interviewer (an update raises
  ``SEQUENCE``; interviewers taken off get a ``CANCEL``);
- its status became ``cancelled`` while live and invited, or it was deleted
  while live and invited: a ``METHOD:CANCEL`` to everyone.

One outbox message per recipient, each in the recipient's language (the job's)
and time zone (an interviewer's own setting; the candidate sees the lead
interviewer's zone), all sharing the interview's ``UID`` (``<id>@ats``), so a
calendar updates or removes the one entry it has.

How changes are seen: the services write interviews with Core statements as
well as ORM flushes, so the hook sits below both, on the engine. Before an
``UPDATE`` or ``DELETE`` of ``interview`` the rows it matches are read (the
state before); after an ``INSERT`` the new ids are noted. The notes live in the
session's ``info`` for the transaction on that connection; the session's
``before_commit`` then reads the rows as they are and adds the outbox rows,
which commit in the same transaction. A savepoint rolled back leaves nothing to
compare, so it sends nothing; a transaction rolled back forgets its notes.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.headerregistry import Address
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_date, format_time
from icalendar import Calendar, Event, vCalAddress, vText
from sqlalchemy import event, exists, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from ..models import Candidate, Interview, Job, OutboxMessage, User, utcnow
from . import mail

log = logging.getLogger(__name__)

ACTIVE = ("scheduled", "rescheduled")
WATCHED = ("scheduled_at", "duration_minutes", "location", "meeting_url")
DEFAULT_DURATION = 60  # minutes, when an interview has none
PRODID = "-//ATS//Interview invitations//EN"
UID_DOMAIN = "ats"

_CHANGES = "ats_interview_changes"  # session.info: {interview id: row before, or None if new}
_SINK = "ats_interview_sink"  # connection.info: the session.info of its transaction
_LINKED = "ats_interview_linked"  # session.info: the connection.info it linked
_INTERNAL = "ats_invitations"  # execution option: our own statements, not tracked

_table = Interview.__table__


# --- noticing changes -------------------------------------------------------------


def _on_interview(elem: Any, execution_options: Any) -> bool:
    if not getattr(elem, "is_dml", False) or execution_options.get(_INTERNAL):
        return False
    table = getattr(elem, "table", None)
    return getattr(table, "name", None) == _table.name


@event.listens_for(Engine, "before_execute")
def _before_execute(
    conn: Any, elem: Any, multiparams: Any, params: Any, execution_options: Any
) -> None:
    """Before an UPDATE or DELETE of interviews: keep the rows it will change."""
    if not _on_interview(elem, execution_options) or elem.is_insert:
        return
    sink = conn.info.get(_SINK)
    if sink is None:
        return
    changes = sink.setdefault(_CHANGES, {})
    stmt = select(_table).execution_options(**{_INTERNAL: True})
    if elem.whereclause is not None:
        stmt = stmt.where(elem.whereclause)
    for p in multiparams or [params]:
        for row in conn.execute(stmt, p or {}).mappings():
            changes.setdefault(row["id"], dict(row))  # the first state in the transaction


@event.listens_for(Engine, "after_execute")
def _after_execute(
    conn: Any, elem: Any, multiparams: Any, params: Any, execution_options: Any, result: Any
) -> None:
    """After an INSERT of interviews: note the new ids (nothing before them)."""
    if not _on_interview(elem, execution_options) or not elem.is_insert:
        return
    sink = conn.info.get(_SINK)
    if sink is None:
        return
    changes = sink.setdefault(_CHANGES, {})
    for p in getattr(result.context, "compiled_parameters", None) or []:
        if p.get("id"):
            changes.setdefault(p["id"], None)


@event.listens_for(Session, "after_begin")
def _link(session: Session, _transaction: Any, connection: Any) -> None:
    info = connection.info
    info[_SINK] = session.info
    session.info[_LINKED] = info


@event.listens_for(Session, "after_transaction_end")
def _unlink(session: Session, transaction: Any) -> None:
    if transaction.parent is not None:
        return  # a savepoint or subtransaction: the transaction goes on
    info = session.info.pop(_LINKED, None)
    if info is not None and info.get(_SINK) is session.info:
        del info[_SINK]
    session.info.pop(_CHANGES, None)


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    settle(session)


def settle(session: Session) -> None:
    """Queue the messages for the interview changes so far, now rather than at
    commit: for a caller that next removes what the outbox holds (the eraser),
    while the invitations that went out can still be seen."""
    pending = (*session.new, *session.dirty, *session.deleted)
    if any(isinstance(obj, Interview) for obj in pending):
        session.flush()  # ORM changes not written yet: write them, so we see them
    changes = session.info.pop(_CHANGES, None)
    if changes:
        _process(session, changes)


# --- deciding -------------------------------------------------------------------


def _end(row: dict[str, Any]) -> datetime:
    return row["scheduled_at"] + timedelta(minutes=row["duration_minutes"] or DEFAULT_DURATION)


def is_live(row: dict[str, Any] | None, now: datetime) -> bool:
    """Whether invitations are on for this state: asked for, timed, active, ahead."""
    return bool(
        row is not None
        and row["send_invite"]
        and row["scheduled_at"] is not None
        and row["status"] in ACTIVE
        and _end(row) > now
    )


def attendee_ids(row: dict[str, Any]) -> set[str]:
    """``"candidate"`` and the user ids of the lead and the panel."""
    ids = {"candidate"}
    if row.get("interviewer_id"):
        ids.add(row["interviewer_id"])
    ids.update(row.get("interviewer_ids") or [])
    return ids


@dataclass(frozen=True)
class Action:
    kind: str  # mail template kind
    method: str  # REQUEST or CANCEL
    row: dict[str, Any]  # the state the message describes
    recipients: frozenset[str]  # attendee ids to write to
    everyone: frozenset[str]  # attendee ids the calendar lists


def decide(
    before: dict[str, Any] | None, after: dict[str, Any] | None, invited: bool, now: datetime
) -> list[Action]:
    """What to send for one interview's change. ``invited``: a REQUEST went out before."""
    if after is None:  # deleted
        if before is not None and invited and is_live(before, now):
            everyone = frozenset(attendee_ids(before))
            return [Action("interview_cancel", "CANCEL", before, everyone, everyone)]
        return []
    if is_live(after, now):
        was_live = is_live(before, now)
        changed = before is None or not was_live or any(before[k] != after[k] for k in WATCHED)
        people = frozenset(attendee_ids(after))
        old_people = frozenset(attendee_ids(before)) if before is not None else people
        if not changed and people == old_people:
            return []
        kind = "interview_update" if invited else "interview_invite"
        actions = [Action(kind, "REQUEST", after, people, people)]
        removed = old_people - people
        if invited and was_live and removed:
            actions.append(Action("interview_cancel", "CANCEL", after, removed, removed))
        return actions
    if (
        before is not None
        and invited
        and is_live(before, now)
        and after["status"] == "cancelled"
        and after["send_invite"]
    ):
        everyone = frozenset(attendee_ids(before) | attendee_ids(after))
        return [Action("interview_cancel", "CANCEL", after, everyone, everyone)]
    return []


# --- writing the messages ---------------------------------------------------------


def _internal(stmt: Any) -> Any:
    return stmt.execution_options(**{_INTERNAL: True})


def _process(session: Session, changes: dict[str, dict[str, Any] | None]) -> None:
    now = utcnow()
    ids = list(changes)
    after = {
        row["id"]: dict(row)
        for row in session.execute(_internal(select(_table).where(_table.c.id.in_(ids))))
        .mappings()
        .all()
    }
    for interview_id in ids:
        before, current = changes[interview_id], after.get(interview_id)
        if not (is_live(before, now) or is_live(current, now)):
            continue  # every rule needs a live state; spares a query per past interview
        invited = bool(
            session.scalar(
                select(
                    exists().where(
                        OutboxMessage.interview_id == interview_id,
                        OutboxMessage.ics_method.is_not(None),
                    )
                )
            )
        )
        actions = decide(before, current, invited, now)
        if not actions:
            continue
        row = current if current is not None else before
        if row is None:
            continue
        sequence = (row["ics_sequence"] or 0) + (1 if invited else 0)
        queued = 0
        for action in actions:
            queued += _queue(session, action, sequence, now)
        if queued and current is not None and sequence != current["ics_sequence"]:
            session.execute(
                _internal(
                    _table.update().where(_table.c.id == interview_id).values(ics_sequence=sequence)
                )
            )
            obj = session.identity_map.get(identity_key(Interview, interview_id))
            if obj is not None:
                set_committed_value(obj, "ics_sequence", sequence)


@dataclass(frozen=True)
class Person:
    key: str  # "candidate" or a user id
    name: str
    email: str | None
    zone: ZoneInfo | None


def _zone(name: str | None) -> ZoneInfo | None:
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _people(session: Session, row: dict[str, Any], keys: Iterable[str]) -> dict[str, Person]:
    """Everyone an action concerns who can still be reached, by attendee id.

    Read with plain SELECTs (not the identity map): a candidate erased in this
    transaction is gone, and is written to no more.
    """
    people: dict[str, Person] = {}
    user_ids = [k for k in keys if k != "candidate"]
    if row.get("created_by"):
        user_ids.append(row["created_by"])
    users = User.__table__
    found = {
        u.id: u
        for u in session.execute(
            select(users.c.id, users.c.name, users.c.email, users.c.timezone, users.c.active).where(
                users.c.id.in_(user_ids)
            )
        )
    }
    for key in keys:
        if key == "candidate":
            continue
        u = found.get(key)
        if u is not None and u.active:
            people[key] = Person(key, u.name or u.email, u.email, _zone(u.timezone))
    if "candidate" in keys and row.get("candidate_id"):
        cands = Candidate.__table__
        c = session.execute(
            select(cands.c.name, cands.c.email).where(cands.c.id == row["candidate_id"])
        ).first()
        if c is not None:
            # the candidate sees the organiser's zone: the lead's, else the scheduler's
            lead = found.get(row.get("interviewer_id") or "")
            creator = found.get(row.get("created_by") or "")
            zone = _zone(lead.timezone if lead else None) or _zone(
                creator.timezone if creator else None
            )
            people["candidate"] = Person("candidate", c.name, c.email, zone)
    return people


LABELS = {
    "en": {
        "when": "When",
        "duration": "Duration",
        "where": "Where",
        "link": "Link",
        "with": "With",
        "minutes": "{n} minutes",
    },
    "de": {
        "when": "Wann",
        "duration": "Dauer",
        "where": "Wo",
        "link": "Link",
        "with": "Mit",
        "minutes": "{n} Minuten",
    },
}


def format_when(start: datetime, zone: ZoneInfo | None, language: str) -> str:
    """``Tuesday, 1 December 2026, 11:00 (Europe/Berlin)`` in the recipient's language."""
    zone = zone or ZoneInfo("UTC")
    local = start.replace(tzinfo=UTC).astimezone(zone)
    return (
        f"{format_date(local, 'full', locale=language)}, "
        f"{format_time(local, 'HH:mm', locale=language)} ({zone.key})"
    )


def uid(interview_id: str) -> str:
    """The calendar's key for the interview: the same in every message about it."""
    return f"{interview_id}@{UID_DOMAIN}"


def calendar(
    row: dict[str, Any],
    method: str,
    sequence: int,
    organizer: Any,
    attendees: list[Person],
    summary: str,
    now: datetime,
) -> str:
    """One VCALENDAR with one VEVENT (times in UTC), as text."""
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", method)
    ev = Event()
    ev.add("uid", uid(row["id"]))
    ev.add("sequence", sequence)
    ev.add("dtstamp", now.replace(tzinfo=UTC))
    ev.add("dtstart", row["scheduled_at"].replace(tzinfo=UTC))
    ev.add("dtend", _end(row).replace(tzinfo=UTC))
    ev.add("summary", summary)
    ev.add("status", "CANCELLED" if method == "CANCEL" else "CONFIRMED")
    if row.get("location"):
        ev.add("location", row["location"])
    description = []
    if row.get("meeting_url"):
        ev.add("url", row["meeting_url"])
        description.append(row["meeting_url"])
    if row.get("location"):
        description.append(row["location"])
    if description:
        ev.add("description", "\n".join(description))
    org = vCalAddress(f"mailto:{organizer.addr_spec}")
    org.params["CN"] = vText(organizer.display_name or organizer.addr_spec)
    ev.add("organizer", org)
    for person in attendees:
        attendee = vCalAddress(f"mailto:{person.email}")
        attendee.params["CN"] = vText(person.name)
        attendee.params["ROLE"] = vText("REQ-PARTICIPANT")
        attendee.params["PARTSTAT"] = vText("NEEDS-ACTION")
        attendee.params["RSVP"] = vText("FALSE")  # answers would reach no person
        ev.add("attendee", attendee)
    cal.add_component(ev)
    return cal.to_ical().decode("utf-8")


def _organizer(session: Session) -> Address:
    """The from-address; a bad ``ATS_MAIL_FROM`` (the outbox page says so) or no
    app context falls back to the default, so a change is never refused for it."""
    try:
        return mail.mail_from(session)
    except (ValueError, RuntimeError):
        return Address(display_name=mail.company_name(session), addr_spec=mail.DEFAULT_FROM)


def _queue(session: Session, action: Action, sequence: int, now: datetime) -> int:
    """Add one outbox row per reachable recipient; how many."""
    row = action.row
    people = _people(session, row, action.everyone)
    job = (
        session.execute(
            select(Job.__table__.c.title, Job.__table__.c.language).where(
                Job.__table__.c.id == row.get("job_id")
            )
        ).first()
        if row.get("job_id")
        else None
    )
    job_title = job.title if job else ""
    language = mail.language_of(job.language if job else None)
    company = mail.company_name(session)
    organizer = _organizer(session)
    attendees = _unique([people[k] for k in sorted(action.everyone) if k in people])
    candidate = people.get("candidate")
    labels = LABELS[language]
    title = row.get("title") or "Interview"
    duration = labels["minutes"].format(n=row["duration_minutes"] or DEFAULT_DURATION)
    seen: set[str] = set()
    count = 0
    for key in sorted(action.recipients):
        person = people.get(key)
        if person is None or not person.email or person.email.lower() in seen:
            continue
        seen.add(person.email.lower())
        when = format_when(row["scheduled_at"], person.zone, language)
        others = ", ".join(p.name for p in attendees if p.key != key and p.name)
        details = [f"{labels['when']}: {when}", f"{labels['duration']}: {duration}"]
        if row.get("location"):
            details.append(f"{labels['where']}: {row['location']}")
        if row.get("meeting_url"):
            details.append(f"{labels['link']}: {row['meeting_url']}")
        if others:
            details.append(f"{labels['with']}: {others}")
        values = {
            "candidate_name": candidate.name if candidate else "",
            "job_title": job_title,
            "company_name": company,
            "recipient_name": person.name,
            "interview_time": when,
            "interview_duration": duration,
            "interview_location": row.get("location") or "—",
            "meeting_url": row.get("meeting_url") or "—",
            "participants": others or "—",
            "interview_details": "\n".join(details),
        }
        if key == "candidate":
            summary = f"{title}: {job_title} ({company})" if job_title else f"{title} ({company})"
        else:
            who = candidate.name if candidate else job_title
            summary = f"{title}: {who} ({job_title})" if who and job_title else f"{title}: {who}"
        ics = calendar(row, action.method, sequence, organizer, attendees, summary, now)
        subject, body = mail.compose(action.kind, language, values, session)
        session.add(
            mail.new_message(
                action.kind,
                person.email,
                subject,
                body,
                to_name=person.name,
                ics=ics,
                ics_method=action.method,
                # a candidate erased in this transaction leaves no trace here
                candidate_id=row.get("candidate_id") if candidate else None,
                application_id=row.get("application_id"),
                interview_id=row["id"],
            )
        )
        count += 1
    if count:
        log.info("interview %s: %s to %d recipient(s)", row["id"], action.method, count)
    return count


def _unique(people: list[Person]) -> list[Person]:
    """One attendee per address (a candidate who is also a user is listed once)."""
    seen: set[str] = set()
    result = []
    for p in people:
        if p.email and p.email.lower() not in seen:
            seen.add(p.email.lower())
            result.append(p)
    return result
