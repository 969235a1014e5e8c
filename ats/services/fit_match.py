"""Words for fit scoring: a job's requirements as items, a candidate's text as terms.

Deterministic and offline, English and German alike:

- **Items.** ``requirements`` and ``nice_to_have`` are free text, often a
  Markdown list. ``split_items`` takes lines and bullets, then sentences,
  then commas, semicolons and "and"/"und"; "or"/"oder" and "A/B" make
  alternatives of one item, and examples ("e.g.", "z. B.", "such as", a
  parenthesised list) are alternatives too.
- **Terms.** ``terms`` folds case and accents (ß → ss, ü → u), keeps tech
  names whole (C++, C#, .NET, Node.js, CI/CD), splits German compounds on
  known heads ("Pythonkenntnisse" → python + kenntnisse, "Führungserfahrung"
  → führung + erfahrung), maps synonyms to one concept (JS/JavaScript,
  k8s/Kubernetes, Postgres/PostgreSQL, ML/machine learning, Deutsch/German
  ...) and stems what is left with a light suffix stripper that knows
  English and German plurals and endings (databases/Datenbanken, developer/
  Entwicklerin). Filler words ("experience", "Kenntnisse", "sehr gute") are
  dropped from items, so an item is matched by what it is about.

The same steps run on both sides, so whatever they get wrong they get wrong
alike, and a match stays a match.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

# --- synonyms -------------------------------------------------------------------
#
# concept: surface forms (written as people write them; folded and tokenised at
# import). A term found through this table weighs more than a plain word.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "javascript": ("javascript", "js", "ecmascript", "es6", "vanilla js"),
    "typescript": ("typescript",),
    "python": ("python", "python3"),
    "golang": ("golang",),
    "java": ("java", "jvm"),
    "kotlin": ("kotlin",),
    "scala": ("scala",),
    "rust": ("rust",),
    "ruby": ("ruby", "ruby on rails", "rails", "ror"),
    "php": ("php", "laravel", "symfony"),
    "c": ("c",),
    "r": ("r",),
    "cplusplus": ("c++", "cpp"),
    "csharp": ("c#", "csharp"),
    "dotnet": (".net", "dotnet", "asp.net", ".net core"),
    "swift": ("swift",),
    "nodejs": ("node.js", "nodejs", "node"),
    "react": ("react", "react.js", "reactjs"),
    "vue": ("vue", "vue.js", "vuejs"),
    "angular": ("angular", "angularjs"),
    "html": ("html", "html5"),
    "css": ("css", "css3", "sass", "scss", "tailwind"),
    "django": ("django",),
    "flask": ("flask",),
    "fastapi": ("fastapi",),
    "spring": ("spring", "spring boot"),
    "sql": ("sql",),
    "postgresql": ("postgresql", "postgres", "psql"),
    "mysql": ("mysql", "mariadb"),
    "mssql": ("mssql", "sql server", "microsoft sql server", "t-sql", "tsql"),
    "oracle": ("oracle", "oracle db", "pl/sql", "plsql"),
    "mongodb": ("mongodb", "mongo"),
    "redis": ("redis",),
    "elasticsearch": ("elasticsearch", "elastic search", "opensearch"),
    "kafka": ("kafka", "apache kafka"),
    "rabbitmq": ("rabbitmq",),
    "graphql": ("graphql",),
    "rest_api": ("rest api", "rest apis", "restful", "rest-api", "rest-apis", "rest services"),
    "microservices": (
        "microservices",
        "microservice",
        "micro services",
        "microservice architecture",
    ),
    "docker": ("docker", "docker compose", "podman"),
    "kubernetes": ("kubernetes", "k8s", "openshift", "helm"),
    "terraform": ("terraform", "opentofu"),
    "ansible": ("ansible",),
    "aws": ("aws", "amazon web services", "ec2", "s3"),
    "gcp": ("gcp", "google cloud", "google cloud platform"),
    "azure": ("azure", "microsoft azure"),
    "linux": ("linux", "unix", "ubuntu", "debian", "red hat", "rhel"),
    "git": ("git", "github", "gitlab", "bitbucket"),
    "cicd": (
        "ci/cd",
        "cicd",
        "continuous integration",
        "continuous delivery",
        "continuous deployment",
        "github actions",
        "gitlab ci",
        "jenkins",
    ),
    "devops": ("devops", "sre", "site reliability engineering"),
    "testing": (
        "unit testing",
        "unit tests",
        "test automation",
        "testautomatisierung",
        "automated testing",
        "tdd",
        "pytest",
        "junit",
    ),
    "machine_learning": (
        "machine learning",
        "ml",
        "maschinelles lernen",
        "deep learning",
        "scikit-learn",
        "sklearn",
    ),
    "ai": ("ai", "artificial intelligence", "ki", "kunstliche intelligenz"),
    "nlp": ("nlp", "natural language processing", "computerlinguistik"),
    "llm": ("llm", "llms", "large language models", "large language model"),
    "pytorch": ("pytorch", "torch"),
    "tensorflow": ("tensorflow", "keras"),
    "pandas": ("pandas",),
    "numpy": ("numpy",),
    "spark": ("spark", "pyspark", "apache spark", "databricks"),
    "airflow": ("airflow", "apache airflow"),
    "data_analysis": ("data analysis", "datenanalyse", "data analytics", "analytics"),
    "statistics": ("statistics", "statistik", "statistical"),
    "power_bi": ("power bi", "powerbi"),
    "tableau": ("tableau",),
    "excel": ("excel", "ms excel", "microsoft excel", "spreadsheets"),
    "ms_office": ("ms office", "microsoft office", "office 365", "microsoft 365", "m365"),
    "sap": ("sap", "sap s/4hana", "s/4hana"),
    "salesforce": ("salesforce",),
    "jira": ("jira", "confluence"),
    "figma": ("figma",),
    "ux": ("ux", "user experience", "ux design", "usability"),
    "ui": ("ui", "user interface", "ui design"),
    "scrum": ("scrum",),
    "scrum_master": ("scrum master",),
    "agile": ("agile", "agil", "agile methods", "agile methoden", "kanban"),
    "project_management": (
        "project management",
        "projektmanagement",
        "projektleitung",
        "project manager",
        "projektmanager",
        "pmp",
        "prince2",
    ),
    "product_management": ("product management", "produktmanagement", "product owner"),
    "leadership": (
        "leadership",
        "fuhrung",
        "team lead",
        "team leader",
        "teamleitung",
        "teamleiter",
        "people management",
        "personalverantwortung",
        "disziplinarische fuhrung",
    ),
    "communication": ("communication", "kommunikation", "kommunikationsstark"),
    "teamwork": ("teamwork", "team player", "teamplayer", "teamfahigkeit", "teamfahig"),
    "customer_service": (
        "customer service",
        "customer support",
        "kundenservice",
        "kundendienst",
        "kundenbetreuung",
        "kundensupport",
    ),
    "sales": ("sales", "vertrieb", "verkauf", "business development"),
    "marketing": ("marketing",),
    "online_marketing": ("online marketing", "digital marketing", "performance marketing"),
    "seo": (
        "seo",
        "search engine optimisation",
        "search engine optimization",
        "suchmaschinenoptimierung",
    ),
    "accounting": (
        "accounting",
        "buchhaltung",
        "bookkeeping",
        "finanzbuchhaltung",
        "rechnungswesen",
    ),
    "controlling": ("controlling",),
    "hr": ("hr", "human resources", "personalwesen", "recruiting", "personalabteilung"),
    "security": (
        "it security",
        "it-sicherheit",
        "it sicherheit",
        "informationssicherheit",
        "cybersecurity",
        "cyber security",
        "security",
    ),
    "networking": ("networking", "netzwerktechnik", "tcp/ip", "netzwerke"),
    "english": ("english", "englisch"),
    "german": ("german", "deutsch"),
    "french": ("french", "franzosisch"),
    "spanish": ("spanish", "spanisch"),
    "italian": ("italian", "italienisch"),
    "polish": ("polish", "polnisch"),
    "turkish": ("turkish", "turkisch"),
    "driving_licence": (
        "driving licence",
        "driving license",
        "driver's license",
        "drivers license",
        "driver license",
        "fuhrerschein",
        "fuhrerschein klasse b",
    ),
    "computer_science": ("computer science", "informatik", "wirtschaftsinformatik"),
    "bachelor": ("bachelor", "bachelors", "b.sc.", "bsc", "b.a."),
    "master": ("master", "masters", "m.sc.", "msc", "m.a.", "diplom"),
    "phd": ("phd", "ph.d.", "doctorate", "doktor", "doktorarbeit"),
    "degree": (
        "degree",
        "studium",
        "hochschulabschluss",
        "university degree",
        "universitatsabschluss",
    ),
    "apprenticeship": (
        "apprenticeship",
        "ausbildung",
        "berufsausbildung",
        "abgeschlossene ausbildung",
    ),
    "nursing": ("nursing", "pflege", "krankenpflege", "pflegefachkraft", "registered nurse"),
}

# Filler: words that say how much or how well, not what (folded forms; their
# stems count too, so "sehr gute" and "fundierten" go as well).
STOPWORDS = frozenset(
    """
a an the and or of in on at to for with without from by as is are be been being have has had
having you your we our us they their i me my it its this that these those will would should can
could must may might do does did not no nor but if then than so such very more most much many any
some all each every other also etc eg ie plus least into within across about over under per via
who what which where when how why ideally preferably preferred desirable bonus nice required
requirement requirements must-have minimum min several year years yr yrs month months experience
experienced experiences knowledge skill skills ability abilities able understanding familiarity
familiar proficiency proficient strong solid good great excellent outstanding proven deep sound
working work hands-on hands practical professional relevant related demonstrated advanced basic
basics background using use used usage level levels fluent fluency fluently native spoken written
verbal language languages expertise expert track record least least ideally equivalent similar
comparable field area areas topic topics including include includes like well
der die das den dem des ein eine einer einem einen eines und oder mit ohne von vom zu zum zur im
in am an auf fur bei als auch sowie bzw sowohl ist sind sein bist hast haben hat du sie ihr ihre
dein deine deinen deiner dich dir wir uns unser unsere es zb idealerweise wunschenswert vorteil
vorteilhaft gerne gern sehr gut gute guter gutes guten sicher sichere sicherer sicheres sicheren
fundiert fundierte fundierter fundiertes fundierten umfangreich umfangreiche umfassend umfassende
mehrjahrig mehrjahrige mehrjahrigen einschlagig einschlagige erste ersten praktisch praktische
kenntnisse kenntnis kenntnissen erfahrung erfahrungen jahr jahre jahren mindestens mind bereits
abgeschlossen abgeschlossenes abgeschlossene ausgepragt ausgepragte ausgepragtes hohe hohes hoher
stark starke starker umgang fahigkeit fahigkeiten verstandnis know-how knowhow how know wort
schrift fliessend fliessende verhandlungssicher verhandlungssichere muttersprache muttersprachlich
sprache sprachen sprachkenntnisse beherrschung beherrschst arbeiten arbeitest bringst mit mitbringen
verfugst uber kennst kannst hast bist solltest wunschen bieten bestenfalls optimalerweise
vergleichbar vergleichbare ahnlich ahnliche bereich bereichen themen thema einsatz einsetzen
nutzung anwendung anwenden niveau ggf evtl bspw inkl dh ua usw etwa wie
""".split()
)

# German compound heads: "Pythonkenntnisse", "Datenbankerfahrung", "Java-Entwicklung"
HEADS = tuple(
    sorted(
        """
kenntnisse kenntnissen kenntnis erfahrung erfahrungen entwickler entwicklerin entwicklerinnen
entwicklung programmierung programmierer programmiererin administration administrator architektur
kompetenz kompetenzen fahigkeit fahigkeiten verstandnis umgebung umgebungen datenbank datenbanken
framework frameworks sprache sprachen sprachkenntnisse management leitung zertifizierung
ausbildung studium abschluss beratung berater know-how knowhow
""".split(),
        key=len,
        reverse=True,
    )
)
_LINKING_S = ("ungs", "ions", "tats", "heits", "keits", "schafts")

# suffix → replacement, tried in order, repeatedly, while a stem of 4+ letters is left
_SUFFIXES = (
    ("nissen", "nis"),
    ("nisse", "nis"),
    ("ungen", "ung"),
    ("ations", "at"),
    ("ation", "at"),
    ("ments", ""),
    ("ment", ""),
    ("ung", ""),
    ("innen", ""),
    ("erin", "er"),
    ("ies", "y"),
    ("ings", ""),
    ("ing", ""),
    ("ers", ""),
    ("ern", ""),
    ("ed", ""),
    ("er", ""),
    ("es", ""),
    ("en", ""),
    ("em", ""),
    ("e", ""),
    ("s", ""),
)
_KEEP_ENDINGS = ("nis", "ss", "us", "is", "ys")

# tech names punctuation would break: replaced before the text is cut into words
_SPECIAL = tuple(
    (trigger, re.compile(pattern), repl)
    for trigger, pattern, repl in (
        ("+", r"c\s?\+\+", " cplusplus "),
        ("#", r"(?<![a-z0-9])c#", " csharp "),
        ("#", r"(?<![a-z0-9])f#", " fsharp "),
        (".net", r"\basp\.net\b", " dotnet "),
        (".net", r"(?<![a-z0-9])\.net\b", " dotnet "),
        (".js", r"\b([a-z][a-z0-9]*)\.js\b", r" \1js "),
        ("/", r"\bci\s?/\s?cd\b", " cicd "),
        ("/", r"\btcp\s?/\s?ip\b", " tcpip "),
        ("/", r"\bpl\s?/\s?sql\b", " plsql "),
        ("/", r"\bs\s?/\s?4\s?hana\b", " s4hana "),
        ("&", r"\br\s?&\s?d\b", " rnd "),
        ("b.", r"\bb\.\s?sc\b\.?", " bsc "),
        ("m.", r"\bm\.\s?sc\b\.?", " msc "),
        ("b.", r"\bb\.\s?a\.", " bachelorofarts "),
        ("m.", r"\bm\.\s?a\.", " masterofarts "),
        ("h.", r"\bph\.\s?d\b\.?", " phd "),
        ("driver", r"\bdriver'?s\b", " drivers "),
    )
)
_COMBINING = re.compile(r"[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
_WORD = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_SINGLE_LETTER_WORDS = frozenset({"c", "r"})  # languages; other single letters are noise


def fold(text: str) -> str:
    """Lower case, no accents (ß → ss, ü → u), tech names kept whole."""
    text = text.casefold()
    if not text.isascii():
        text = _COMBINING.sub("", unicodedata.normalize("NFKD", text))
    for trigger, pattern, repl in _SPECIAL:
        if trigger in text:  # most texts need few of these; a look is cheaper than a search
            text = pattern.sub(repl, text)
    return text


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A light stemmer for English and German endings, applied alike to both sides."""
    if len(word) <= 4 or not word.isalpha():
        return word
    changed = True
    while changed:
        changed = False
        if word.endswith(_KEEP_ENDINGS):
            break
        for suffix, repl in _SUFFIXES:
            if word.endswith(suffix) and len(word) - len(suffix) + len(repl) >= 4:
                word = word[: -len(suffix)] + repl
                changed = True
                break
    return word


def _build_surface() -> tuple[dict[tuple[str, ...], str], dict[str, str], frozenset[str]]:
    """The synonym table as word sequences: phrases, single words, phrase openers."""
    phrases: dict[tuple[str, ...], str] = {}
    for concept, forms in SYNONYMS.items():
        for form in forms:
            words = tuple(_WORD.findall(fold(form)))
            split = tuple(p for w in words for p in w.split("-") if p)
            for variant in (words, split):
                if variant:
                    phrases[variant] = concept
    single = {k[0]: v for k, v in phrases.items() if len(k) == 1}
    multi = {k: v for k, v in phrases.items() if len(k) > 1}
    return multi, single, frozenset(k[0] for k in multi)


_PHRASES, _SURFACE, _PHRASE_FIRST = _build_surface()
_MAX_PHRASE = max(len(k) for k in _PHRASES)


def _raw_words(folded: str) -> list[str]:
    words: list[str] = []
    for token in _WORD.findall(folded):
        # "Python-Kenntnisse" is two words; "T-SQL" or "IT-Sicherheit" is a synonym whole
        if "-" in token and token not in _SURFACE:
            words.extend(part for part in token.split("-") if part)
        else:
            words.append(token)
    return words


@lru_cache(maxsize=65536)
def _split_compound(word: str) -> tuple[str, ...]:
    """A German compound cut before a known head: "pythonkenntnisse" → python, kenntnisse."""
    if len(word) < 7 or word in _SURFACE or word in STOPWORDS:
        return (word,)
    for head in HEADS:
        if word.endswith(head) and len(word) - len(head) >= 2:
            prefix = word[: -len(head)]
            if prefix.endswith(_LINKING_S) and len(prefix) > 4:
                prefix = prefix[:-1]  # Fugen-s: "Führungs|erfahrung"
            return (*_split_compound(prefix), head)
    return (word,)


@dataclass(frozen=True)
class Term:
    """A word or a known concept: the keys it matches on and what it weighs."""

    keys: frozenset[str]
    weight: float
    stop: bool = False


SKILL_WEIGHT = 3.0
WORD_WEIGHT = 1.0
_STOP_STEMS = frozenset(stem(w) for w in STOPWORDS)


def _is_stop(word: str) -> bool:
    return word in STOPWORDS or stem(word) in _STOP_STEMS


def _words(text: str) -> list[str]:
    words: list[str] = []
    for word in _raw_words(fold(text)):
        words.extend(_split_compound(word))
    return words


def terms(text: str) -> list[Term]:
    """The text as terms, in order: concepts from the synonym table, stemmed words."""
    words = _words(text)
    out: list[Term] = []
    i, n = 0, len(words)
    while i < n:
        word = words[i]
        size = 0
        if word in _PHRASE_FIRST:
            for size in range(min(_MAX_PHRASE, n - i), 1, -1):
                concept = _PHRASES.get(tuple(words[i : i + size]))
                if concept is not None:
                    keys = {"=" + concept, *(stem(w) for w in words[i : i + size])}
                    out.append(Term(frozenset(keys), SKILL_WEIGHT))
                    break
            else:
                size = 0
        if size:
            i += size
            continue
        concept = _SURFACE.get(word)
        if concept is not None:
            out.append(Term(frozenset({"=" + concept, stem(word)}), SKILL_WEIGHT))
        elif word.isdigit() or (len(word) == 1 and word not in _SINGLE_LETTER_WORDS):
            out.append(Term(frozenset({word}), 0.0, stop=True))
        else:
            out.append(Term(frozenset({stem(word)}), WORD_WEIGHT, stop=_is_stop(word)))
        i += 1
    return out


def keys_of(text: str) -> set[str]:
    """Every key a candidate's text offers (what items are matched against)."""
    words = _words(text)
    keys = {stem(w) for w in words}
    for i, word in enumerate(words):
        concept = _SURFACE.get(word)
        if concept is not None:
            keys.add("=" + concept)
        if word in _PHRASE_FIRST:
            for size in range(2, min(_MAX_PHRASE, len(words) - i) + 1):
                concept = _PHRASES.get(tuple(words[i : i + size]))
                if concept is not None:
                    keys.add("=" + concept)
    return keys


def content_terms(text: str) -> tuple[Term, ...]:
    """The terms an item is about: no filler, no numbers, each concept once."""
    seen: set[frozenset[str]] = set()
    out: list[Term] = []
    for term in terms(text):
        if term.stop or term.weight == 0 or term.keys in seen:
            continue
        seen.add(term.keys)
        out.append(term)
    return tuple(out)


# --- items ------------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    """One requirement: its words as written, and alternatives of terms (any may match)."""

    text: str
    alternatives: tuple[tuple[Term, ...], ...]

    def score(self, keys: set[str]) -> float:
        """0..1: the weighted share of the best alternative's terms found in ``keys``."""
        best = 0.0
        for alt in self.alternatives:
            total = sum(t.weight for t in alt)
            found = sum(t.weight for t in alt if t.keys & keys)
            if total:
                best = max(best, found / total)
        return best


MAX_ITEMS = 60
_DOT = "\u2024"  # one dot leader: looks like "." but ends no sentence
_ABBREVIATIONS = re.compile(
    r"(?i)\b(e\.\s?g|i\.\s?e|z\.\s?b|d\.\s?h|u\.\s?a|bzw|etc|ca|mind|inkl|bspw|ggf|evtl|usw|vs|"
    r"sog|max|min|dr|prof|dipl|b\.\s?sc|m\.\s?sc|b\.\s?a|m\.\s?a|ph\.\s?d)\."
)
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s*")
_BULLET = re.compile(
    r"^\s*(?:[-*+\u2022\u00b7\u2013\u2014\u25aa\u25ba\u2713\u2714>]+|\d{1,2}[.)]|[a-z][)])\s+"
)
_LINK = re.compile(r"!?\[([^\]\n]{0,300})\]\([^)\n]{0,2100}\)")
_EMPHASIS = re.compile(r"\*\*|__|(?<!\w)[*_](?=\S)|(?<=\S)[*_](?!\w)|`")
_TAG = re.compile(r"<[^>]{1,100}>")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[^\s])")
_AND_P = r"\s+(?:and|und|sowie|as well as|&)\s+"
_OR_P = r"\s+(?:or|oder|and/or|und/oder|bzw" + _DOT + r"?)\s+"
_AND = re.compile(_AND_P, re.IGNORECASE)
_OR = re.compile(_OR_P, re.IGNORECASE)
_LIST_SEP = re.compile(r"\s*,\s*|" + _OR_P + "|" + _AND_P, re.IGNORECASE)
_SLASH = re.compile(r"(?<=[^\W\d_]{3})\s?/\s?(?=[^\W\d_]{3})")
_EXAMPLE_P = (
    r"(?:\b(?:e"
    + _DOT
    + r"\s?g|z"
    + _DOT
    + r"\s?b|i"
    + _DOT
    + r"\s?e)"
    + _DOT
    + r"|\bbspw"
    + _DOT
    + r"|\b(?:such as|for example|for instance|zum beispiel|beispielsweise)\b)"
)
_EXAMPLES_BARE = re.compile(_EXAMPLE_P, re.IGNORECASE)
_EXAMPLES_IN_PARENS = re.compile(_EXAMPLE_P + r"|\b(?:like|wie|etwa)\b", re.IGNORECASE)
_LEADING_JOINER = re.compile(r"^(?:and|und|or|oder|sowie|as well as|plus)\s+", re.IGNORECASE)


def clean_line(line: str) -> str:
    """A line of Markdown or plain text as words: no bullet, heading, link or emphasis marks."""
    line = _TAG.sub(" ", line)
    line = _HEADING.sub("", line)
    line = _BULLET.sub("", line)
    line = _LINK.sub(r"\1", line)
    line = _EMPHASIS.sub("", line)
    return " ".join(line.split())


def _split_depth0(text: str, seps: str) -> list[str]:
    """Split on any of ``seps`` outside parentheses."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth = max(0, depth - 1)
        elif ch in seps and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


def _alternatives(text: str) -> tuple[str, list[str]]:
    """``(main, [example, ...])``: "a web framework (e.g. Django, Flask)"."""
    examples: list[str] = []
    main = text
    bare = _EXAMPLES_BARE.search(text)
    if bare and "(" not in text[: bare.start()]:
        main, rest = text[: bare.start()], text[bare.end() :]
        examples += _LIST_SEP.split(rest)
    for inner in re.findall(r"\(([^()]*)\)", main):
        marker = _EXAMPLES_IN_PARENS.search(inner)
        if marker:
            main = main.replace(f"({inner})", " ")
            rest = inner[marker.end() :]
            examples += _LIST_SEP.split(rest)
    return " ".join(main.split()), [e.strip(" .:;") for e in examples if e and e.strip(" .:;")]


def _or_split(text: str) -> list[str]:
    parts: list[str] = []
    for piece in _fill_ellipsis([p.strip() for p in _OR.split(text)]):
        parts.extend(_SLASH.split(piece))
    return [p.strip() for p in parts if p.strip()]


def _item(display: str, alternatives: Iterable[str]) -> Item | None:
    alts: list[tuple[Term, ...]] = []
    for alt in alternatives:
        found = content_terms(alt.replace(_DOT, "."))
        if found and found not in alts:
            alts.append(found)
    if not alts:
        return None
    display = " ".join(display.replace(_DOT, ".").split()).strip(" .:;,")
    return Item(_LEADING_JOINER.sub("", display), tuple(alts))


def _fill_ellipsis(pieces: list[str]) -> list[str]:
    """German "Deutsch- und Englischkenntnisse": "Deutsch-" borrows the head of the next."""
    out = list(pieces)
    for i in range(len(out) - 2, -1, -1):
        if out[i].endswith("-") and out[i + 1].split():
            word = re.sub(r"[\W_]+$", "", out[i + 1].split()[0])
            folded = fold(word)
            head = next((h for h in HEADS if folded.endswith(h) and len(folded) > len(h)), None)
            if head and len(folded) == len(word.casefold()):
                out[i] = out[i][:-1] + word[-len(head) :]
    return out


def _sentence_items(sentence: str) -> list[Item]:
    items: list[Item] = []
    parts = _split_depth0(sentence, ",;")
    if (
        len(parts) >= 2
        and _OR.search(" " + parts[-1] + " ")
        and all(len(p.split()) <= 6 for p in parts[1:])
    ):
        # "Python, Go or Rust": one item, any will do
        alternatives: list[str] = []
        for part in parts:
            main, examples = _alternatives(part)
            alternatives += _or_split(main) + examples
        item = _item(sentence, alternatives)
        return [item] if item else []
    for part in parts:
        for piece in _fill_ellipsis(_AND.split(part)) if "(" not in part else [part]:
            main, examples = _alternatives(piece)
            item = _item(piece, _or_split(main) + examples)
            if item:
                items.append(item)
    return items


def split_items(text: str | None) -> list[Item]:
    """A requirements field as items, in order, each at most once, at most ``MAX_ITEMS``."""
    return list(_items_of(text or ""))


@lru_cache(maxsize=256)  # "Rescore all" splits one job's text once, not per application
def _items_of(text: str) -> tuple[Item, ...]:
    items: list[Item] = []
    seen: set[tuple[tuple[Term, ...], ...]] = set()
    for raw in text.splitlines():
        line = clean_line(_ABBREVIATIONS.sub(lambda m: m.group(0).replace(".", _DOT), raw))
        if not line:
            continue
        if line.endswith(":"):
            continue  # a heading: "Must have:", "Was du mitbringst:"
        head, colon, rest = line.partition(":")
        if colon and rest.strip() and len(head.split()) <= 3:
            line = rest.strip()  # "Languages: English, German"
        for sentence in _SENTENCE_END.split(line):
            for item in _sentence_items(sentence.strip()):
                if item.alternatives not in seen:
                    seen.add(item.alternatives)
                    items.append(item)
                    if len(items) >= MAX_ITEMS:
                        return tuple(items)
    return tuple(items)
