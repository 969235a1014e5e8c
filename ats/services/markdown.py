"""Note bodies: Markdown to HTML that can be put on a page as it is.

Two layers, so that neither alone has to be perfect: markdown-it-py renders
CommonMark with raw HTML switched off (``<script>`` comes out as text), then
nh3 keeps only a small set of tags and attributes and only ``http``,
``https`` and ``mailto`` links. Whatever a note says, no script, event
handler, image or style reaches the page.
"""

from __future__ import annotations

from functools import lru_cache

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

TAGS = frozenset(
    {"p", "br", "strong", "em", "code", "pre", "ul", "ol", "li", "blockquote", "a"}
    | {"h1", "h2", "h3", "h4"}
)
ATTRIBUTES = {"a": {"href"}}
URL_SCHEMES = frozenset({"http", "https", "mailto"})
LINK_REL = "noopener noreferrer nofollow"


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})


def _only_absolute_links(tag: str, attr: str, value: str) -> str | None:
    """nh3 passes relative URLs through; a note links only to http(s) and mailto."""
    if tag == "a" and attr == "href":
        scheme, sep, _ = value.partition(":")
        if not sep or scheme.strip().lower() not in URL_SCHEMES:
            return None
    return value


def sanitize(html: str) -> str:
    return nh3.clean(
        html,
        tags=set(TAGS),
        attributes={k: set(v) for k, v in ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        link_rel=LINK_REL,
        attribute_filter=_only_absolute_links,
        strip_comments=True,
    )


def render_markdown(text: str | None) -> Markup:
    """A note body as safe HTML (empty for no text)."""
    if not text:
        return Markup("")
    return Markup(sanitize(_parser().render(text)))  # noqa: S704 - sanitised just above
