"""Article bodies: Markdown rendered to HTML, then sanitised (editors' text is never
trusted as markup: no scripts, no inline handlers, no foreign embeds)."""

from __future__ import annotations

from functools import lru_cache

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

_TAGS = {
    "p", "br", "hr", "strong", "em", "b", "i", "code", "pre", "blockquote",
    "ul", "ol", "li", "h2", "h3", "h4", "h5", "h6", "a",
    "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
_ATTRIBUTES = {"a": {"href", "title"}, "th": {"align"}, "td": {"align"}}


@lru_cache(maxsize=1)
def _markdown() -> MarkdownIt:
    # Raw HTML in the source is escaped, not passed through; tables are common in guides.
    return MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


def render_markdown(source: str) -> Markup:
    """Safe HTML for an article body."""
    html = _markdown().render(source or "")
    clean = nh3.clean(
        html,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        url_schemes={"http", "https", "mailto", "tel"},
        link_rel="noopener noreferrer nofollow",
    )
    return Markup(clean)
