"""An article's content as editors, the API and imports submit it: checked field by
field, every problem reported (in English and Chinese), never just the first."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select

from hotline.errors import InvalidInput
from hotline.extensions import db
from hotline.models import Category, Department

KINDS = {"qa": "热点问答", "guide": "办事指南", "policy": "政策法规", "notice": "通知公告"}
CHANNELS = ("hotline", "portal", "window")
_LIST_SPLIT = re.compile(r"[;；,，、\n]+")
_QUESTION_SPLIT = re.compile(r"[;；\n]+")
MAX_QUESTIONS = 30
MAX_QUESTION_CHARS = 100


@dataclass(frozen=True)
class Problem:
    """One thing wrong with submitted content: the field, in English and Chinese."""

    field: str
    message: str
    message_zh: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message} ({self.message_zh})"


# --- content validation (shared by the editor forms, the API and imports) ----------------


def as_list(value: Any, separators: re.Pattern[str] = _LIST_SPLIT) -> list[str]:
    """A list of strings from a list, or from text separated by ; ， 、 or new lines."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        items = separators.split(value)
    elif isinstance(value, list | tuple):
        items = [str(v) for v in value if v is not None]
    else:
        items = [str(value)]
    return list(dict.fromkeys(i.strip() for i in items if i and i.strip()))


def as_questions(value: Any) -> list[str]:
    """Similar questions from a list, or from text with one per line or separated by ；
    (a question may itself contain ， and 、)."""
    return as_list(value, _QUESTION_SPLIT)


def as_date(value: Any) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value).strip()[:10])


def clean_content(data: Mapping[str, Any]) -> tuple[dict[str, Any], list[Problem]]:
    """Validate an article's content; every problem is reported, not just the first."""
    problems: list[Problem] = []
    out: dict[str, Any] = {}

    def bad(field: str, en: str, zh: str) -> None:
        problems.append(Problem(field, en, zh))

    kind = str(data.get("kind") or "").strip()
    if kind not in KINDS:
        bad("kind", f"must be one of {', '.join(KINDS)}", "类型须为 qa、guide、policy 或 notice")
    out["kind"] = kind
    title = str(data.get("title") or "").strip()
    if not title:
        bad("title", "is required", "标题不能为空")
    elif len(title) > 200:
        bad("title", "is longer than 200 characters", "标题不能超过 200 字")
    out["title"] = title
    body = str(data.get("answer") if data.get("answer") is not None else data.get("body") or "")
    body = body.strip()
    if not body:
        bad("answer", "is required", "正文（答复口径）不能为空")
    out["body"] = body
    out["category_id"] = None
    code = str(data.get("category") or "").strip()
    if code:
        category = db.session.scalar(
            select(Category).where(Category.code == code, Category.active.is_(True))
        )
        if category is None:
            bad("category", f"unknown category {code}", f"诉求分类 {code} 不存在")
        else:
            out["category_id"] = category.id
    out["department_id"] = None
    code = str(data.get("department") or "").strip()
    if code:
        department = db.session.scalar(select(Department).where(Department.code == code))
        if department is None:
            bad("department", f"unknown department {code}", f"部门 {code} 不存在")
        else:
            out["department_id"] = department.id
    out["keywords"] = as_list(data.get("keywords"))
    out["questions"] = as_questions(data.get("questions"))
    if len(out["questions"]) > MAX_QUESTIONS:
        bad(
            "questions",
            f"at most {MAX_QUESTIONS} similar questions",
            f"相似问法最多 {MAX_QUESTIONS} 条",
        )
    long = [q for q in out["questions"] if len(q) > MAX_QUESTION_CHARS]
    if long:
        bad(
            "questions",
            f"a similar question is longer than {MAX_QUESTION_CHARS} characters: {long[0]}",
            f"相似问法不能超过 {MAX_QUESTION_CHARS} 字：{long[0]}",
        )
    out["materials"] = as_list(data.get("materials"))
    if out["materials"] and kind not in ("guide", ""):
        bad("materials", "only service guides list materials", "仅办事指南可填写所需材料")
    for field, limit in (("issuing_unit", 128), ("document_number", 64)):
        value = str(data.get(field) or "").strip() or None
        if value and len(value) > limit:
            bad(field, f"is longer than {limit} characters", f"不能超过 {limit} 字")
        out[field] = value
    from knowledge_base.search import today

    try:
        out["effective_from"] = as_date(data.get("effective_from")) or today()
    except ValueError:
        bad("effective_from", "must be a date YYYY-MM-DD", "生效日期格式应为 YYYY-MM-DD")
        out["effective_from"] = today()
    try:
        out["effective_to"] = as_date(data.get("effective_to"))
    except ValueError:
        bad("effective_to", "must be a date YYYY-MM-DD", "失效日期格式应为 YYYY-MM-DD")
        out["effective_to"] = None
    if out["effective_to"] and out["effective_to"] < out["effective_from"]:
        bad("effective_to", "is before effective_from", "失效日期早于生效日期")
    channels = (
        as_list(data.get("channels")) if data.get("channels") not in (None, "") else list(CHANNELS)
    )
    unknown = [c for c in channels if c not in CHANNELS]
    if unknown:
        bad(
            "channels",
            f"unknown channel(s) {', '.join(unknown)}",
            "渠道须为 hotline、portal、window",
        )
    elif not channels:
        bad("channels", "at least one channel is required", "至少选择一个发布渠道")
    for name in CHANNELS:
        out[f"on_{name}"] = name in channels
    return out, problems


def refuse(problems: list[Problem]) -> None:
    if problems:
        first = problems[0]
        raise InvalidInput(
            "; ".join(f"{p.field}: {p.message}" for p in problems),
            "；".join(f"{p.field}：{p.message_zh}" for p in problems),
            field=first.field,
            problems=[
                {"field": p.field, "message": p.message, "message_zh": p.message_zh}
                for p in problems
            ],
        )
