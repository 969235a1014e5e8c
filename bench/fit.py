"""How well the offline fit scorer ranks applications, and how fast it is.

Four made-up jobs (two English, two German) with seven or eight made-up
applications each, every one graded by hand: 3 strong, 2 good, 1 weak, 0
unrelated. Two are there to show the limits of keyword matching: a
beginner who lists the right words, and a good candidate who paraphrases. Some
CVs are plain text, some real PDF and DOCX files written at run time with
pypdf and python-docx and read back by ``ats.services.cv_text``. For each job
the scorer's order is compared with the grades:

- Spearman's rho between score and grade (1 = the same order),
- NDCG@3 (are the best ones on top?),
- pairwise accuracy: of the pairs with different grades, the share the
  scorer puts in the right order (a tie counts half).

Then the time per application: scoring alone, and reading a PDF or DOCX
in this process and in the bounded child process the worker uses.

    .venv/bin/python bench/fit.py [--runs 50]

The data is made up by the people who wrote the scorer, so the figures are a
regression check for this scorer, not proof of how it does on real CVs.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ats.services import cv_text  # noqa: E402
from ats.services.scoring import CV_READ, Evidence, JobText, assess  # noqa: E402
from tests.cvfiles import make_docx, make_pdf  # noqa: E402


@dataclass
class Cv:
    name: str
    grade: int
    text: str
    kind: str = "text"  # "text", "pdf" or "docx"
    cover_letter: str = ""


JOBS: list[tuple[JobText, list[Cv]]] = [
    (
        JobText(
            title="Backend Engineer (Python)",
            language="en",
            requirements="""- 3+ years of professional Python
- Django, Flask or FastAPI
- PostgreSQL and solid SQL
- Docker and Kubernetes in production
- REST API design
- Fluent English""",
            nice_to_have="- Terraform\n- AWS or GCP\n- Kafka",
        ),
        [
            Cv(
                "senior-python",
                3,
                """Maya Chen - Senior Backend Developer
Six years building Python services with Django and FastAPI.
Designed RESTful APIs used by 40 partner companies.
PostgreSQL schema design, query tuning, SQL reporting.
Runs everything on k8s (Helm, Docker); infrastructure in Terraform on AWS.
Languages: English (native), Mandarin.""",
                "pdf",
            ),
            Cv(
                "mid-python",
                2,
                """Tom Becker, Software Engineer
2019-2024 Python developer at a logistics start-up: Flask APIs, Postgres.
Containerised the services with Docker; some Kubernetes exposure.
English C1, German native.""",
                "docx",
            ),
            Cv(
                "java-backend",
                1,
                """Backend engineer, 7 years of Java and Spring Boot.
Oracle and MySQL databases, REST services, Docker.
English fluent.""",
            ),
            Cv(
                "python-data",
                1,
                """Data analyst. Python (pandas, numpy), Jupyter notebooks, SQL queries
against the warehouse, dashboards in Tableau. English.""",
            ),
            Cv(
                "devops",
                2,
                """Platform engineer: Kubernetes, Docker, Terraform, AWS, GCP, Kafka operations.
Automation scripts in Python and Bash, PostgreSQL administration.
Fluent English.""",
                "pdf",
            ),
            Cv(
                "frontend",
                0,
                """Frontend developer: React, TypeScript, CSS, Figma hand-offs.
Some Node.js. English and Spanish.""",
            ),
            Cv(
                "keyword-list",
                1,
                """Barista, currently taking an online course. Keen to learn Python, Django,
PostgreSQL, Docker, Kubernetes and REST APIs. English.""",
            ),
            Cv(
                "nurse",
                0,
                """Registered nurse with ten years on a cardiology ward. Patient care,
medication management, night shifts. English.""",
                "docx",
            ),
        ],
    ),
    (
        JobText(
            title="Data Scientist",
            language="en",
            requirements="""* MSc or PhD in a quantitative field
* Machine learning: scikit-learn, PyTorch or TensorFlow
* Python with pandas and NumPy
* Statistics and experiment design (A/B tests)
* SQL""",
            nice_to_have="* Spark\n* NLP\n* Airflow",
        ),
        [
            Cv(
                "ml-phd",
                3,
                """Dr. Lena Ortiz - PhD in Statistics, 2020.
Deep learning with PyTorch, classical ML with sklearn.
Python every day: pandas, numpy. Designed and analysed A/B experiments.
SQL on BigQuery; pipelines in Apache Airflow; Spark for large joins.
Natural language processing for support tickets.""",
                "pdf",
            ),
            Cv(
                "analyst",
                1,
                """Business analyst. Excel, Power BI dashboards, SQL reporting.
Bachelor in business administration.""",
            ),
            Cv(
                "ml-engineer",
                2,
                """Machine learning engineer, MSc Computer Science.
TensorFlow and Keras models in production, Python, pandas.
Some statistics; SQL.""",
                "docx",
            ),
            Cv(
                "backend",
                1,
                """Python backend developer: Django, PostgreSQL, SQL, Docker.
Curious about machine learning.""",
            ),
            Cv(
                "statistician",
                2,
                """M.Sc. Statistics. Experiment design, hypothesis tests, regression.
R and Python (pandas, NumPy), SQL. Some scikit-learn.""",
            ),
            Cv(
                "paraphrase",
                2,
                """Doctorate in physics. Built recommendation and demand-forecasting models for
an online shop and ran controlled experiments on its checkout, using the usual
Python data stack and the warehouse's query language.""",
            ),
            Cv(
                "designer",
                0,
                """UX designer: user research, Figma prototypes, usability tests.""",
            ),
            Cv(
                "accountant",
                0,
                """Accountant, ten years of bookkeeping and annual accounts; DATEV, Excel.""",
                "pdf",
            ),
        ],
    ),
    (
        JobText(
            title="Frontend-Entwickler:in (React)",
            language="de",
            requirements="""Was du mitbringst:
- Mehrjährige Erfahrung mit React und TypeScript
- Sehr gute HTML- und CSS-Kenntnisse
- Erfahrung mit automatisierten Tests (z. B. Jest, Playwright)
- Verständnis für Barrierefreiheit
- Sehr gute Deutschkenntnisse""",
            nice_to_have="Next.js, GraphQL, Figma",
        ),
        [
            Cv(
                "react-senior",
                3,
                """Jana Weber - Senior Frontend-Entwicklerin
Seit 2017 React (Hooks, Redux) und TypeScript, Next.js.
Semantisches HTML5, CSS3/Sass, Barrierefreiheit nach WCAG 2.1.
Testautomatisierung mit Jest und Playwright.
GraphQL-Clients, Zusammenarbeit mit Design in Figma.
Sprachen: Deutsch (Muttersprache), Englisch.""",
                "docx",
            ),
            Cv(
                "vue-dev",
                2,
                """Frontend-Entwickler mit Vue.js und TypeScript, HTML und CSS.
Unit-Tests mit Jest. Deutsch fließend.""",
                "pdf",
            ),
            Cv(
                "react-junior-en",
                2,
                """Junior web developer: React, JavaScript, HTML, CSS. Learning TypeScript.
Wrote Playwright tests. German B2, English native.""",
            ),
            Cv(
                "backend-java",
                1,
                """Java-Entwickler, Spring Boot, REST-Schnittstellen, etwas HTML.
Deutsch Muttersprache.""",
            ),
            Cv(
                "designer-de",
                1,
                """UX/UI-Designerin: Figma, Prototypen, Barrierefreiheit im Design,
Grundkenntnisse HTML und CSS. Deutsch.""",
            ),
            Cv(
                "sales",
                0,
                """Vertriebsmitarbeiter im Außendienst, Kundenbetreuung, Führerschein Klasse B.""",
                "pdf",
            ),
            Cv(
                "warehouse",
                0,
                """Lagerist mit Staplerschein, Kommissionierung, Inventur.""",
            ),
        ],
    ),
    (
        JobText(
            title="Vertriebsleiter:in DACH",
            language="de",
            requirements="""* Abgeschlossenes Studium (BWL o. ä.)
* Mindestens 5 Jahre Erfahrung im B2B-Vertrieb
* Führungserfahrung
* Verhandlungssichere Deutsch- und Englischkenntnisse
* Erfahrung mit Salesforce oder einem vergleichbaren CRM
* Reisebereitschaft""",
            nice_to_have="Branchenkenntnisse SaaS; Französisch",
        ),
        [
            Cv(
                "sales-head",
                3,
                """Markus Huber, Head of Sales DACH
Studium der BWL (Diplom). 9 Jahre B2B-Vertrieb von SaaS-Software.
Disziplinarische Führung eines Teams von 12 Personen.
Salesforce-Administrator, Forecasting im CRM.
Deutsch (Muttersprache), Englisch verhandlungssicher, Französisch gut.
Hohe Reisebereitschaft.""",
                "pdf",
            ),
            Cv(
                "account-exec",
                2,
                """Account Executive, B2B sales for 6 years, Bachelor in Business.
HubSpot and Salesforce CRM. English and German fluent. Happy to travel.""",
                "docx",
            ),
            Cv(
                "marketing",
                1,
                """Marketing-Managerin: Online-Marketing, SEO, Kampagnen, Studium der
Kommunikationswissenschaft. Deutsch und Englisch.""",
            ),
            Cv(
                "team-lead-support",
                1,
                """Teamleiter Kundenservice, Führung von 8 Mitarbeitenden, Zendesk.
Ausbildung zum Kaufmann. Deutsch.""",
            ),
            Cv(
                "sales-junior",
                2,
                """Vertriebsmitarbeiterin im Innendienst B2B, 3 Jahre, Salesforce.
Bachelor BWL. Deutsch und Englisch fließend.""",
            ),
            Cv(
                "developer",
                0,
                """Softwareentwickler: Python, Django, PostgreSQL, Docker.""",
            ),
            Cv(
                "chef",
                0,
                """Koch mit Erfahrung in der gehobenen Gastronomie, HACCP-Schulung.""",
                "docx",
            ),
        ],
    ),
]


# --- ranking measures -------------------------------------------------------------


def _ranks(values: list[float]) -> list[float]:
    """Average ranks (1 = smallest), ties sharing the mean of their places."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def spearman(a: list[float], b: list[float]) -> float:
    ra, rb = _ranks(a), _ranks(b)
    ma, mb = statistics.fmean(ra), statistics.fmean(rb)
    cov = sum((x - ma) * (y - mb) for x, y in zip(ra, rb, strict=True))
    sa = math.sqrt(sum((x - ma) ** 2 for x in ra))
    sb = math.sqrt(sum((y - mb) ** 2 for y in rb))
    return cov / (sa * sb) if sa and sb else 0.0


def ndcg(scores: list[float], grades: list[int], k: int = 3) -> float:
    def dcg(gs: list[int]) -> float:
        return sum((2**g - 1) / math.log2(i + 2) for i, g in enumerate(gs[:k]))

    # ties in score: the worse grade first, so a tie never flatters the scorer
    ranked = [g for _s, g in sorted(zip(scores, grades, strict=True), key=lambda p: (-p[0], p[1]))]
    ideal = dcg(sorted(grades, reverse=True))
    return dcg(ranked) / ideal if ideal else 0.0


def pairwise(scores: list[float], grades: list[int]) -> float:
    right = total = 0.0
    for i in range(len(scores)):
        for j in range(len(scores)):
            if grades[i] > grades[j]:
                total += 1
                if scores[i] > scores[j]:
                    right += 1
                elif scores[i] == scores[j]:
                    right += 0.5
    return right / total if total else 0.0


# --- running ---------------------------------------------------------------------------


def _file(cv: Cv) -> bytes:
    lines = cv.text.splitlines()
    if cv.kind == "pdf":
        return make_pdf([lines])
    return make_docx(lines)


def _median_ms(fn, runs: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=50, help="timing repetitions")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="ats-fit-bench-"))
    print(
        "| job | lang | CVs (pdf/docx) | Spearman rho | NDCG@3 | pairwise | ranking (grade:score) |"
    )
    print("|---|---|---|---|---|---|---|")
    all_pairs: list[float] = []
    all_rho: list[float] = []
    all_ndcg: list[float] = []
    evidences: list[tuple[JobText, Evidence]] = []
    files: dict[str, list[tuple[Path, bytes]]] = {"pdf": [], "docx": []}
    for job, cvs in JOBS:
        scores, grades = [], []
        for cv in cvs:
            text = cv.text
            if cv.kind != "text":
                data = _file(cv)
                path = tmp / f"{cv.name}.{cv.kind}"
                path.write_bytes(data)
                files[cv.kind].append((path, data))
                got = cv_text.extract(data, cv.kind)
                assert got.readable, (cv.name, got)
                text = got.text
            evidence = Evidence(cv_text=text, cv_state=CV_READ, cover_letter=cv.cover_letter)
            evidences.append((job, evidence))
            fit = assess(job, evidence)
            scores.append(fit.score or 0.0)
            grades.append(cv.grade)
        rho, n3, pw = spearman(scores, grades), ndcg(scores, grades), pairwise(scores, grades)
        all_rho.append(rho)
        all_ndcg.append(n3)
        all_pairs.append(pw)
        ranking = " ".join(
            f"{g}:{s:g}"
            for s, g in sorted(zip(scores, grades, strict=True), key=lambda p: (-p[0], p[1]))
        )
        kinds = f"{len(cvs)} ({sum(c.kind == 'pdf' for c in cvs)}/"
        kinds += f"{sum(c.kind == 'docx' for c in cvs)})"
        print(
            f"| {job.title} | {job.lang} | {kinds} | {rho:.2f} | {n3:.2f} | {pw:.2f} | {ranking} |"
        )
    print(
        f"| **mean** | | {len(evidences)} | {statistics.fmean(all_rho):.2f} | "
        f"{statistics.fmean(all_ndcg):.2f} | {statistics.fmean(all_pairs):.2f} | |"
    )
    print()

    def score_all() -> None:
        for job, evidence in evidences:
            assess(job, evidence)

    per_app = _median_ms(score_all, args.runs) / len(evidences)
    long_cv = Evidence(cv_text=" ".join(c.text for _j, cvs in JOBS for c in cvs) * 8)
    long_ms = _median_ms(lambda: assess(JOBS[0][0], long_cv), args.runs)
    pdf_path, pdf = files["pdf"][0]
    docx_path, docx = files["docx"][0]
    child_runs = max(3, args.runs // 10)
    rows = [
        ("score (offline, CV text already read)", per_app, 2),
        (f"score a long CV ({len(long_cv.cv_text):,} characters)", long_ms, 2),
        (
            "read a PDF CV in process (pypdf)",
            _median_ms(lambda: cv_text.extract(pdf, "pdf"), args.runs),
            2,
        ),
        (
            "read a DOCX CV in process (python-docx)",
            _median_ms(lambda: cv_text.extract(docx, "docx"), args.runs),
            2,
        ),
        (
            "read a PDF CV in the bounded child process",
            _median_ms(lambda: cv_text.extract_file(pdf_path, "pdf"), child_runs),
            0,
        ),
        (
            "read a DOCX CV in the bounded child process",
            _median_ms(lambda: cv_text.extract_file(docx_path, "docx"), child_runs),
            0,
        ),
    ]
    print("| step | median ms per application |")
    print("|---|---|")
    for label, ms, digits in rows:
        print(f"| {label} | {ms:.{digits}f} |")


if __name__ == "__main__":
    main()
