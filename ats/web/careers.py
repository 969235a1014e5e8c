"""The public careers site: job list, job pages, structured data, sitemap, theme.

No login. Every page exists only while the company profile has
``public_careers_enabled``; a job page only while the job is published (open,
public, not archived; see ``ats.services.careers``). A job page speaks the
job's language, the list the browser's. No inline scripts or styles: the
accent colour comes from ``/careers/theme.css`` and the JSON-LD block is data.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any
from xml.etree import ElementTree as ET

import flask_babel
from flask import Blueprint, Flask, abort, make_response, redirect, request, url_for
from flask_babel import format_currency, format_decimal, get_locale, gettext
from flask_babel import lazy_gettext as _l
from markupsafe import escape

from ..i18n import use_locale
from ..services import careers
from .access import render

bp = Blueprint("careers", __name__, url_prefix="/careers")

DEFAULT_ACCENT = "#2563eb"
THEME_MAX_AGE = 300  # seconds a browser may keep /careers/theme.css

# Translated labels of the job's enum fields.
LABELS: dict[str, dict[str, Any]] = {
    "remote": {"onsite": _l("On-site"), "hybrid": _l("Hybrid"), "remote": _l("Remote")},
    "employment_type": {
        "full_time": _l("Full-time"),
        "part_time": _l("Part-time"),
        "internship": _l("Internship"),
        "working_student": _l("Working student"),
        "freelance": _l("Freelance"),
        "contract": _l("Contract"),
    },
    "seniority": {
        "junior": _l("Junior"),
        "mid": _l("Mid-level"),
        "senior": _l("Senior"),
        "lead": _l("Lead"),
        "principal": _l("Principal"),
    },
}

# The job's text sections, in page order, with their headings.
SECTIONS = (
    ("description", _l("About the role")),
    ("responsibilities", _l("Responsibilities")),
    ("requirements", _l("Requirements")),
    ("nice_to_have", _l("Nice to have")),
    ("benefits", _l("Benefits")),
)

# schema.org employmentType for our employment_type values.
EMPLOYMENT_TYPES = {
    "full_time": "FULL_TIME",
    "part_time": "PART_TIME",
    "internship": "INTERN",
    "working_student": "PART_TIME",
    "freelance": "CONTRACTOR",
    "contract": "CONTRACTOR",
}


def register(app: Flask) -> None:
    @app.context_processor
    def _careers_context() -> dict[str, Any]:
        """``site`` (the company profile) and ``page_locale`` for the public pages.

        Only for the careers and apply blueprints, so staff pages make no extra query.
        """
        if request.blueprint not in ("careers", "apply"):
            return {}
        return {
            "site": careers.profile(),
            "page_locale": str(get_locale() or "en"),
            "apply_url": apply_url,
            "label": label,
        }


def apply_url(slug: str) -> str:
    return url_for("apply.form", slug=slug)


def label(field: str, value: str | None) -> str:
    """The translated label of an enum value (the raw value when unknown)."""
    if not value:
        return ""
    return str(LABELS.get(field, {}).get(value, value))


def _site() -> Any:
    site = careers.enabled_profile()
    if site is None:
        abort(404)
    return site


def _set_locale(tag: str | None) -> None:
    use_locale(tag)


def company_name(site: Any) -> str:
    return site.display_name or site.name


def _https(url: str | None) -> str | None:
    return url if url and url.startswith("https://") else None


@bp.get("")
def index() -> Any:
    site = _site()
    _set_locale(None)
    filters = careers.clean_filters(request.args)
    search = (request.args.get("q") or "").strip()[: careers.MAX_VALUE_LENGTH]
    jobs = careers.published_jobs(filters, search)
    return render(
        "careers/index.html",
        site=site,
        jobs=jobs,
        filters=filters,
        search=search,
        options=careers.filter_options(),
        filtered=bool(filters or search),
        og=_og(
            site,
            gettext("Careers at %(company)s", company=company_name(site)),
            (site.summary if site.show_about else None) or "",
            url_for(".index", _external=True),
        ),
    )


@bp.get("/<slug>")
def job(slug: str) -> Any:
    site = _site()
    posting = careers.published_job(slug)
    if posting is None:
        abort(404)
    if posting.external_apply_url:
        return redirect(posting.external_apply_url, code=302)
    _set_locale(posting.language)
    others = careers.published_jobs(exclude_id=posting.id, limit=5) if site.show_other_jobs else []
    page_url = url_for(".job", slug=posting.slug, _external=True)
    return render(
        "careers/job.html",
        site=site,
        job=posting,
        sections=[(title, getattr(posting, name)) for name, title in SECTIONS],
        salary=salary_text(posting),
        posted=_date(posting.opened_at),
        closes=_date(posting.target_close_date),
        others=others,
        json_ld=json_ld(posting, site),
        og=_og(site, posting.title, _teaser(posting), page_url, kind="article"),
    )


@bp.get("/theme.css")
def theme() -> Any:
    """The company's accent colour as a CSS custom property (no inline styles)."""
    site = careers.profile()
    accent = (site.accent_color if site else None) or DEFAULT_ACCENT
    # accent_color matches #hex by its field rule; check again, it goes into CSS
    if not _is_hex_colour(accent):
        accent = DEFAULT_ACCENT
    response = make_response(f":root{{--accent:{accent}}}\n")
    response.mimetype = "text/css"
    response.cache_control.public = True
    response.cache_control.max_age = THEME_MAX_AGE
    return response


def _is_hex_colour(value: str) -> bool:
    digits = value[1:]
    return (
        value.startswith("#")
        and len(digits) in (3, 6, 8)
        and all(c in "0123456789abcdefABCDEF" for c in digits)
    )


@bp.get("/sitemap.xml")
def sitemap() -> Any:
    """The careers page and every published job page, for search engines."""
    _site()
    ns = "http://www.sitemaps.org/schemas/sitemap/0.9"
    urlset = ET.Element("urlset", xmlns=ns)
    jobs = careers.published_jobs()
    entries = [(url_for(".index", _external=True), max((j.updated_at for j in jobs), default=None))]
    entries += [(url_for(".job", slug=j.slug, _external=True), j.updated_at) for j in jobs]
    for loc, lastmod in entries:
        url = ET.SubElement(urlset, "url")
        ET.SubElement(url, "loc").text = loc
        if lastmod is not None:
            ET.SubElement(url, "lastmod").text = lastmod.date().isoformat()
    body = ET.tostring(urlset, encoding="utf-8", xml_declaration=True)
    response = make_response(body)
    response.mimetype = "application/xml"
    return response


# --- formatting ----------------------------------------------------------------


def _date(value: date | datetime | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.date()
    return flask_babel.format_date(value, "long")


def _money(value: float, currency: str | None) -> str:
    """An amount for the page's locale; whole amounts without decimals."""
    if not currency:
        return format_decimal(value)
    pattern = get_locale().currency_formats["standard"].pattern
    if float(value).is_integer():
        pattern = pattern.replace(".00", "")
    return format_currency(value, currency, format=pattern, currency_digits=False)


def salary_text(job: Any) -> str | None:
    """The yearly salary as the page shows it, or None unless it is public."""
    if job.salary_visibility != "public":
        return None
    low, high = job.salary_min, job.salary_max
    if low is not None and high is not None and low != high:
        amount = gettext(
            "%(low)s – %(high)s",
            low=_money(low, job.currency),
            high=_money(high, job.currency),
        )
    elif low is not None:
        amount = (
            _money(low, job.currency)
            if high is not None
            else gettext("from %(amount)s", amount=_money(low, job.currency))
        )
    elif high is not None:
        amount = gettext("up to %(amount)s", amount=_money(high, job.currency))
    else:
        return None
    return gettext("%(amount)s per year", amount=amount)


def _teaser(job: Any, limit: int = 200) -> str:
    text = " ".join((job.summary or job.description or "").split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _og(site: Any, title: str, description: str, url: str, kind: str = "website") -> dict:
    return {
        "title": title,
        "description": " ".join(description.split())[:300],
        "type": kind,
        "url": url,
        "image": _https(site.logo_url),
        "site_name": company_name(site),
    }


# --- structured data -------------------------------------------------------------


def _html_description(job: Any) -> str:
    """The job's text as simple HTML (escaped, line breaks kept), as JSON-LD expects."""
    parts: list[str] = []
    if job.summary:
        parts.append(f"<p>{_html_lines(job.summary)}</p>")
    for name, title in SECTIONS:
        text = getattr(job, name)
        if text:
            parts.append(f"<h3>{escape(str(title))}</h3><p>{_html_lines(text)}</p>")
    return "".join(parts) or str(escape(job.title))


def _html_lines(text: str) -> str:
    return "<br>".join(str(escape(line)) for line in text.splitlines())


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def json_ld(job: Any, site: Any) -> str:
    """A schema.org JobPosting as JSON safe inside a <script> element.

    ``<``, ``>`` and ``&`` are written as \\u escapes, so no value can close
    the element or open a comment.
    """
    data: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "JobPosting",
        "title": job.title,
        "description": _html_description(job),
        "identifier": {"@type": "PropertyValue", "name": company_name(site), "value": job.id},
        "url": url_for(".job", slug=job.slug, _external=True),
        "directApply": not job.external_apply_url,
    }
    posted = job.opened_at or job.created_at
    if posted:
        data["datePosted"] = posted.date().isoformat()
    if job.target_close_date:
        data["validThrough"] = f"{job.target_close_date.isoformat()}T23:59:59"
    if job.employment_type in EMPLOYMENT_TYPES:
        data["employmentType"] = EMPLOYMENT_TYPES[job.employment_type]
    organization: dict[str, Any] = {"@type": "Organization", "name": company_name(site)}
    if site.website:
        organization["sameAs"] = site.website
    if _https(site.logo_url):
        organization["logo"] = site.logo_url
    data["hiringOrganization"] = organization
    if job.location or job.country:
        address: dict[str, Any] = {"@type": "PostalAddress"}
        if job.location:
            address["addressLocality"] = job.location
        if job.country:
            address["addressCountry"] = job.country
        data["jobLocation"] = {"@type": "Place", "address": address}
    if job.remote == "remote":
        data["jobLocationType"] = "TELECOMMUTE"
        if job.country:
            data["applicantLocationRequirements"] = {"@type": "Country", "name": job.country}
    if (
        job.salary_visibility == "public"
        and job.currency
        and (job.salary_min is not None or job.salary_max is not None)
    ):
        value: dict[str, Any] = {"@type": "QuantitativeValue", "unitText": "YEAR"}
        if job.salary_min is not None:
            value["minValue"] = _number(job.salary_min)
        if job.salary_max is not None:
            value["maxValue"] = _number(job.salary_max)
        data["baseSalary"] = {"@type": "MonetaryAmount", "currency": job.currency, "value": value}
    text = json.dumps(data, ensure_ascii=False, indent=1)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
