"""The knowledge base over the API: search, read an article, say whether it helped."""

from __future__ import annotations

from flask import request

from hotline.errors import InvalidInput, PermissionDenied
from knowledge_base.answers import (
    any_version,
    article_json,
    check_channel,
    check_query,
    results_json,
    shown_article,
)
from knowledge_base.articles import EDITOR_ROLES, record_feedback
from knowledge_base.search import search
from web.api import actor, bp, parse
from web.api.schemas import KbFeedback


def _int_arg(name: str, default: int | None, low: int, high: int) -> int | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise InvalidInput(
            f"{name} must be a whole number from {low} to {high}",
            f"{name} 须为 {low}–{high} 的整数",
            field=name,
        )
    return value


@bp.get("/kb/search")
def search_kb():  # type: ignore[no-untyped-def]
    question = check_query(request.args.get("q"))
    limit = _int_arg("limit", 10, 1, 50)
    channel = check_channel(request.args.get("channel"))
    record_gap = request.args.get("gap", "1").strip().lower() not in ("0", "false", "no")
    result = search(question, channel=channel, limit=limit or 10, record_gap=record_gap)
    return {**results_json(result), "channel": channel}


@bp.get("/kb/articles/<key>")
def read_article(key: str):  # type: ignore[no-untyped-def]
    number = _int_arg("version", None, 1, 1_000_000)
    if number is None:
        return article_json(*shown_article(key, check_channel(request.args.get("channel"))))
    if actor().role not in EDITOR_ROLES:
        raise PermissionDenied(
            "only knowledge editors and administrators may read other versions",
            "只有知识库编辑或管理员可以查看其他版本",
        )
    return article_json(*any_version(key, number))


@bp.post("/kb/articles/<key>/feedback")
def article_feedback(key: str):  # type: ignore[no-untyped-def]
    body = parse(KbFeedback)
    channel = check_channel(body.channel)
    article, _version = shown_article(key, channel)
    record_feedback(
        article.key,
        helpful=body.helpful,
        channel=channel or "api",
        query=body.query,
        comment=body.comment,
    )
    return {
        "id": article.key,
        "helpful": body.helpful,
        "helpful_count": article.helpful_count,
        "unhelpful_count": article.unhelpful_count,
    }, 201
