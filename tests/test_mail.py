"""E-mail (ats/services/mail.py, ats/web/mail.py): the outbox and its delivery.

Pins: a queued message reaches a real SMTP server (aiosmtpd) with a stable
Message-ID; without ATS_SMTP_URL nothing is sent and the outbox page shows the
message with its .ics; an SMTP outage leaves messages queued with attempts,
error and backoff, and they go out once the server is back; a refused
recipient fails at once and "retry" queues it again; attempts run out into
"failed"; two workers at once send every message exactly once; STARTTLS,
implicit TLS and AUTH work, and a password is never sent in the clear; the
templates are admin-only, CSRF-protected and refuse unknown placeholders with
a 400 that says why; "application received" goes out from the careers form
and a rejection on a recruiter's click, once, in the job's language.
"""

from __future__ import annotations

import re
import ssl
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import trustme
from sqlalchemy import func, select

from ats.extensions import db
from ats.models import MailTemplate, OutboxMessage, utcnow
from ats.services import mail, tasks
from tests.smtp import Inbox

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def inbox(app):
    server = Inbox().start()
    app.config["SMTP_URL"] = server.url()
    app.config["MAIL_FROM"] = "Acme Jobs <jobs@acme.example>"
    yield server
    server.stop()


def queue(app, n=1, **kw):
    ids = []
    with app.app_context():
        for i in range(n):
            ids.append(
                mail.queue("test", f"to{i}@example.com", f"Hello {i}", f"Body {i}\n", **kw).id
            )
    return ids


def row(app, message_id):
    with app.app_context():
        message = db.session.get(OutboxMessage, message_id)
        db.session.expunge(message)
        return message


def deliver(app, worker="w1"):
    with app.app_context():
        return mail.deliver_due(worker)


def make_due(app, message_id):
    with app.app_context():
        db.session.get(OutboxMessage, message_id).next_attempt_at = utcnow()
        db.session.commit()


# --- delivery -------------------------------------------------------------------


def test_a_queued_message_is_delivered_once_with_a_stable_message_id(app, inbox):
    (message_id,) = queue(app, to_name="Ada Lovelace")
    assert row(app, message_id).status == "queued"
    assert deliver(app) == 1
    (received,) = inbox.wait_for(1)
    assert received["Message-ID"] == f"<{message_id}@acme.example>"
    assert received["To"].addresses[0].display_name == "Ada Lovelace"
    assert str(received["From"]) == "Acme Jobs <jobs@acme.example>"
    assert received["Auto-Submitted"] == "auto-generated"
    assert received.get_content().strip() == "Body 0"
    assert inbox.received[0].mail_from == "jobs@acme.example"
    assert inbox.received[0].rcpt_tos == ["to0@example.com"]
    sent = row(app, message_id)
    assert (sent.status, sent.attempts, sent.last_error) == ("sent", 1, None)
    assert sent.sent_at is not None and sent.locked_by is None
    assert deliver(app) == 0 and len(inbox.received) == 1  # nothing twice


def test_the_sender_name_defaults_to_the_company(app, api, inbox):
    api.create("company_profile", name="Acme GmbH", display_name="Acme")
    app.config["MAIL_FROM"] = "hr@acme.example"
    queue(app)
    deliver(app)
    assert str(inbox.wait_for(1)[0]["From"]) == "Acme <hr@acme.example>"


def test_without_smtp_messages_wait_and_the_outbox_shows_them(app, api, login):
    app.config["SMTP_URL"] = None
    ics = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:REQUEST\r\nEND:VCALENDAR\r\n"
    (message_id,) = queue(app, ics=ics, ics_method="REQUEST")
    with app.app_context():
        tasks.tick("w1")
    message = row(app, message_id)
    assert (message.status, message.attempts) == ("queued", 0)
    admin = login("admin")
    page = admin.get("/settings/mail/outbox")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "ATS_SMTP_URL is not set" in html and "to0@example.com" in html and "Hello 0" in html
    assert f"/settings/mail/outbox/{message_id}/invite.ics" in html
    download = admin.get(f"/settings/mail/outbox/{message_id}/invite.ics")
    assert download.status_code == 200
    assert download.headers["Content-Type"].startswith("text/calendar")
    assert "method=REQUEST" in download.headers["Content-Type"]
    assert "attachment" in download.headers["Content-Disposition"]
    assert download.get_data(as_text=True) == ics
    detail = admin.get(f"/settings/mail/outbox/{message_id}")
    assert detail.status_code == 200 and "Body 0" in detail.get_data(as_text=True)
    assert admin.get("/settings/mail/outbox?status=queued").status_code == 200
    assert admin.get("/settings/mail/outbox?status=lost").status_code == 400
    assert admin.get("/settings/mail/outbox?page=0").status_code == 400
    assert admin.get("/settings/mail/outbox/msg_nope/invite.ics").status_code == 404
    assert admin.get("/settings/mail/outbox/nope").status_code == 404
    (plain,) = queue(app)
    assert admin.get(f"/settings/mail/outbox/{plain}/invite.ics").status_code == 404


@pytest.mark.parametrize("role", ["recruiter", "interviewer"])
def test_the_mail_pages_are_for_admins_only(app, login, role):
    (message_id,) = queue(app, ics="BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", ics_method="REQUEST")
    client = login(role)
    for url in (
        "/settings/mail",
        "/settings/mail/outbox",
        f"/settings/mail/outbox/{message_id}",
        f"/settings/mail/outbox/{message_id}/invite.ics",
        "/settings/mail/templates/rejection/en",
    ):
        assert client.get(url).status_code == 403, url
    r = client.post(f"/settings/mail/outbox/{message_id}/retry", data={"csrf_token": client.csrf})
    assert r.status_code == 403
    anonymous = app.test_client().get("/settings/mail/outbox")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]


def test_smtp_down_keeps_the_message_and_it_goes_out_when_the_server_is_back(app, inbox):
    inbox.stop()
    (message_id,) = queue(app)
    before = utcnow()
    assert deliver(app) == 0
    waiting = row(app, message_id)
    assert (waiting.status, waiting.attempts) == ("queued", 1)
    assert "Connection" in waiting.last_error or "refused" in waiting.last_error
    assert waiting.next_attempt_at >= before + timedelta(seconds=55)  # backoff: a minute
    assert deliver(app) == 0  # not due yet: untouched
    assert row(app, message_id).attempts == 1
    inbox.start()  # the same port again
    make_due(app, message_id)
    assert deliver(app) == 1
    assert len(inbox.wait_for(1)) == 1
    sent = row(app, message_id)
    assert (sent.status, sent.attempts, sent.last_error) == ("sent", 2, None)


def test_an_outage_ends_the_round_and_leaves_the_others_untouched(app, inbox):
    inbox.stop()
    ids = queue(app, 3)
    deliver(app)
    assert sorted(row(app, i).attempts for i in ids) == [0, 0, 1]


def test_attempts_run_out_into_failed_and_retry_queues_again(app, inbox, login):
    inbox.stop()
    (message_id,) = queue(app)
    for attempt in range(1, mail.MAX_ATTEMPTS + 1):
        make_due(app, message_id)
        deliver(app)
        assert row(app, message_id).attempts == attempt
    failed = row(app, message_id)
    assert failed.status == "failed" and failed.last_error
    make_due(app, message_id)
    deliver(app)
    assert row(app, message_id).attempts == mail.MAX_ATTEMPTS  # left for a person
    admin = login("admin")
    page = admin.get(f"/settings/mail/outbox/{message_id}").get_data(as_text=True)
    assert "Retry now" in page
    r = admin.post(f"/settings/mail/outbox/{message_id}/retry", data={})  # no CSRF token
    assert r.status_code == 400 and row(app, message_id).status == "failed"
    r = admin.post(f"/settings/mail/outbox/{message_id}/retry", data={"csrf_token": admin.csrf})
    assert r.status_code == 303
    again = row(app, message_id)
    assert (again.status, again.attempts) == ("queued", 0)
    inbox.start()
    assert deliver(app) == 1 and row(app, message_id).status == "sent"
    r = admin.post(f"/settings/mail/outbox/{message_id}/retry", data={"csrf_token": admin.csrf})
    assert r.status_code == 303 and row(app, message_id).status == "sent"  # sent: no retry
    assert "only failed or waiting ones retry" in admin.get(r.headers["Location"]).get_data(
        as_text=True
    )


def test_a_recipient_refused_for_good_fails_at_once_the_next_goes_on(app, inbox):
    inbox.refuse["to0@example.com"] = "550 5.1.1 no such user"
    inbox.refuse["to1@example.com"] = "450 4.2.0 mailbox busy"
    ids = queue(app, 3)
    assert deliver(app) == 1
    refused, deferred, good = (row(app, i) for i in ids)
    assert refused.status == "failed" and "550" in refused.last_error
    assert deferred.status == "queued" and "450" in deferred.last_error
    assert good.status == "sent"


def test_an_expired_lease_is_taken_over_and_the_loser_cannot_mark_it(app, inbox):
    (message_id,) = queue(app)
    with app.app_context():
        claimed = mail._claim("dead-worker")
        assert claimed.id == message_id
        assert mail._claim("w2") is None  # leased
        db.session.get(OutboxMessage, message_id).locked_until = utcnow() - timedelta(seconds=1)
        db.session.commit()
    assert deliver(app, "w2") == 1
    with app.app_context():
        mail._finish(message_id, "dead-worker", "too late")  # wakes up: ignored
    message = row(app, message_id)
    assert (message.status, message.attempts, message.locked_by) == ("sent", 2, None)


def test_two_worker_processes_send_each_message_exactly_once(app, inbox, tmp_path):
    ids = set(queue(app, 40))
    inbox.delay = 0.05  # a slow server, so that both workers are surely busy at once
    with app.app_context():
        db_url = str(db.engine.url)
    script = f"""
import sys
from ats import create_app
from ats.services import mail
app = create_app({{"SQLALCHEMY_DATABASE_URI": {db_url!r}, "SECRET_KEY": "t",
                  "SMTP_URL": {inbox.url()!r}, "MAIL_FROM": "jobs@acme.example"}})
with app.app_context():
    sent = 0
    while True:
        n = mail.deliver_due(sys.argv[1])
        sent += n
        if n == 0:
            break
    print(sent)
"""
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, f"p{i}"], cwd=ROOT, stdout=subprocess.PIPE, text=True
        )
        for i in range(2)
    ]
    outputs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    counts = [int(out.strip().splitlines()[-1]) for out in outputs]
    assert sum(counts) == 40 and all(counts), counts  # both worked
    received = inbox.wait_for(40)
    message_ids = [m["Message-ID"] for m in received]
    assert len(message_ids) == 40
    assert {re.fullmatch(r"<(msg_\w+)@acme.example>", m).group(1) for m in message_ids} == ids
    with app.app_context():
        assert db.session.scalar(select(func.count()).where(OutboxMessage.status == "sent")) == 40


# --- TLS and AUTH ---------------------------------------------------------------


@pytest.fixture(scope="module")
def ca(tmp_path_factory):
    """A test CA the system trust store does not know; SSL_CERT_FILE makes it known."""
    authority = trustme.CA()
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    authority.cert_pem.write_to_path(str(path))
    return authority, path


def server_context(authority) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    return context


def test_required_starttls_with_a_checked_certificate_and_login(app, ca, monkeypatch):
    authority, path = ca
    monkeypatch.setenv("SSL_CERT_FILE", str(path))
    server = Inbox(tls=server_context(authority), auth=("mailer", "s3cr:t@")).start()
    try:
        app.config["SMTP_URL"] = server.url("smtp+starttls", "mailer:s3cr%3At%40@")
        queue(app)
        assert deliver(app) == 1 and len(server.wait_for(1)) == 1
    finally:
        server.stop()


def test_implicit_tls(app, ca, monkeypatch):
    authority, path = ca
    monkeypatch.setenv("SSL_CERT_FILE", str(path))
    server = Inbox(tls=server_context(authority), implicit_tls=True).start()
    try:
        app.config["SMTP_URL"] = server.url("smtps")
        queue(app)
        assert deliver(app) == 1 and len(server.wait_for(1)) == 1
    finally:
        server.stop()


def test_an_unknown_certificate_is_refused_where_it_is_checked(app, ca):
    authority, _path = ca  # not trusted: no SSL_CERT_FILE
    server = Inbox(tls=server_context(authority)).start()
    try:
        app.config["SMTP_URL"] = server.url("smtp+starttls")
        (message_id,) = queue(app)
        assert deliver(app) == 0
        message = row(app, message_id)
        assert message.status == "queued" and "CERTIFICATE_VERIFY_FAILED" in message.last_error
        # smtp:// takes STARTTLS when offered, without checking (opportunistic)
        app.config["SMTP_URL"] = server.url("smtp")
        make_due(app, message_id)
        assert deliver(app) == 1 and len(server.wait_for(1)) == 1
    finally:
        server.stop()


def test_starttls_required_but_not_offered(app, inbox):
    app.config["SMTP_URL"] = inbox.url("smtp+starttls")
    (message_id,) = queue(app)
    assert deliver(app) == 0 and inbox.received == []
    assert "does not offer STARTTLS" in row(app, message_id).last_error


def test_a_password_is_not_sent_in_the_clear(app, monkeypatch):
    server = Inbox(auth=("mailer", "pw")).start()
    try:
        app.config["SMTP_URL"] = server.url("smtp", "mailer:pw@")
        monkeypatch.setattr(mail, "_is_loopback", lambda host: False)  # as if it were remote
        (message_id,) = queue(app)
        assert deliver(app) == 0
        assert "refusing to send the SMTP password unencrypted" in row(app, message_id).last_error
        monkeypatch.setattr(mail, "_is_loopback", lambda host: True)
        make_due(app, message_id)
        assert deliver(app) == 1  # to a loopback relay it may
        app.config["SMTP_URL"] = server.url("smtp", "mailer:wrong@")
        (second,) = queue(app)
        assert deliver(app) == 0 and "535" in row(app, second).last_error
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://mail.example", ("opportunistic", "mail.example", 25, None, None)),
        (
            "smtp+starttls://u%40x:p%3Aw@mail.example",
            ("starttls", "mail.example", 587, "u@x", "p:w"),
        ),
        ("smtps://u:p@mail.example:2465", ("tls", "mail.example", 2465, "u", "p")),
        ("SMTP://127.0.0.1:2525/", ("opportunistic", "127.0.0.1", 2525, None, None)),
    ],
)
def test_smtp_urls(url, expected):
    s = mail.parse_smtp_url(url)
    assert (s.mode, s.host, s.port, s.username, s.password) == expected
    assert "p:w" not in s.describe() and "p%3Aw" not in s.describe()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://mail.example", "must start with smtp://"),
        ("smtp://", "names no host"),
        ("smtp://mail.example:99999", "not a valid URL"),
        ("smtp://mail.example/x?y=1", "takes no path or query"),
    ],
)
def test_bad_smtp_urls_say_why(url, message):
    with pytest.raises(ValueError, match=message):
        mail.parse_smtp_url(url)


@pytest.mark.parametrize(
    ("setting", "value", "problem"),
    [
        ("MAIL_FROM", "not an address", "ATS_MAIL_FROM is not an e-mail address"),
        ("MAIL_FROM", "Jobs <jobs@acme.example", "ATS_MAIL_FROM is not an e-mail address"),
        ("SMTP_URL", "imap://mail.example", "ATS_SMTP_URL must start with smtp://"),
    ],
)
def test_bad_settings_stop_delivery_and_the_pages_say_why(
    app, inbox, login, setting, value, problem
):
    app.config[setting] = value
    (message_id,) = queue(app)
    assert deliver(app) == 0 and row(app, message_id).attempts == 0 and inbox.received == []
    admin = login("admin")
    assert problem in admin.get("/settings/mail").get_data(as_text=True)
    assert problem in admin.get("/settings/mail/outbox").get_data(as_text=True)


def test_mail_test_command(app, inbox, runner):
    result = runner.invoke(args=["mail", "test", "--to", "ops@example.com"])
    assert result.exit_code == 0, result.output
    assert "sent through" in result.output and len(inbox.wait_for(1)) == 1
    assert runner.invoke(args=["mail", "test", "--to", "nobody"]).exit_code != 0
    app.config["SMTP_URL"] = None
    result = runner.invoke(args=["mail", "test", "--to", "ops@example.com"])
    assert result.exit_code == 1 and "ATS_SMTP_URL is not set" in result.output


def test_mail_retry_command(app, inbox, runner):
    (message_id,) = queue(app)
    with app.app_context():
        db.session.get(OutboxMessage, message_id).status = "failed"
        db.session.commit()
    result = runner.invoke(args=["mail", "retry"])
    assert result.exit_code == 0 and "1 failed message(s) queued again" in result.output
    assert row(app, message_id).status == "queued"


# --- templates ------------------------------------------------------------------


def test_templates_check_their_placeholders():
    mail.check_template("rejection", "Dear {candidate_name}, {{literal}} {job_title}")
    for text, problem in (
        ("Hi {name}", "unknown placeholder {name}"),
        ("Hi {interview_time}", "unknown placeholder {interview_time}"),  # not for rejections
        ("Hi {candidate_name.__class__}", "unknown placeholder"),
        ("Hi {candidate_name[0]}", "unknown placeholder"),
        ("Hi {candidate_name!r}", "without : or !"),
        ("Hi {candidate_name:>20}", "without : or !"),
        ("Hi {}", "empty placeholder"),
        ("Hi {0}", "empty placeholder"),
        ("Hi {candidate_name", "unbalanced"),
        ("Hi }", "unbalanced"),
    ):
        with pytest.raises(mail.TemplateError, match=re.escape(problem)):
            mail.check_template("rejection", text)
    assert mail.fill("rejection", "{candidate_name} {{x}}", {"candidate_name": "{job_title}"}) == (
        "{job_title} {x}"  # values are never read as templates
    )


def test_every_built_in_template_is_valid():
    for (kind, _language), (subject, body) in mail.DEFAULTS.items():
        mail.check_template(kind, subject)
        mail.check_template(kind, body)
    assert set(mail.DEFAULTS) == {(k, lang) for k in mail.KINDS for lang in mail.LANGUAGES}


def test_an_admin_edits_a_template_and_messages_use_it(app, api, login):
    admin = login("admin")
    url = "/settings/mail/templates/rejection/de"
    page = admin.get(url)
    assert page.status_code == 200 and "Ihre Bewerbung" in page.get_data(as_text=True)
    assert "{candidate_name}" in page.get_data(as_text=True)  # the placeholder list
    data = {"subject": "Absage: {job_title}", "body": "Liebe/r {candidate_name}, leider nein."}
    assert admin.post(url, data=data).status_code == 400  # no CSRF token
    bad = admin.post(url, data={**data, "body": "Hallo {vorname}", "csrf_token": admin.csrf})
    html = bad.get_data(as_text=True)
    assert bad.status_code == 400 and "unknown placeholder {vorname}" in html
    assert "Hallo {vorname}" in html  # what was typed is kept
    empty = admin.post(url, data={"subject": " ", "body": "x", "csrf_token": admin.csrf})
    assert empty.status_code == 400 and "required" in empty.get_data(as_text=True)
    ok = admin.post(url, data={**data, "csrf_token": admin.csrf})
    assert ok.status_code == 303
    assert "customised" in admin.get("/settings/mail").get_data(as_text=True)
    with app.app_context():
        subject, body = mail.compose(
            "rejection", "de-AT", {"candidate_name": "Ada", "job_title": "Dev"}
        )
        assert (subject, body) == ("Absage: Dev", "Liebe/r Ada, leider nein.")
        # the English one is untouched
        assert mail.compose("rejection", "en", {"job_title": "Dev"})[0] == "Your application: Dev"
    r = admin.post(url + "/reset", data={"csrf_token": admin.csrf})
    assert r.status_code == 303
    with app.app_context():
        assert db.session.get(MailTemplate, ("rejection", "de")) is None
    assert admin.get("/settings/mail/templates/nope/de").status_code == 404
    assert admin.get("/settings/mail/templates/rejection/fr").status_code == 404


def test_a_broken_stored_template_falls_back_to_the_built_in_one(app):
    with app.app_context():
        db.session.add(MailTemplate(kind="rejection", language="en", subject="{x}", body="{y}"))
        db.session.commit()
        subject, _body = mail.compose("rejection", "en", {"job_title": "Dev"})
        assert subject == "Your application: Dev"


# --- candidate e-mails ----------------------------------------------------------

PDF = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"


def _careers_job(api, **data):
    api.create("company_profile", name="Acme", public_careers_enabled=True)
    return api.job(title="Data Engineer", status="open", public=True, **data)


def _apply(client, job, **fields):
    url = f"/careers/{job['data']['slug']}/apply"
    html = client.get(url).get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    token = re.search(r'name="form_token" value="([^"]+)"', html).group(1)
    data = {
        "name": "Ada Lovelace",
        "email": "ada@example.com",
        "privacy_consent": "yes",
        "csrf_token": csrf,
        "form_token": token,
        **fields,
    }
    return client.post(url, data=data)


@pytest.mark.parametrize(
    ("language", "subject", "greeting"),
    [
        (None, "Your application: Data Engineer", "Hello Ada Lovelace"),
        ("de", "Ihre Bewerbung: Data Engineer", "Hallo Ada Lovelace"),
    ],
)
def test_applying_on_the_careers_page_sends_a_confirmation(
    app, api, inbox, language, subject, greeting
):
    job = _careers_job(api, **({"language": language} if language else {}))
    client = app.test_client()
    r = _apply(client, job)
    assert r.status_code in (302, 303), r.get_data(as_text=True)
    (message,) = [m for m in _all(app) if m.kind == "application_received"]
    assert (message.to_email, message.subject) == ("ada@example.com", subject)
    assert message.candidate_id and message.application_id
    deliver(app)
    (received,) = inbox.wait_for(1)
    assert received["Subject"] == subject
    body = received.get_content()
    assert greeting in body and "Acme" in body
    # applying again to the same job is the same application: no second e-mail
    _apply(client, job)
    assert len([m for m in _all(app) if m.kind == "application_received"]) == 1


def test_a_refused_application_sends_nothing(app, api):
    job = _careers_job(api)
    r = _apply(app.test_client(), job, email="not-an-address")
    assert r.status_code == 400
    assert _all(app) == []


def _all(app):
    with app.app_context():
        rows = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.created_at)).all()
        db.session.expunge_all()
        return rows


def test_the_rejection_button(app, api, login):
    job = api.job(title="Data Engineer", language="de")
    candidate = api.candidate(name="Ada Lovelace", email="ada@example.com")
    application = api.application(job=job, candidate=candidate)
    url = f"/applications/{application['id']}"
    recruiter = login("recruiter")
    assert "Send rejection e-mail" not in recruiter.get(url).get_data(as_text=True)
    # not rejected yet: refused, with the reason
    r = recruiter.post(url + "/rejection-email", data={"csrf_token": recruiter.csrf})
    assert r.status_code == 409 and "move the application to" in r.get_data(as_text=True)
    api.patch(f"/data/application/{application['id']}", json={"stage": "rejected"})
    page = recruiter.get(url).get_data(as_text=True)
    assert "Send rejection e-mail" in page
    assert recruiter.post(url + "/rejection-email", data={}).status_code == 400  # no CSRF
    r = recruiter.post(url + "/rejection-email", data={"csrf_token": recruiter.csrf})
    assert r.status_code == 303
    (message,) = _all(app)
    assert (message.kind, message.to_email) == ("rejection", "ada@example.com")
    assert message.subject == "Ihre Bewerbung: Data Engineer" and "Hallo Ada" in message.body
    assert message.application_id == application["id"]
    page = recruiter.get(url).get_data(as_text=True)
    assert "Send rejection e-mail" not in page and "queued" in page
    # a second click is refused: one rejection per application
    r = recruiter.post(url + "/rejection-email", data={"csrf_token": recruiter.csrf})
    assert r.status_code == 409 and "already queued" in r.get_data(as_text=True)
    assert len(_all(app)) == 1
    interviewer = login("interviewer")
    r = interviewer.post(url + "/rejection-email", data={"csrf_token": interviewer.csrf})
    assert r.status_code == 403
    assert (
        recruiter.post(
            "/applications/app_nope/rejection-email", data={"csrf_token": recruiter.csrf}
        ).status_code
        == 404
    )


def test_no_rejection_without_an_address(app, api, login):
    candidate = api.candidate(name="Nobody")
    application = api.application(candidate=candidate, stage="rejected")
    recruiter = login("recruiter")
    url = f"/applications/{application['id']}"
    assert "no e-mail address" in recruiter.get(url).get_data(as_text=True)
    r = recruiter.post(url + "/rejection-email", data={"csrf_token": recruiter.csrf})
    assert r.status_code == 409 and "no e-mail address" in r.get_data(as_text=True)
    assert _all(app) == []
