"""Articles and their review workflow: draft → review → approved → published, then
superseded by a newer version, or withdrawn; expired articles hide themselves.

Every change is a new version and every version is kept. The live version stays
searchable while its successor is drafted and reviewed. A changed service guide must
be published within KB_GUIDE_PUBLISH_LIMIT (1 working day) of its approval; late ones
raise an alert. Each service is one transaction and writes a hash-chained audit event.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from flask import current_app
from sqlalchemy import func, select

from hotline.audit import record_event
from hotline.clock.service import deadline_for
from hotline.errors import InvalidInput, InvalidTransition, NotFound, PermissionDenied
from hotline.extensions import db
from hotline.models import (
    Article,
    ArticleFeedback,
    ArticleVersion,
    Role,
    SystemAlert,
    User,
    utcnow,
)
from knowledge_base.content import (
    CHANNELS,
    KINDS,
    Problem,
    as_date,
    as_list,
    clean_content,
    refuse,
)
from knowledge_base.index import index_article, unindex_article

EDITOR_ROLES = frozenset({Role.EDITOR.value, Role.ADMIN.value})
KEY_PATTERN = re.compile(r"^kb-\d{4,8}$")
STATE_LABELS = {
    "draft": "草稿",
    "review": "待审核",
    "approved": "已审核待发布",
    "published": "已发布",
    "superseded": "已被替代",
    "rejected": "已退回",
    "withdrawn": "已撤回",
}


def _title_taken(title: str, article: Article | None) -> bool:
    """Titles are unique across articles (what a citizen sees must not be ambiguous)."""
    query = select(Article.id).where(Article.title == title)
    if article is not None:
        query = query.where(Article.id != article.id)
    return db.session.scalar(query) is not None


# --- reading -------------------------------------------------------------------------


def get_article(key: str) -> Article:
    article = db.session.scalar(select(Article).where(Article.key == key))
    if article is None:
        raise NotFound(f"no article {key}", f"知识库文章 {key} 不存在")
    return article


def version_of(article: Article, number: int | None) -> ArticleVersion:
    if number is None:
        number = article.head_number
    version = db.session.scalar(
        select(ArticleVersion).where(
            ArticleVersion.article_id == article.id, ArticleVersion.number == number
        )
    )
    if version is None:
        raise NotFound(
            f"{article.key} has no version {number}", f"{article.key} 没有第 {number} 版"
        )
    return version


def live_version(article: Article) -> ArticleVersion | None:
    return version_of(article, article.live_number) if article.live_number else None


def display_status(article: Article, on: date | None = None) -> str:
    """published | expired | not_yet | draft | withdrawn, as editors see it."""
    from knowledge_base.search import today

    day = on or today()
    if article.status != "published":
        return article.status
    if article.effective_to is not None and article.effective_to < day:
        return "expired"
    if article.effective_from > day:
        return "not_yet"
    return "published"


def next_key() -> str:
    """The next free `kb-NNNN` key (imports bring their own)."""
    keys = db.session.scalars(select(Article.key)).all()
    numbers = [int(k[3:]) for k in keys if KEY_PATTERN.match(k)]
    return f"kb-{(max(numbers) if numbers else 0) + 1:04d}"


# --- editing and review --------------------------------------------------------------


def _require_editor(actor: User | None) -> None:
    if actor is None or actor.role not in EDITOR_ROLES:
        raise PermissionDenied(
            "only knowledge editors and administrators may change the knowledge base",
            "只有知识库编辑或管理员可以修改知识库",
        )


def _new_version(
    article: Article, content: dict[str, Any], actor: User | None, *, state: str, note: str | None
) -> ArticleVersion:
    number = (
        db.session.scalar(
            select(func.max(ArticleVersion.number)).where(ArticleVersion.article_id == article.id)
        )
        or 0
    ) + 1
    version = ArticleVersion(
        article_id=article.id,
        number=number,
        state=state,
        change_note=note,
        created_by_id=actor.id if actor else None,
        created_at=utcnow(),
        **content,
    )
    db.session.add(version)
    article.head_number = number
    if article.status == "draft":
        _copy_listing_fields(article, version)
    db.session.flush()
    return version


def _copy_listing_fields(article: Article, version: ArticleVersion) -> None:
    for name in (
        "title",
        "kind",
        "category_id",
        "department_id",
        "effective_from",
        "effective_to",
        "on_hotline",
        "on_portal",
        "on_window",
    ):
        setattr(article, name, getattr(version, name))


def _audit(
    action: str, actor: User | None, article: Article, version: ArticleVersion, **extra: Any
):
    record_event(
        action,
        actor=actor,
        department_id=version.department_id,
        note=extra.pop("note", None),
        data={"article": article.key, "version": version.number, "title": version.title, **extra},
    )


def create_article(data: Mapping[str, Any], actor: User, *, key: str | None = None) -> Article:
    """A new article as a draft (version 1)."""
    _require_editor(actor)
    content, problems = clean_content(data)
    key = (key or str(data.get("id") or "")).strip() or next_key()
    if not KEY_PATTERN.match(key):
        problems.append(Problem("id", "must look like kb-0001", "编号格式应为 kb-0001"))
    elif db.session.scalar(select(Article.id).where(Article.key == key)):
        problems.append(Problem("id", f"{key} already exists", f"编号 {key} 已存在"))
    if content["title"] and _title_taken(content["title"], None):
        problems.append(Problem("title", "another article has this title", "已有同名文章"))
    refuse(problems)
    article = Article(key=key, status="draft", head_number=0, created_at=utcnow())
    _copy_listing_fields(article, ArticleVersion(**content))
    db.session.add(article)
    db.session.flush()
    version = _new_version(article, content, actor, state="draft", note=data.get("change_note"))
    _audit("kb.create", actor, article, version)
    db.session.commit()
    return article


def edit_article(key: str, data: Mapping[str, Any], actor: User) -> ArticleVersion:
    """Save a change as a new draft version; the live version keeps answering meanwhile."""
    _require_editor(actor)
    article = get_article(key)
    head = version_of(article, article.head_number)
    if head.state in ("review", "approved"):
        raise InvalidTransition(
            f"version {head.number} is {head.state}: review it first",
            f"第 {head.number} 版正在审核或待发布，请先完成审核",
            state=head.state,
        )
    content, problems = clean_content(data)
    if content["title"] and _title_taken(content["title"], article):
        problems.append(Problem("title", "another article has this title", "已有同名文章"))
    refuse(problems)
    if head.state == "draft":
        head.state = "superseded"  # a rejected version keeps its state and note in history
    version = _new_version(article, content, actor, state="draft", note=data.get("change_note"))
    _audit("kb.edit", actor, article, version, note=data.get("change_note"))
    db.session.commit()
    return version


def submit_for_review(key: str, actor: User) -> ArticleVersion:
    _require_editor(actor)
    article = get_article(key)
    head = version_of(article, article.head_number)
    if head.state not in ("draft", "rejected"):
        label = STATE_LABELS.get(head.state, head.state)
        raise InvalidTransition(
            f"only a draft can be submitted (version {head.number} is {head.state})",
            f"只有草稿可以提交审核（第 {head.number} 版为{label}）",
            state=head.state,
        )
    head.state = "review"
    head.submitted_at = utcnow()
    _audit("kb.submit", actor, article, head)
    db.session.commit()
    return head


def review_version(
    key: str, actor: User, *, approve: bool, note: str | None = None, publish: bool = True
) -> ArticleVersion:
    """Approve (and by default publish at once) or reject the version under review."""
    _require_editor(actor)
    article = get_article(key)
    head = version_of(article, article.head_number)
    if head.state != "review":
        raise InvalidTransition(
            f"version {head.number} is not under review ({head.state})",
            f"第 {head.number} 版不在待审核状态",
            state=head.state,
        )
    if current_app.config["KB_FOUR_EYES"] and head.created_by_id == actor.id:
        raise PermissionDenied(
            "the author of a version cannot review it", "不能审核自己编写的版本（双人审核）"
        )
    if not approve and not (note or "").strip():
        raise InvalidInput("a reason is required to reject", "退回须填写理由", field="note")
    now = utcnow()
    head.reviewed_by_id = actor.id
    head.reviewed_at = now
    head.review_note = (note or "").strip() or None
    if not approve:
        head.state = "rejected"
        _audit("kb.reject", actor, article, head, note=head.review_note)
        db.session.commit()
        return head
    head.state = "approved"
    if head.kind == "guide":
        head.publish_due_at = deadline_for(now, current_app.config["KB_GUIDE_PUBLISH_LIMIT"]).at
    _audit("kb.approve", actor, article, head, note=head.review_note)
    if publish:
        _publish(article, head, actor)
    db.session.commit()
    return head


def publish_version(key: str, actor: User) -> ArticleVersion:
    """Publish the approved version: it replaces the live one on every channel at once."""
    _require_editor(actor)
    article = get_article(key)
    head = version_of(article, article.head_number)
    if head.state != "approved":
        raise InvalidTransition(
            f"only an approved version can be published (version {head.number} is {head.state})",
            "只有审核通过的版本可以发布",
            state=head.state,
        )
    _publish(article, head, actor)
    db.session.commit()
    return head


def _publish(article: Article, version: ArticleVersion, actor: User | None) -> None:
    now = utcnow()
    if article.live_number and article.live_number != version.number:
        previous = version_of(article, article.live_number)
        if previous.state == "published":
            previous.state = "superseded"
    version.state = "published"
    version.published_at = now
    article.live_number = version.number
    article.status = "published"
    article.published_at = now
    article.withdrawn_at = None
    _copy_listing_fields(article, version)
    db.session.flush()
    index_article(article, version)
    late = version.publish_due_at is not None and now > version.publish_due_at
    _audit("kb.publish", actor, article, version, late=late)


def withdraw_article(key: str, actor: User, *, reason: str) -> Article:
    """Take an article off every channel (wrong, or replaced by policy); history is kept."""
    _require_editor(actor)
    if not (reason or "").strip():
        raise InvalidInput("a reason is required", "撤回须填写理由", field="reason")
    article = get_article(key)
    if article.status != "published":
        raise InvalidTransition(
            "only a published article can be withdrawn",
            "只有已发布的文章可以撤回",
            state=article.status,
        )
    version = version_of(article, article.live_number)
    version.state = "withdrawn"
    article.status = "withdrawn"
    article.withdrawn_at = utcnow()
    article.live_number = None
    unindex_article(article)
    _audit("kb.withdraw", actor, article, version, note=reason.strip())
    db.session.commit()
    return article


# --- imports -------------------------------------------------------------------------


def import_content(
    key: str, content: dict[str, Any], actor: User | None, *, source: str, publish: bool = True
) -> str:
    """Create or update one article from an import row, in the caller's transaction.

    Returns "created", "updated" or "unchanged". An import is the city's authoritative
    text: it is published at once unless `publish` is False (then it waits in review).
    """
    article = db.session.scalar(select(Article).where(Article.key == key))
    created = article is None
    if article is None:
        article = Article(key=key, status="draft", head_number=0, created_at=utcnow())
        _copy_listing_fields(article, ArticleVersion(**content))
        db.session.add(article)
        db.session.flush()
    else:
        head = version_of(article, article.head_number)
        if _same_content(head, content) and head.state in ("published", "review", "approved"):
            return "unchanged"
        if head.state in ("draft", "rejected", "review", "approved"):
            head.state = "superseded"
    version = _new_version(article, content, actor, state="review", note=f"imported from {source}")
    version.source = "import"
    version.submitted_at = utcnow()
    if publish:
        version.state = "approved"
        version.reviewed_at = utcnow()
        _publish(article, version, actor)
    else:
        _audit("kb.import", actor, article, version, source=source)
    return "created" if created else "updated"


def _same_content(version: ArticleVersion, content: Mapping[str, Any]) -> bool:
    return all(getattr(version, name) == value for name, value in content.items())


# --- the publishing deadline of service guides --------------------------------------------


def late_publications(now: datetime | None = None) -> list[ArticleVersion]:
    """Approved versions whose publication deadline has passed (indexed range scan)."""
    moment = now or utcnow()
    return list(
        db.session.scalars(
            select(ArticleVersion)
            .where(
                ArticleVersion.state == "approved",
                ArticleVersion.publish_due_at.is_not(None),
                ArticleVersion.publish_due_at < moment,
            )
            .order_by(ArticleVersion.publish_due_at)
        )
    )


def flag_late_publications(now: datetime | None = None) -> int:
    """Raise one alert per late service guide (idempotent: each version alerts once)."""
    flagged = 0
    for version in late_publications(now):
        if version.late_alerted_at is not None:
            continue
        version.late_alerted_at = utcnow()
        article = db.session.get(Article, version.article_id)
        db.session.add(
            SystemAlert(
                kind="kb_publish_late",
                key=f"{article.key}:v{version.number}",
                message=(
                    f"办事指南《{version.title}》（{article.key} 第 {version.number} 版）审核通过后"
                    f"未在 1 个工作日内发布"
                ),
            )
        )
        flagged += 1
    db.session.commit()
    return flagged


# --- feedback and comparison --------------------------------------------------------------


def record_feedback(
    key: str, *, helpful: bool, channel: str, query: str | None = None, comment: str | None = None
) -> ArticleFeedback:
    """A reader's "helpful / not helpful"; unhelpful answers to a question are gaps too."""
    from knowledge_base.gaps import private_free, record_knowledge_gap
    from knowledge_base.search import visible

    shown_on = channel if channel in CHANNELS else None  # "api": any channel
    article = db.session.scalar(select(Article).where(Article.key == key, *visible(shown_on)))
    if article is None:  # drafts, withdrawn, expired and other channels' articles alike
        raise NotFound(f"no article {key}", f"知识库文章 {key} 不存在")
    query = private_free(query or "") or None
    comment = private_free(comment or "") or None
    feedback = ArticleFeedback(
        article_id=article.id,
        version_number=article.live_number,
        helpful=helpful,
        channel=channel,
        query=(query or "").strip()[:500] or None,
        comment=(comment or "").strip()[:1000] or None,
        at=utcnow(),
    )
    db.session.add(feedback)
    if helpful:
        article.helpful_count = Article.helpful_count + 1
    else:
        article.unhelpful_count = Article.unhelpful_count + 1
    db.session.commit()
    if not helpful and feedback.query:
        record_knowledge_gap(feedback.query, channel, reason="unhelpful")
    return feedback


@dataclass
class FieldChange:
    field: str
    before: Any
    after: Any
    diff: list[tuple[str, str]] | None = None  # body: (op, text) pieces


def compare_versions(article: Article, older: int, newer: int) -> list[FieldChange]:
    """What changed between two versions, field by field; the body as a character diff
    (Chinese has no spaces to split words on)."""
    a = version_of(article, older).content()
    b = version_of(article, newer).content()
    changes = []
    for field in a:
        if a[field] == b[field]:
            continue
        change = FieldChange(field, a[field], b[field])
        if field == "body":
            change.diff = _text_diff(a[field] or "", b[field] or "")
        changes.append(change)
    return changes


def _text_diff(before: str, after: str) -> list[tuple[str, str]]:
    pieces: list[tuple[str, str]] = []
    matcher = difflib.SequenceMatcher(a=before, b=after, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            pieces.append(("equal", before[i1:i2]))
        if op in ("delete", "replace"):
            pieces.append(("delete", before[i1:i2]))
        if op in ("insert", "replace"):
            pieces.append(("insert", after[j1:j2]))
    return pieces


__all__ = ["CHANNELS", "KINDS", "Problem", "as_date", "as_list", "clean_content"]
