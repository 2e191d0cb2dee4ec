"""Reading answers for the channels: the article a channel may show, and its JSON.

The API, the online hall and the window terminal all read articles through here, so
"published, in force and flagged for this channel" means the same thing everywhere.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import select

from hotline.errors import InvalidInput, NotFound
from hotline.extensions import db
from hotline.models import Article, ArticleVersion
from knowledge_base.articles import KINDS, STATE_LABELS, display_status, get_article, version_of
from knowledge_base.render import render_markdown
from knowledge_base.search import CHANNEL_ALIASES, CHANNELS, SearchResult, channel_name, visible

MAX_QUERY = 500


def check_channel(channel: str | None) -> str | None:
    """The channel flag for a caller's spelling; an unknown channel is refused, not ignored."""
    if channel is None or channel == "":
        return None
    flag = channel_name(channel)
    if flag is None:
        names = ", ".join((*CHANNELS, *CHANNEL_ALIASES))
        raise InvalidInput(
            f"channel must be one of {names}", f"渠道须为 {names} 之一", field="channel"
        )
    return flag


def check_query(question: str | None) -> str:
    """A search question: required, and not an essay."""
    question = (question or "").strip()
    if not question:
        raise InvalidInput("q (the question) is required", "请输入要查询的问题（q）", field="q")
    if len(question) > MAX_QUERY:
        raise InvalidInput(
            f"q is longer than {MAX_QUERY} characters",
            f"问题不能超过 {MAX_QUERY} 字",
            field="q",
        )
    return question


def shown_article(key: str, channel: str | None = None) -> tuple[Article, ArticleVersion]:
    """The article and its live version if `channel` may show it today; else NotFound.

    Drafts, withdrawn and expired (or not yet effective) articles are all simply
    "not found": a reader must not learn that a hidden article exists."""
    article = db.session.scalar(select(Article).where(Article.key == key, *visible(channel)))
    if article is None or article.live_number is None:
        raise NotFound(f"no article {key}", f"知识库文章 {key} 不存在或已失效")
    return article, version_of(article, article.live_number)


def any_version(key: str, number: int) -> tuple[Article, ArticleVersion]:
    """Any version of any article, drafts included (for editors only: check first)."""
    article = get_article(key)
    return article, version_of(article, number)


def _iso_date(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _iso_time(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(ZoneInfo(current_app.config["TIMEZONE"])).isoformat()


def article_json(article: Article, version: ArticleVersion) -> dict[str, Any]:
    """One version of an article as every channel reads it (answer in Markdown and HTML)."""
    content = version.content()
    return {
        "id": article.key,
        "title": version.title,
        "kind": version.kind,
        "kind_label": KINDS.get(version.kind, version.kind),
        "category": content["category"],
        "category_name": version.category.name if version.category else None,
        "department": content["department"],
        "department_name": version.department.name if version.department else None,
        "answer": version.body,
        "answer_html": str(render_markdown(version.body)),
        "keywords": content["keywords"],
        "questions": content["questions"],
        "materials": content["materials"],
        "issuing_unit": version.issuing_unit,
        "document_number": version.document_number,
        "effective_from": _iso_date(version.effective_from),
        "effective_to": _iso_date(version.effective_to),
        "channels": content["channels"],
        "version": version.number,
        "state": version.state,
        "state_label": STATE_LABELS.get(version.state, version.state),
        "status": display_status(article),
        "published_at": _iso_time(version.published_at),
    }


def results_json(result: SearchResult) -> dict[str, Any]:
    """A search as the API answers it: best first, DESIGN's keys plus a few extras."""
    return {
        "query": result.query,
        "useful": result.useful,
        "results": [
            {
                **hit.as_json(),
                "kind_label": KINDS.get(hit.kind, hit.kind),
                "matched": hit.matched,
            }
            for hit in result.hits
        ],
    }
