"""The public careers pages: who sees which job, filters, languages, salary,
structured data (JSON-LD, OpenGraph, sitemap) and the no-inline-code rule."""

from __future__ import annotations

import json
import re
from xml.etree import ElementTree as ET

import pytest

PROFILE = {
    "name": "Acme GmbH",
    "display_name": "Acme",
    "public_careers_enabled": True,
    "imprint_url": "https://acme.example/imprint",
    "privacy_url": "https://acme.example/privacy",
    "website": "https://acme.example",
    "logo_url": "https://acme.example/logo.png",
    "accent_color": "#0a7c55",
    "summary": "We build anvils.",
    "show_about": True,
}


def published(api, **data):
    return api.job(**{"status": "open", "public": True, **data})


@pytest.fixture
def site(api):
    return api.create("company_profile", **PROFILE)


def html_of(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def json_ld(html: str) -> dict:
    blocks = re.findall(r'<script type="application/ld\+json">(.*?)</script>', html, re.S)
    assert len(blocks) == 1
    return json.loads(blocks[0])


def listed_titles(html: str) -> list[str]:
    return re.findall(r'class="job-card__title"><a href="[^"]+">([^<]+)</a>', html)


# --- the site switch -------------------------------------------------------------


def test_no_profile_means_no_careers_pages(api, client):
    published(api, slug="dev")
    for path in ("/careers", "/careers/dev", "/careers/sitemap.xml"):
        assert client.get(path).status_code == 404, path


def test_disabled_careers_pages_are_404(api, client):
    api.create("company_profile", **{**PROFILE, "public_careers_enabled": False})
    published(api, slug="dev")
    for path in ("/careers", "/careers/dev", "/careers/sitemap.xml"):
        assert client.get(path).status_code == 404, path


def test_list_shows_branding_summary_and_footer(site, client):
    html = html_of(client.get("/careers"))
    assert "Careers at Acme" in html
    assert "We build anvils." in html
    assert '<img class="site-logo" src="https://acme.example/logo.png"' in html
    assert 'href="https://acme.example/imprint"' in html
    assert 'href="https://acme.example/privacy"' in html
    assert '<html lang="en">' in html


def test_summary_hidden_without_show_about(api, client):
    api.create("company_profile", **{**PROFILE, "show_about": False})
    assert "We build anvils." not in html_of(client.get("/careers"))


def test_theme_css_carries_the_accent_colour(site, client):
    r = client.get("/careers/theme.css")
    assert r.status_code == 200
    assert r.mimetype == "text/css"
    assert "--accent:#0a7c55" in r.get_data(as_text=True)
    assert r.cache_control.max_age and r.cache_control.max_age <= 3600


# --- which jobs are public ---------------------------------------------------------


def test_only_published_jobs_are_listed_and_reachable(api, client, site):
    published(api, title="Open One", slug="open-one")
    hidden = {
        "draft": api.job(title="Draft One", slug="draft-one", status="draft", public=True),
        "paused": published(api, title="Paused One", slug="paused-one"),
        "closed": published(api, title="Closed One", slug="closed-one"),
        "filled": published(api, title="Filled One", slug="filled-one"),
        "private": api.job(title="Private One", slug="private-one", status="open", public=False),
        "archived": published(api, title="Archived One", slug="archived-one"),
    }
    for status in ("paused", "closed", "filled"):
        r = api.patch(f"/data/job/{hidden[status]['id']}", json={"status": status})
        assert r.status_code == 200, r.get_json()
    assert api.post(f"/data/job/{hidden['archived']['id']}/archive").status_code == 200

    html = html_of(client.get("/careers"))
    assert listed_titles(html) == ["Open One"]
    assert client.get("/careers/open-one").status_code == 200
    for job in hidden.values():
        assert client.get(f"/careers/{job['data']['slug']}").status_code == 404
    assert client.get("/careers/no-such-job").status_code == 404


# --- filters and search ------------------------------------------------------------


@pytest.fixture
def three_jobs(api, site):
    published(
        api,
        title="Backend Engineer",
        department="Engineering",
        location="Berlin",
        remote="hybrid",
        employment_type="full_time",
    )
    published(
        api,
        title="Sales Lead",
        department="Sales",
        location="Munich",
        remote="onsite",
        employment_type="part_time",
        summary="Sell anvils to coyotes.",
    )
    published(
        api,
        title="Design Intern",
        department="Design",
        location="Berlin",
        remote="remote",
        employment_type="internship",
    )


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", {"Backend Engineer", "Sales Lead", "Design Intern"}),
        ("department=Sales", {"Sales Lead"}),
        ("location=Berlin", {"Backend Engineer", "Design Intern"}),
        ("remote=remote", {"Design Intern"}),
        ("employment_type=full_time", {"Backend Engineer"}),
        ("location=Berlin&remote=hybrid", {"Backend Engineer"}),
        ("q=engineer", {"Backend Engineer"}),
        ("q=coyotes", {"Sales Lead"}),  # the summary is searched too
        ("q=berlin+intern", {"Design Intern"}),  # every word must match
        ("q=nothing-like-this", set()),
        ("q=%25", set()),  # LIKE wildcards are literal
        ("remote=bogus", {"Backend Engineer", "Sales Lead", "Design Intern"}),  # ignored
    ],
)
def test_filters_and_search(client, three_jobs, query, expected):
    html = html_of(client.get(f"/careers?{query}"))
    assert set(listed_titles(html)) == expected


def test_filter_form_keeps_the_choice_and_offers_present_values(client, three_jobs):
    html = html_of(client.get("/careers?department=Sales&q=lead"))
    assert '<form class="job-filters" method="get"' in html
    assert 'value="lead"' in html
    assert '<option value="Sales" selected>' in html
    assert '<option value="Munich">' in html
    assert '<option value="hybrid">Hybrid</option>' in html
    assert '<option value="freelance">' not in html  # no such job


# --- the job page -------------------------------------------------------------------


def test_job_page_shows_the_texts_escaped_with_line_breaks(api, client, site):
    published(
        api,
        slug="dev",
        summary="Short summary",
        description="First line\nSecond <b>line</b>",
        responsibilities="Build things",
        requirements="Python",
        nice_to_have="Rust",
        benefits="Cake",
        seniority="senior",
        employment_type="working_student",
        remote="hybrid",
        location="Berlin",
    )
    html = html_of(client.get("/careers/dev"))
    for text in ("Short summary", "Build things", "Python", "Rust", "Cake"):
        assert text in html
    assert "First line\nSecond &lt;b&gt;line&lt;/b&gt;" in html
    assert "<b>line</b>" not in html
    for label in ("Senior", "Working student", "Hybrid", "Berlin"):
        assert label in html
    assert 'href="/careers/dev/apply"' in html


def test_salary_only_when_public(api, client, site):
    salary = {"salary_min": 60000, "salary_max": 80000, "currency": "EUR"}
    published(api, slug="public-pay", salary_visibility="public", **salary)
    published(api, slug="team-pay", salary_visibility="team", **salary)
    published(api, slug="no-visibility", **salary)
    html = html_of(client.get("/careers/public-pay"))
    assert "€60,000 – €80,000 per year" in html
    for slug in ("team-pay", "no-visibility"):
        html = html_of(client.get(f"/careers/{slug}"))
        assert "60,000" not in html and "Salary" not in html
        assert "baseSalary" not in json_ld(html)


def test_salary_in_german_format(api, client, site):
    published(api, slug="de-pay", salary_visibility="public", salary_min=60000, currency="EUR")
    html = html_of(client.get("/careers/de-pay", headers={"Accept-Language": "de"}))
    assert "ab 60.000\xa0€ pro Jahr" in html


def test_external_apply_url_redirects(api, client, site):
    published(api, slug="elsewhere", external_apply_url="https://jobs.example/123")
    r = client.get("/careers/elsewhere")
    assert r.status_code == 302
    assert r.headers["Location"] == "https://jobs.example/123"


def test_job_in_german_by_its_language(api, client, site):
    published(
        api,
        slug="de-job",
        language="de",
        employment_type="full_time",
        remote="onsite",
        target_close_date="2030-01-31",
    )
    html = html_of(client.get("/careers/de-job", headers={"Accept-Language": "en"}))
    assert '<html lang="de">' in html
    for text in ("Jetzt bewerben", "Vollzeit", "Vor Ort", "31. Januar 2030", "Impressum"):
        assert text in html


def test_english_job_stays_english_for_a_german_browser(api, client, site):
    published(api, slug="en-job", language="en", employment_type="full_time")
    html = html_of(client.get("/careers/en-job", headers={"Accept-Language": "de"}))
    assert '<html lang="en">' in html
    assert "Apply now" in html and "Full-time" in html


def test_list_in_german_by_accept_language(api, client, site):
    published(api, title="Entwickler", employment_type="part_time")
    html = html_of(client.get("/careers", headers={"Accept-Language": "de-DE,de;q=0.9"}))
    assert '<html lang="de">' in html
    for text in ("Karriere bei Acme", "Offene Stellen", "1 offene Stelle", "Teilzeit", "Suche"):
        assert text in html


def test_other_jobs_only_when_enabled(api, client):
    profile = api.create("company_profile", **{**PROFILE, "show_other_jobs": True})
    published(api, title="Main Job", slug="main")
    published(api, title="Second Job", slug="second")
    html = html_of(client.get("/careers/main"))
    assert "Other open positions" in html and 'href="/careers/second"' in html
    r = api.patch(f"/data/company_profile/{profile['id']}", json={"show_other_jobs": False})
    assert r.status_code == 200, r.get_json()
    html = html_of(client.get("/careers/main"))
    assert "Other open positions" not in html


# --- structured data ------------------------------------------------------------------


def test_json_ld_job_posting(api, client, site):
    published(
        api,
        title="Backend Engineer",
        slug="dev",
        description="Write code.",
        employment_type="internship",
        location="Berlin",
        country="DE",
        remote="hybrid",
        target_close_date="2030-01-31",
        salary_visibility="public",
        salary_min=50000,
        salary_max=70000,
        currency="EUR",
    )
    data = json_ld(html_of(client.get("/careers/dev")))
    assert data["@context"] == "https://schema.org"
    assert data["@type"] == "JobPosting"
    assert data["title"] == "Backend Engineer"
    assert "Write code." in data["description"]
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", data["datePosted"])
    assert data["validThrough"] == "2030-01-31T23:59:59"
    assert data["employmentType"] == "INTERN"
    assert data["hiringOrganization"] == {
        "@type": "Organization",
        "name": "Acme",
        "sameAs": "https://acme.example",
        "logo": "https://acme.example/logo.png",
    }
    assert data["jobLocation"] == {
        "@type": "Place",
        "address": {"@type": "PostalAddress", "addressLocality": "Berlin", "addressCountry": "DE"},
    }
    assert "jobLocationType" not in data
    assert data["directApply"] is True
    assert data["baseSalary"] == {
        "@type": "MonetaryAmount",
        "currency": "EUR",
        "value": {
            "@type": "QuantitativeValue",
            "unitText": "YEAR",
            "minValue": 50000,
            "maxValue": 70000,
        },
    }


@pytest.mark.parametrize(
    ("employment_type", "expected"),
    [
        ("full_time", "FULL_TIME"),
        ("part_time", "PART_TIME"),
        ("internship", "INTERN"),
        ("working_student", "PART_TIME"),
        ("freelance", "CONTRACTOR"),
        ("contract", "CONTRACTOR"),
    ],
)
def test_json_ld_employment_type(api, client, site, employment_type, expected):
    published(api, slug="job", employment_type=employment_type)
    assert json_ld(html_of(client.get("/careers/job")))["employmentType"] == expected


def test_json_ld_remote_is_telecommute(api, client, site):
    published(
        api,
        slug="remote",
        remote="remote",
        country="DE",
        salary_visibility="private",
        salary_min=1,
        currency="EUR",
    )
    data = json_ld(html_of(client.get("/careers/remote")))
    assert data["jobLocationType"] == "TELECOMMUTE"
    assert data["applicantLocationRequirements"] == {"@type": "Country", "name": "DE"}
    assert "baseSalary" not in data


def test_a_hostile_title_cannot_leave_the_json_ld_block(api, client, site):
    title = "Dev </script><script>alert(1)</script> & <!--"
    published(api, slug="evil", title=title, description="</script><script>alert(2)</script>")
    html = html_of(client.get("/careers/evil"))
    assert "</script><script>alert" not in html
    assert "<!--" not in html
    data = json_ld(html)
    assert data["title"] == title


def test_logo_data_url_is_not_in_structured_data(api, client):
    logo = "data:image/png;base64,iVBORw0KGgo="
    api.create("company_profile", **{**PROFILE, "logo_url": logo})
    published(api, slug="dev")
    html = html_of(client.get("/careers/dev"))
    assert f'src="{logo}"' in html
    assert "logo" not in json_ld(html)["hiringOrganization"]
    assert 'property="og:image"' not in html


def test_opengraph_tags(api, client, site):
    published(api, title="Backend Engineer", slug="dev", summary="Build the backend.")
    html = html_of(client.get("/careers/dev"))
    assert '<meta property="og:title" content="Backend Engineer">' in html
    assert '<meta property="og:description" content="Build the backend.">' in html
    assert '<meta property="og:type" content="article">' in html
    assert '<meta property="og:url" content="http://localhost/careers/dev">' in html
    assert '<meta property="og:image" content="https://acme.example/logo.png">' in html
    listing = html_of(client.get("/careers"))
    assert '<meta property="og:url" content="http://localhost/careers">' in listing


def test_sitemap_lists_exactly_the_published_jobs(api, client, site):
    published(api, slug="one")
    published(api, slug="two")
    api.job(slug="draft", status="draft", public=True)
    api.job(slug="private", status="open", public=False)
    r = client.get("/careers/sitemap.xml")
    assert r.status_code == 200
    assert r.mimetype == "application/xml"
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    root = ET.fromstring(r.data)
    locs = [u.findtext("s:loc", namespaces=ns) for u in root.findall("s:url", ns)]
    assert sorted(locs) == [
        "http://localhost/careers",
        "http://localhost/careers/one",
        "http://localhost/careers/two",
    ]
    for url in root.findall("s:url", ns):
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", url.findtext("s:lastmod", namespaces=ns))


# --- no inline code (a strict CSP comes later) -----------------------------------------


def test_no_inline_scripts_or_styles(api, client, site):
    published(api, slug="dev", title="Dev", description="x", remote="remote")
    published(api, slug="other")
    for path in ("/careers", "/careers?q=dev", "/careers/dev"):
        html = html_of(client.get(path))
        assert "style=" not in html and "<style" not in html, path
        for tag in re.findall(r"<script\b[^>]*>", html):
            assert "src=" in tag or 'type="application/ld+json"' in tag, (path, tag)
        assert not re.search(r"\son[a-z]+=", html), path
