"""The application page and CV files: uploads checked by content, stored under
a random id, served only to staff who can see the application, deleted with it."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

PDF = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"


def _docx() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", "<w:document/>")
    return buf.getvalue()


def _upload(client, app_id, data: bytes, name: str):
    return client.post(
        f"/applications/{app_id}/cv",
        data={"csrf_token": client.csrf, "cv": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def _fetch(client, url: str):
    """GET a file and close the response (send_file streams from an open file)."""
    r = client.get(url)
    r.get_data()
    r.close()
    return r


def _stored(app) -> list[Path]:
    root = Path(app.config["DATA_DIR"]) / "cv"
    return sorted(root.glob("blob_*")) if root.exists() else []


def test_detail_page_shows_everything(login, api):
    job = api.job(screening_questions=[{"id": "q1", "label": "Years of Python?", "type": "number"}])
    cand = api.candidate(name="Grace Hopper", email="grace@example.org", phone="+1 555")
    application = api.application(
        job=job, candidate=cand, answers=[{"question_id": "q1", "value": 7}],
        cover_letter="I <3 compilers", fit_score=81, fit_reasoning="Matches: python",
    )  # fmt: skip
    api.patch(f"/data/application/{application['id']}", json={"stage": "review"})
    html = login("recruiter").get(f"/applications/{application['id']}").get_data(as_text=True)
    for text in (
        "Grace Hopper",
        "grace@example.org",
        "Years of Python?",
        "I &lt;3 compilers",
        "Matches: python",
        "new → <strong>review</strong>",
        "No CV yet.",
    ):
        assert text in html, text


def test_pdf_upload_download_and_inline_preview(app, login, api):
    application = api.application(candidate=api.candidate(name="Ada Lovelace"))
    client = login("recruiter")
    r = _upload(client, application["id"], PDF, "whatever.txt")  # the name does not matter
    assert r.status_code == 303
    blob_id = api.get(f"/data/application/{application['id']}").get_json()["data"]["cv_blob_id"]
    assert blob_id.startswith("blob_")
    [path] = _stored(app)
    assert path.name == f"{blob_id}.pdf" and path.read_bytes() == PDF
    page = client.get(f"/applications/{application['id']}").get_data(as_text=True)
    assert "Download CV (PDF)" in page and 'class="cv-preview"' in page
    r = _fetch(client, f"/applications/{application['id']}/cv")
    assert r.status_code == 200 and r.data == PDF
    assert r.mimetype == "application/pdf" and r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Content-Disposition"].startswith("attachment")
    assert "ada-lovelace-cv.pdf" in r.headers["Content-Disposition"]
    r = _fetch(client, f"/applications/{application['id']}/cv?inline=1")
    assert r.headers["Content-Disposition"].startswith("inline")


def test_docx_is_accepted_and_served_as_docx(app, login, api):
    application = api.application()
    client = login("recruiter")
    _upload(client, application["id"], _docx(), "cv.docx")
    r = _fetch(client, f"/applications/{application['id']}/cv")
    assert r.mimetype.endswith("wordprocessingml.document")
    assert r.headers["Content-Disposition"].startswith("attachment")
    assert (
        _fetch(client, f"/applications/{application['id']}/cv?inline=1")
        .headers["Content-Disposition"]
        .startswith("attachment")
    )  # only PDFs are shown inline


def test_wrong_content_is_refused_whatever_the_name(app, login, api):
    application = api.application()
    client = login("recruiter")
    for data, name in (
        (b"<script>alert(1)</script>", "cv.pdf"),
        (b"PK\x03\x04not really a zip", "cv.docx"),
        (b"", "cv.pdf"),
    ):
        r = _upload(client, application["id"], data, name)
        assert r.status_code == 303
    page = client.get(f"/applications/{application['id']}").get_data(as_text=True)
    assert "only PDF, DOC or DOCX files are accepted" in page or "CV not saved" in page
    assert _stored(app) == []
    assert (
        api.get(f"/data/application/{application['id']}").get_json()["data"]["cv_blob_id"] is None
    )


def test_oversized_upload_is_refused(app, login, api):
    app.config["MAX_CV_BYTES"] = 1024
    application = api.application()
    client = login("recruiter")
    _upload(client, application["id"], PDF + b"x" * 2000, "big.pdf")
    page = client.get(f"/applications/{application['id']}").get_data(as_text=True)
    assert "larger than" in page and _stored(app) == []


def test_replacing_deletes_the_old_file_and_erasing_deletes_all(app, login, api):
    cand = api.candidate()
    application = api.application(candidate=cand)
    client = login("recruiter")
    _upload(client, application["id"], PDF, "a.pdf")
    _upload(client, application["id"], _docx(), "b.docx")
    [only] = _stored(app)
    assert only.suffix == ".docx"
    assert api.delete(f"/data/candidate/{cand['id']}?cascade=true").status_code == 204
    assert _stored(app) == []


def test_who_may_see_and_attach_cvs(app, login, api, make_api):
    application = api.application()
    recruiter = login("recruiter")
    _upload(recruiter, application["id"], PDF, "a.pdf")
    outsider = login("interviewer")
    assert _fetch(outsider, f"/applications/{application['id']}/cv").status_code == 404
    assert _upload(outsider, application["id"], PDF, "x.pdf").status_code == 403
    api.patch(f"/data/job/{application['data']['job_id']}", json={"team_ids": [outsider.user_id]})
    assert _fetch(outsider, f"/applications/{application['id']}/cv").status_code == 200
    anonymous = app.test_client()
    assert anonymous.get(f"/applications/{application['id']}/cv").status_code == 302
    r = recruiter.post(
        f"/applications/{application['id']}/cv",
        data={"cv": (io.BytesIO(PDF), "a.pdf")},
        content_type="multipart/form-data",
    )
    assert r.status_code == 400  # no CSRF token


def test_api_cv_blob_id_must_name_a_stored_file(api):
    application = api.application()
    r = api.patch(f"/data/application/{application['id']}", json={"cv_blob_id": "blob_nope"})
    assert r.status_code == 400 and "cv_blob_id" in r.get_json()["fields"]
