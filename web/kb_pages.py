"""The knowledge base's reader pages, shared by the online hall and the window terminal:
the same search, article and feedback on both, each on its own channel and templates."""

from __future__ import annotations

from typing import Any

from flask import redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l

from hotline.errors import NotFound
from knowledge_base.answers import shown_article
from knowledge_base.articles import record_feedback
from knowledge_base.render import render_markdown
from knowledge_base.search import search

MAX_KB_QUERY = 200
KIND_NAMES = {
    "qa": _l("Q&A"),
    "guide": _l("Service guide"),
    "policy": _l("Policy or regulation"),
    "notice": _l("Notice"),
}


def kb_query() -> str:
    return request.values.get("q", "").strip()[:MAX_KB_QUERY]


def kb_thanks() -> str | None:
    """After a feedback POST: "yes" or "no", to thank the reader (and offer a request)."""
    value = request.args.get("feedback")
    return value if value in ("yes", "no") else None


def kb_missing(search_endpoint: str) -> tuple[str, int]:
    """Drafts, withdrawn and expired answers look the same as ones that never existed."""
    search_url = url_for(search_endpoint, q=kb_query() or None)
    return render_template("portal/kb_missing.html", search_url=search_url), 404


def search_page(channel: str, template: str) -> str:
    question = kb_query()
    result = search(question, channel=channel, record_gap=True) if question else None
    return render_template(template, q=question, result=result, kinds=KIND_NAMES)


def article_page(key: str, channel: str, template: str) -> Any:
    try:
        article, version = shown_article(key, channel)
    except NotFound:
        return kb_missing(".kb_search")
    return render_template(
        template,
        article=article,
        version=version,
        answer=render_markdown(version.body),
        kinds=KIND_NAMES,
        q=kb_query(),
        feedback=kb_thanks(),
    )


def save_feedback(key: str, channel: str, helpful: str) -> Any:
    """Record "helpful" (yes/no, already checked) and go back to the article."""
    try:
        article, _version = shown_article(key, channel)
    except NotFound:
        return kb_missing(".kb_search")
    record_feedback(article.key, helpful=helpful == "yes", channel=channel, query=kb_query())
    return redirect(url_for(".kb_article", key=article.key, q=kb_query() or None, feedback=helpful))
