"""E-mail: message templates, the outbox, and delivery over SMTP.

Every message is first written to ``outbox_message`` in the transaction that
causes it (``queue``), so an application, an interview change or a click
commits together with its e-mail or not at all, and nothing is lost while the
SMTP server is down or not configured. The worker's periodic hook
``deliver_due`` sends what is due:

- **Claims are leases**, as in ``tasks``: a worker marks one message
  ``sending`` with ``locked_by``/``locked_until`` in a short write transaction
  (``BEGIN IMMEDIATE`` on SQLite, ``FOR UPDATE SKIP LOCKED`` on PostgreSQL),
  sends it, and marks it ``sent`` only while it still holds the lease. Two
  workers never hold one message at once, so each is sent once. Only a crash
  (or an SMTP session longer than the lease) between the server's "250 OK" and
  the ``sent`` mark sends a message twice; it then carries the same
  ``Message-ID`` (``<msg id@from domain>``), so the copies are recognisable:
  delivery is at-least-once across crashes, exactly-once otherwise.
- **Failures** count an attempt and wait (1 min, 5 min, 30 min, 2 h, 6 h,
  12 h, 24 h) before the next; after ``MAX_ATTEMPTS`` the message is
  ``failed`` with its last error, and an admin can retry it. A recipient the
  server refuses for good (5xx) fails at once.
- ``ATS_SMTP_URL`` says where: ``smtp://`` (port 25) sends in the clear but
  upgrades with STARTTLS when the server offers it (opportunistic: the
  certificate is not checked); ``smtp+starttls://`` (port 587) requires
  STARTTLS and ``smtps://`` (port 465) is TLS from the start, both with the
  certificate checked against the system's CAs. A password is never sent over
  an unencrypted connection except to a loopback address.

Templates: each kind of message has built-in English and German wording with
``{placeholders}``; an admin's ``mail_template`` row overrides one. Templates
are plain text filled by ``str.format_map`` after a check that allows only the
kind's placeholder names (no attribute or index access, no format specs), so a
bad template is refused when it is saved, not when a message is sent.
"""

from __future__ import annotations

import ipaddress
import logging
import smtplib
import socket
import ssl
import string
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from email import policy as email_policy
from email.errors import MessageError
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Any
from urllib.parse import unquote, urlsplit

from flask import current_app, has_app_context
from sqlalchemy import select

from ..database import writing
from ..errors import Conflict, NotFound, ValidationFailed
from ..extensions import db
from ..ids import new_id
from ..models import (
    Application,
    Candidate,
    CompanyProfile,
    Job,
    MailTemplate,
    OutboxMessage,
    utcnow,
)
from . import tasks

log = logging.getLogger(__name__)

LANGUAGES = ("en", "de")
LANGUAGE_NAMES = {"en": "English", "de": "German"}
STATUSES = ("queued", "sending", "sent", "failed")
LEASE = timedelta(minutes=5)
SMTP_TIMEOUT = 30  # seconds per socket operation; far below the lease
BACKOFF = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=6),
    timedelta(hours=12),
    timedelta(hours=24),
)
MAX_ATTEMPTS = len(BACKOFF) + 1  # about two days of trying, then a person decides
BATCH = 100  # messages per worker tick, so slow mail never starves the task queue
DEFAULT_FROM = "ats@localhost"
SUBJECT_MAX = 400  # OutboxMessage.subject and MailTemplate.subject
BODY_MAX = 20000


# --- templates --------------------------------------------------------------------

CANDIDATE_PLACEHOLDERS = ("candidate_name", "job_title", "company_name")
INTERVIEW_PLACEHOLDERS = (
    *CANDIDATE_PLACEHOLDERS,
    "recipient_name",
    "interview_time",
    "interview_duration",
    "interview_location",
    "meeting_url",
    "participants",
    "interview_details",
)


@dataclass(frozen=True)
class Kind:
    label: str
    audience: str
    placeholders: tuple[str, ...]


KINDS: dict[str, Kind] = {
    "application_received": Kind(
        "Application received", "the candidate, after applying on the careers page",
        CANDIDATE_PLACEHOLDERS,
    ),
    "rejection": Kind(
        "Rejection", "the candidate, when a recruiter clicks “Send rejection e-mail”",
        CANDIDATE_PLACEHOLDERS,
    ),
    "interview_invite": Kind(
        "Interview invitation", "the candidate and every interviewer, with the calendar invite",
        INTERVIEW_PLACEHOLDERS,
    ),
    "interview_update": Kind(
        "Interview changed", "everyone invited, when the time, place or link changes",
        INTERVIEW_PLACEHOLDERS,
    ),
    "interview_cancel": Kind(
        "Interview cancelled", "everyone invited, when the interview is cancelled",
        INTERVIEW_PLACEHOLDERS,
    ),
}  # fmt: skip

PLACEHOLDER_HELP = {
    "candidate_name": "the candidate's name",
    "job_title": "the job's title",
    "company_name": "the company's display name",
    "recipient_name": "the name of the person this copy goes to",
    "interview_time": "date and time in the recipient's time zone",
    "interview_duration": "e.g. “60 minutes”",
    "interview_location": "the place, or “—”",
    "meeting_url": "the video link, or “—”",
    "participants": "everyone else in the interview",
    "interview_details": "time, duration, place, link and participants, one per line",
}

_EN_INTERVIEW_END = "The attached calendar invitation puts it in your calendar.\n"
_DE_INTERVIEW_END = (
    "Mit der angehängten Kalendereinladung tragen Sie den Termin in Ihren Kalender ein.\n"
)

DEFAULTS: dict[tuple[str, str], tuple[str, str]] = {
    ("application_received", "en"): (
        "Your application: {job_title}",
        "Hello {candidate_name},\n\n"
        "thank you for applying for the position {job_title} at {company_name}. "
        "We have received your application and will get back to you as soon as "
        "we have read it.\n\n"
        "Kind regards\n{company_name}\n",
    ),
    ("application_received", "de"): (
        "Ihre Bewerbung: {job_title}",
        "Hallo {candidate_name},\n\n"
        "vielen Dank für Ihre Bewerbung auf die Stelle „{job_title}“ bei {company_name}. "
        "Ihre Bewerbung ist bei uns eingegangen; wir melden uns, sobald wir sie "
        "gelesen haben.\n\n"
        "Mit freundlichen Grüßen\n{company_name}\n",
    ),
    ("rejection", "en"): (
        "Your application: {job_title}",
        "Hello {candidate_name},\n\n"
        "thank you for your interest in the position {job_title} at {company_name} "
        "and for the time you put into your application. After careful consideration "
        "we have decided not to continue with your application.\n\n"
        "We wish you all the best for your search.\n\n"
        "Kind regards\n{company_name}\n",
    ),
    ("rejection", "de"): (
        "Ihre Bewerbung: {job_title}",
        "Hallo {candidate_name},\n\n"
        "vielen Dank für Ihr Interesse an der Stelle „{job_title}“ bei {company_name} "
        "und für die Zeit, die Sie in Ihre Bewerbung gesteckt haben. Nach sorgfältiger "
        "Prüfung haben wir uns entschieden, Ihre Bewerbung nicht weiter zu "
        "berücksichtigen.\n\n"
        "Für Ihre weitere Suche wünschen wir Ihnen alles Gute.\n\n"
        "Mit freundlichen Grüßen\n{company_name}\n",
    ),
    ("interview_invite", "en"): (
        "Interview invitation: {job_title} at {company_name}",
        "Hello {recipient_name},\n\n"
        "you are invited to an interview for the position {job_title} at {company_name}.\n\n"
        "{interview_details}\n\n" + _EN_INTERVIEW_END,
    ),
    ("interview_invite", "de"): (
        "Einladung zum Gespräch: {job_title} bei {company_name}",
        "Hallo {recipient_name},\n\n"
        "hiermit laden wir Sie zu einem Gespräch über die Stelle „{job_title}“ bei "
        "{company_name} ein.\n\n"
        "{interview_details}\n\n" + _DE_INTERVIEW_END,
    ),
    ("interview_update", "en"): (
        "Interview changed: {job_title} at {company_name}",
        "Hello {recipient_name},\n\n"
        "the interview for the position {job_title} at {company_name} has changed. "
        "This is the new plan:\n\n"
        "{interview_details}\n\n"
        "The attached calendar invitation updates the entry in your calendar.\n",
    ),
    ("interview_update", "de"): (
        "Gespräch geändert: {job_title} bei {company_name}",
        "Hallo {recipient_name},\n\n"
        "das Gespräch über die Stelle „{job_title}“ bei {company_name} hat sich "
        "geändert. So ist es jetzt geplant:\n\n"
        "{interview_details}\n\n"
        "Die angehängte Kalendereinladung aktualisiert den Eintrag in Ihrem Kalender.\n",
    ),
    ("interview_cancel", "en"): (
        "Interview cancelled: {job_title} at {company_name}",
        "Hello {recipient_name},\n\n"
        "the interview for the position {job_title} at {company_name} on "
        "{interview_time} has been cancelled.\n\n"
        "The attached calendar message removes it from your calendar.\n",
    ),
    ("interview_cancel", "de"): (
        "Gespräch abgesagt: {job_title} bei {company_name}",
        "Hallo {recipient_name},\n\n"
        "das Gespräch über die Stelle „{job_title}“ bei {company_name} am "
        "{interview_time} wurde abgesagt.\n\n"
        "Die angehängte Kalendernachricht entfernt den Termin aus Ihrem Kalender.\n",
    ),
}

_FORMATTER = string.Formatter()


class TemplateError(ValueError):
    """A template that could not be filled; the message says how to fix it."""


def check_template(kind: str, text: str) -> None:
    """Refuse anything but the kind's own ``{placeholders}``; ``{{``/``}}`` are braces."""
    allowed = KINDS[kind].placeholders
    try:
        parts = list(_FORMATTER.parse(text))
    except ValueError:
        raise TemplateError("unbalanced { or }: write {{ or }} for a literal brace") from None
    for _literal, name, spec, conversion in parts:
        if name is None:
            continue
        if name == "" or name.isdigit():
            raise TemplateError("empty placeholder {}: write {{ or }} for a literal brace")
        if name not in allowed:
            raise TemplateError(
                f"unknown placeholder {{{name}}}; use one of "
                + ", ".join("{" + p + "}" for p in allowed)
            )
        if spec or conversion:
            raise TemplateError(f"write the placeholder as {{{name}}}, without : or !")


def fill(kind: str, text: str, values: Mapping[str, str]) -> str:
    """The template with its placeholders replaced; ``TemplateError`` if it is not valid."""
    check_template(kind, text)
    return text.format_map({name: str(values.get(name) or "") for name in KINDS[kind].placeholders})


def language_of(tag: str | None) -> str:
    """A job's BCP 47 language as one we have templates for (``de-AT`` → ``de``), else en."""
    base = (tag or "").split("-")[0].lower()
    return base if base in LANGUAGES else "en"


def template_for(kind: str, language: str, session: Any = None) -> tuple[str, str, bool]:
    """``(subject, body, customised)``: the admin's wording, else the built-in one."""
    row = (session or db.session).get(MailTemplate, (kind, language))
    if row is not None:
        return row.subject, row.body, True
    subject, body = DEFAULTS[(kind, language)]
    return subject, body, False


def compose(
    kind: str, language: str, values: Mapping[str, str], session: Any = None
) -> tuple[str, str]:
    """Subject and body for ``kind`` in ``language``, filled with ``values``.

    A stored template that no longer passes the check (edited in the database
    by hand) falls back to the built-in wording rather than losing the message.
    """
    language = language_of(language)
    subject, body, customised = template_for(kind, language, session)
    try:
        filled = fill(kind, subject, values), fill(kind, body, values)
    except TemplateError:
        if not customised:
            raise
        log.error("mail template %s/%s is not valid; using the built-in one", kind, language)
        subject, body = DEFAULTS[(kind, language)]
        filled = fill(kind, subject, values), fill(kind, body, values)
    return one_line(filled[0])[:SUBJECT_MAX], filled[1]


def one_line(text: str) -> str:
    """Header-safe: no line breaks (they would end the header), spaces collapsed."""
    return " ".join(text.split())


def save_template(kind: str, language: str, subject: str, body: str, user_id: str | None) -> None:
    """Store an admin's wording; ``ValidationFailed`` names each field at fault."""
    if kind not in KINDS or language not in LANGUAGES:
        raise NotFound(f"no mail template {kind}/{language}")
    errors: dict[str, str] = {}
    for name, text, limit in (("subject", subject, SUBJECT_MAX), ("body", body, BODY_MAX)):
        if not text.strip():
            errors[name] = "required"
        elif len(text) > limit:
            errors[name] = f"at most {limit} characters"
        elif "\x00" in text:
            errors[name] = "must not contain NUL characters"
        else:
            try:
                check_template(kind, text)
            except TemplateError as exc:
                errors[name] = str(exc)
    if not errors and ("\n" in subject.strip() or "\r" in subject):
        errors["subject"] = "must be one line"
    if errors:
        raise ValidationFailed(errors)
    with writing():
        row = db.session.get(MailTemplate, (kind, language))
        if row is None:
            row = MailTemplate(kind=kind, language=language)
            db.session.add(row)
        row.subject = subject.strip()
        row.body = body.replace("\r\n", "\n")
        row.updated_at = utcnow()
        row.updated_by = user_id


def reset_template(kind: str, language: str) -> None:
    """Back to the built-in wording."""
    with writing():
        row = db.session.get(MailTemplate, (kind, language))
        if row is not None:
            db.session.delete(row)


# --- the outbox -------------------------------------------------------------------


def company_name(session: Any = None) -> str:
    """The company's display name (else its name, else "ATS") for greetings and signatures."""
    row = (
        (session or db.session)
        .execute(select(CompanyProfile.display_name, CompanyProfile.name).limit(1))
        .first()
    )
    return (row[0] or row[1]) if row else "ATS"


def new_message(
    kind: str,
    to_email: str,
    subject: str,
    body: str,
    *,
    to_name: str | None = None,
    ics: str | None = None,
    ics_method: str | None = None,
    candidate_id: str | None = None,
    application_id: str | None = None,
    interview_id: str | None = None,
) -> OutboxMessage:
    """An unsaved outbox row (for session hooks that add it themselves)."""
    now = utcnow()
    return OutboxMessage(
        id=new_id("msg"),
        kind=kind,
        to_email=to_email,
        to_name=one_line(to_name)[:200] if to_name else None,
        subject=one_line(subject)[:SUBJECT_MAX],
        body=body,
        ics=ics,
        ics_method=ics_method,
        candidate_id=candidate_id,
        application_id=application_id,
        interview_id=interview_id,
        status="queued",
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )


def queue(kind: str, to_email: str, subject: str, body: str, **kw: Any) -> OutboxMessage:
    """Write a message to the outbox in the current write transaction (or a new one).

    It is sent after the transaction commits, by the worker; if the transaction
    fails, the message was never there.
    """
    message = new_message(kind, to_email, subject, body, **kw)
    with writing():
        db.session.add(message)
    return message


def _candidate_message(kind: str, application: Any, candidate: Any, job: Any) -> OutboxMessage:
    values = {
        "candidate_name": candidate.name,
        "job_title": job.title,
        "company_name": company_name(),
    }
    subject, body = compose(kind, language_of(job.language), values)
    return queue(
        kind,
        candidate.email,
        subject,
        body,
        to_name=candidate.name,
        candidate_id=candidate.id,
        application_id=application.id,
    )


def application_received(application: Any, candidate: Any, job: Any) -> OutboxMessage | None:
    """Confirm an application from the careers page, in the job's language."""
    if not candidate.email:
        return None
    return _candidate_message("application_received", application, candidate, job)


def rejection_sent(application_id: str) -> OutboxMessage | None:
    """The rejection e-mail already queued or sent for this application, if any."""
    return db.session.scalar(
        select(OutboxMessage)
        .where(OutboxMessage.application_id == application_id, OutboxMessage.kind == "rejection")
        .order_by(OutboxMessage.created_at.desc())
        .limit(1)
    )


def send_rejection(application_id: str) -> OutboxMessage:
    """Queue the rejection e-mail for a rejected application, once.

    ``Conflict`` when the application is not rejected, the candidate has no
    e-mail address, or the message was already queued (a double click).
    """
    with writing():
        # read inside the write transaction: what the decision rests on is current
        application = db.session.get(Application, application_id, populate_existing=True)
        if application is None:
            raise NotFound(f"no application {application_id}")
        if application.stage != "rejected":
            raise Conflict("move the application to “rejected” before sending the rejection")
        candidate = db.session.get(Candidate, application.candidate_id, populate_existing=True)
        if candidate is None or not candidate.email:
            raise Conflict("the candidate has no e-mail address")
        earlier = rejection_sent(application_id)
        if earlier is not None:
            raise Conflict(
                "a rejection e-mail was already queued on "
                + earlier.created_at.strftime("%d %b %Y, %H:%M UTC")
            )
        job = db.session.get(Job, application.job_id)
        return _candidate_message("rejection", application, candidate, job)


def outbox(status: str | None, page: int, per_page: int = 50) -> tuple[list[OutboxMessage], bool]:
    """Newest first, optionally one status; whether there are more pages."""
    stmt = select(OutboxMessage)
    if status:
        stmt = stmt.where(OutboxMessage.status == status)
    stmt = stmt.order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
    rows = list(db.session.scalars(stmt.offset((page - 1) * per_page).limit(per_page + 1)))
    return rows[:per_page], len(rows) > per_page


def retry(message_id: str) -> OutboxMessage:
    """Send a failed (or waiting) message at the next worker tick, with fresh attempts."""
    with writing():
        message = db.session.get(OutboxMessage, message_id)
        if message is None:
            raise NotFound(f"no message {message_id}")
        if message.status not in ("failed", "queued"):
            raise Conflict(f"this message is {message.status}; only failed or waiting ones retry")
        message.status = "queued"
        message.attempts = 0
        message.next_attempt_at = utcnow()
        message.locked_by = message.locked_until = None
    return message


# --- SMTP settings ----------------------------------------------------------------

SCHEMES = {"smtp": ("opportunistic", 25), "smtp+starttls": ("starttls", 587), "smtps": ("tls", 465)}


@dataclass(frozen=True)
class SmtpSettings:
    mode: str  # "opportunistic", "starttls" or "tls"
    host: str
    port: int
    username: str | None = None
    password: str | None = None

    def describe(self) -> str:
        """For people: where and how, never the password."""
        how = {
            "opportunistic": "STARTTLS when offered",
            "starttls": "STARTTLS required",
            "tls": "TLS",
        }[self.mode]
        who = f"{self.username}@" if self.username else ""
        return f"{who}{self.host}:{self.port} ({how})"


def parse_smtp_url(url: str) -> SmtpSettings:
    """``smtp://``, ``smtp+starttls://`` or ``smtps://`` ``[user:password@]host[:port]``."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"ATS_SMTP_URL is not a valid URL: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise ValueError("ATS_SMTP_URL must start with smtp://, smtp+starttls:// or smtps://")
    if not parts.hostname:
        raise ValueError("ATS_SMTP_URL names no host")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError("ATS_SMTP_URL takes no path or query: scheme://user:password@host:port")
    mode, default_port = SCHEMES[scheme]
    return SmtpSettings(
        mode=mode,
        host=parts.hostname,
        port=port or default_port,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
    )


def smtp_settings() -> SmtpSettings | None:
    """From ``ATS_SMTP_URL``; None when it is not set (messages wait in the outbox)."""
    url = current_app.config.get("SMTP_URL")
    return parse_smtp_url(url) if url else None


def mail_from(session: Any = None) -> Address:
    """``ATS_MAIL_FROM`` (``Name <address>`` or an address); the display name
    defaults to the company's. ``ValueError`` for something that is no address."""
    raw = (current_app.config.get("MAIL_FROM") or DEFAULT_FROM).strip()
    name, addr = parseaddr(raw)
    try:
        if "@" not in addr or "\n" in raw or "\r" in raw:
            raise ValueError("no address")
        if ("<" in raw or ">" in raw) and not (
            raw.count("<") == raw.count(">") == 1 and raw.endswith(">")
        ):
            raise ValueError("write Name <address>")
        parsed = Address(addr_spec=addr)
    except (ValueError, MessageError):
        raise ValueError(f"ATS_MAIL_FROM is not an e-mail address: {raw!r}") from None
    if not parsed.username or not parsed.domain:
        raise ValueError(f"ATS_MAIL_FROM is not an e-mail address: {raw!r}")
    display = one_line(name or company_name(session))
    return Address(display_name=display, username=parsed.username, domain=parsed.domain)


def delivery_problem() -> str | None:
    """Why nothing can be sent right now, for the admin page (None: all set)."""
    try:
        if smtp_settings() is None:
            return "ATS_SMTP_URL is not set: messages wait here until it is."
        mail_from()
    except ValueError as exc:
        return str(exc)
    return None


# --- building and sending ---------------------------------------------------------


# Non-ASCII text goes quoted-printable or base64, never raw 8-bit: it passes
# every server, with or without 8BITMIME.
SEVEN_BIT = email_policy.default.clone(cte_type="7bit")


def build(message: OutboxMessage, sender: Address) -> EmailMessage:
    """The MIME message: plain text, and for invitations the iCalendar both as a
    ``text/calendar; method=...`` alternative (what calendar clients act on) and
    as an ``invite.ics`` attachment (for everyone else)."""
    email = EmailMessage(policy=SEVEN_BIT)
    email["From"] = sender
    email["To"] = Address(display_name=message.to_name or "", addr_spec=message.to_email)
    email["Subject"] = message.subject
    email["Date"] = format_datetime(datetime.now().astimezone())
    email["Message-ID"] = f"<{message.id}@{sender.domain}>"
    email["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies, please
    email.set_content(message.body)
    if message.ics:
        method = message.ics_method or "REQUEST"
        email.add_alternative(message.ics, subtype="calendar", params={"method": method})
        email.add_attachment(
            message.ics.encode("utf-8"),
            maintype="application",
            subtype="ics",
            filename="invite.ics",
        )
    return email


class PermanentFailure(Exception):
    """The server refused this message for good (5xx): no point in retrying."""


class ConnectionFailure(Exception):
    """No usable SMTP session: end this round, the others wait too."""


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Sender:
    """One SMTP session for a round of deliveries, opened when first needed."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self.smtp: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        verified = ssl.create_default_context()
        smtp: smtplib.SMTP
        if s.mode == "tls":
            smtp = smtplib.SMTP_SSL(s.host, s.port, timeout=SMTP_TIMEOUT, context=verified)
        else:
            smtp = smtplib.SMTP(s.host, s.port, timeout=SMTP_TIMEOUT)
        try:
            encrypted = s.mode == "tls"
            if not encrypted:
                smtp.ehlo()
                if smtp.has_extn("starttls"):
                    if s.mode == "starttls":
                        context = verified
                    else:  # opportunistic: better than clear text, as MTAs do (RFC 7435)
                        context = ssl.create_default_context()
                        context.check_hostname = False
                        context.verify_mode = ssl.CERT_NONE
                    smtp.starttls(context=context)
                    smtp.ehlo()
                    encrypted = True
                elif s.mode == "starttls":
                    raise ConnectionFailure(f"{s.host}:{s.port} does not offer STARTTLS")
            if s.username:
                if not encrypted and not _is_loopback(s.host):
                    raise ConnectionFailure(
                        "refusing to send the SMTP password unencrypted: the server offers "
                        "no STARTTLS; use smtp+starttls:// or smtps://"
                    )
                smtp.login(s.username, s.password or "")
        except BaseException:
            smtp.close()
            raise
        return smtp

    def send(self, email: EmailMessage, envelope_from: str, to: str) -> None:
        """Hand one message to the server; raises ``PermanentFailure``,
        ``ConnectionFailure`` or another exception for a temporary problem."""
        if self.smtp is None:
            try:
                self.smtp = self._connect()
            except ConnectionFailure:
                raise
            except smtplib.SMTPResponseException as exc:  # e.g. the login refused
                raise ConnectionFailure(f"{exc.smtp_code} {_text(exc.smtp_error)}") from None
            except (OSError, smtplib.SMTPException) as exc:  # refused, timeout, TLS
                raise ConnectionFailure(f"{type(exc).__name__}: {exc}") from None
        try:
            self.smtp.send_message(email, from_addr=envelope_from, to_addrs=[to])
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()))
            if code >= 500:
                raise PermanentFailure(f"recipient refused: {code} {_text(text)}") from None
            raise RuntimeError(f"recipient deferred: {code} {_text(text)}") from None
        except smtplib.SMTPSenderRefused as exc:  # the from-address: every message alike
            self._reset()
            raise ConnectionFailure(
                f"sender refused: {exc.smtp_code} {_text(exc.smtp_error)}"
            ) from None
        except smtplib.SMTPDataError as exc:
            if exc.smtp_code >= 500:
                raise PermanentFailure(
                    f"message refused: {exc.smtp_code} {_text(exc.smtp_error)}"
                ) from None
            raise RuntimeError(
                f"message deferred: {exc.smtp_code} {_text(exc.smtp_error)}"
            ) from None
        except smtplib.SMTPNotSupportedError as exc:  # e.g. a non-ASCII address, no SMTPUTF8
            raise PermanentFailure(str(exc)) from None
        except smtplib.SMTPResponseException as exc:
            self._reset()
            raise RuntimeError(f"{exc.smtp_code} {_text(exc.smtp_error)}") from None
        except (OSError, smtplib.SMTPException) as exc:  # disconnected, timeout
            self._reset()
            raise ConnectionFailure(f"{type(exc).__name__}: {exc}") from None

    def _reset(self) -> None:
        if self.smtp is not None:
            try:
                self.smtp.close()
            finally:
                self.smtp = None

    def close(self) -> None:
        if self.smtp is not None:
            try:
                self.smtp.quit()
            except (OSError, smtplib.SMTPException):
                pass
            self._reset()


def _text(raw: bytes | str) -> str:
    return (raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw))[:500]


def _claim(worker_id: str) -> OutboxMessage | None:
    with writing():
        return tasks.claim(
            OutboxMessage, worker_id, "queued", "sending", OutboxMessage.next_attempt_at, LEASE
        )


def _finish(message_id: str, worker_id: str, error: str | None, permanent: bool = False) -> None:
    with writing():
        message = db.session.get(OutboxMessage, message_id)
        if message is None or message.status != "sending" or message.locked_by != worker_id:
            return  # our lease ran out and another worker has it now
        message.locked_by = message.locked_until = None
        if error is None:
            message.status = "sent"
            message.sent_at = utcnow()
            message.last_error = None
        elif permanent or message.attempts >= MAX_ATTEMPTS:
            message.status = "failed"
            message.last_error = error[:2000]
        else:
            message.status = "queued"
            message.next_attempt_at = utcnow() + BACKOFF[min(message.attempts, len(BACKOFF)) - 1]
            message.last_error = error[:2000]


_logged_problem: list[str] = []


def _log_once(problem: str) -> None:
    if problem not in _logged_problem:
        _logged_problem.append(problem)
        log.error("e-mail delivery is off: %s", problem)


@tasks.periodic
def deliver_due(worker_id: str) -> int:
    """Send due messages, one claim at a time; how many were sent.

    Stops the round at the first connection problem (the rest stay queued,
    untouched); without ``ATS_SMTP_URL`` it sends nothing.
    """
    if not has_app_context():
        return 0
    try:
        settings = smtp_settings()
        sender_address = mail_from() if settings else None
    except ValueError as exc:
        _log_once(str(exc))
        return 0
    if settings is None or sender_address is None:
        return 0
    sender = Sender(settings)
    sent = 0
    try:
        for _ in range(BATCH):
            message = _claim(worker_id)
            if message is None:
                break
            error, permanent, stop = None, False, False
            try:
                try:
                    email = build(message, sender_address)
                except (ValueError, MessageError) as exc:
                    raise PermanentFailure(f"cannot build the message: {exc}") from None
                sender.send(email, sender_address.addr_spec, message.to_email)
            except PermanentFailure as exc:
                error, permanent = str(exc), True
            except ConnectionFailure as exc:
                error, stop = str(exc), True
            except Exception as exc:  # noqa: BLE001 - a temporary problem: retry later
                error = f"{type(exc).__name__}: {exc}"
            _finish(message.id, worker_id, error, permanent)
            if error is None:
                sent += 1
            else:
                log.warning("e-mail %s to %s not sent: %s", message.id, message.to_email, error)
            if stop:
                break
    finally:
        sender.close()
    return sent


def send_test(to: str) -> OutboxMessage:
    """Queue a short test message (``flask --app app mail test``)."""
    host = socket.gethostname()
    return queue(
        "test",
        to,
        f"ATS test message from {host}",
        f"This is a test message from the ATS on {host}.\n"
        "If you can read it, e-mail delivery works.\n",
    )
