"""A service refusal that reaches a page becomes its HTTP answer, not a 500;
and ``forms.save`` puts refusals on the form instead of raising."""

from __future__ import annotations

from ats import fields as F
from ats.errors import Conflict, NotFound
from ats.web.forms import model_form, save


def test_service_errors_on_pages_keep_their_status(app):
    @app.get("/_test/missing")
    def _missing():
        raise NotFound("no job job_x")

    @app.get("/_test/conflict")
    def _conflict():
        raise Conflict("taken")

    client = app.test_client()
    r = client.get("/_test/missing", headers={"Accept": "text/html"})
    assert r.status_code == 404 and "no job job_x" in r.get_data(as_text=True)
    assert client.get("/_test/conflict").status_code == 409


def test_save_shows_refusals_on_the_form(app):
    with app.test_request_context("/", method="POST"):
        form = model_form(F.SOURCE, ["name"], meta={"csrf": False})
        assert save(form, {"name": "required"}, lambda: 1 / 0) is None  # write never runs
        assert form.name.errors == ["required"]

        def refuse():
            raise Conflict("a source named 'X' exists", {"name": "already taken"})

        assert save(form, {}, refuse) is None
        assert form.name.errors[-1] == "already taken"
        assert save(form, {}, lambda: Conflict("no fields")) is not None  # returned, not raised

        def refuse_without_field():
            raise Conflict("there is one per installation")

        save(form, {}, refuse_without_field)
        assert form.form_errors[-1] == "there is one per installation"
