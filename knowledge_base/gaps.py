"""Knowledge gaps: questions nobody found an answer to, and the answers readers disliked.

Gaps are counted by `knowledge_base.search.record_knowledge_gap`; editors work through
the open ones (write or fix an article) and mark them resolved. A resolved gap reopens
by itself the next time the question goes unanswered.
"""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from hotline import privacy
from hotline.audit import record_event
from hotline.errors import NotFound, PermissionDenied
from hotline.extensions import db
from hotline.models import Article, KnowledgeGap, User, utcnow
from knowledge_base.articles import EDITOR_ROLES
from knowledge_base.index import analyzer


def list_gaps(limit: int = 200) -> list[KnowledgeGap]:
    """Open gaps, the most asked first."""
    return list(
        db.session.scalars(
            select(KnowledgeGap)
            .where(KnowledgeGap.resolved_at.is_(None))
            .order_by(KnowledgeGap.count.desc(), KnowledgeGap.last_at.desc(), KnowledgeGap.id)
            .limit(limit)
        )
    )


def most_unhelpful(limit: int = 20) -> list[Article]:
    """Articles readers marked "not helpful", the most often first."""
    return list(
        db.session.scalars(
            select(Article)
            .where(Article.unhelpful_count > 0)
            .order_by(Article.unhelpful_count.desc(), Article.key)
            .limit(limit)
        )
    )


def resolve_gap(gap_id: int, actor: User) -> KnowledgeGap:
    """Mark a gap as dealt with (idempotent: resolving it twice keeps the first time)."""
    if actor is None or actor.role not in EDITOR_ROLES:
        raise PermissionDenied(
            "only knowledge editors and administrators may resolve gaps",
            "只有知识库编辑或管理员可以处理知识缺口",
        )
    gap = db.session.get(KnowledgeGap, gap_id)
    if gap is None:
        raise NotFound(f"no knowledge gap {gap_id}", f"知识缺口 {gap_id} 不存在")
    if gap.resolved_at is None:
        gap.resolved_at = utcnow()
        gap.resolved_by_id = actor.id
        record_event(
            "kb.gap_resolved",
            actor=actor,
            data={"gap": gap.id, "query": gap.query, "count": gap.count},
        )
    db.session.commit()
    return gap


_LONG_NUMBER = re.compile(r"\d{7,}")


# --- counting them ---------------------------------------------------------------


def private_free(question: str) -> str:
    """A question as it may be stored: citizens type phone and ID numbers into search
    boxes, and gap reports are read by editors."""
    scrubbed = privacy.scrub_text(question) or ""
    return _LONG_NUMBER.sub("***", scrubbed)


def gap_key(question: str) -> str:
    """The form questions are counted under: normalised, no spaces or punctuation."""
    normalised = analyzer().query(question).normalised
    return re.sub(r"[\W_]+", "", normalised)[:200]


def record_knowledge_gap(question: str, channel: str, reason: str = "no_result") -> None:
    """Count a question the knowledge base could not answer (its own small transaction)."""
    question = private_free(question)
    key = gap_key(question)
    if not key:
        return
    now = utcnow()
    gap = db.session.scalar(select(KnowledgeGap).where(KnowledgeGap.query_key == key))
    if gap is None:
        try:
            with db.session.begin_nested():
                db.session.add(
                    KnowledgeGap(
                        query_key=key,
                        query=question.strip()[:500],
                        channels=[channel],
                        reason=reason,
                        first_at=now,
                        last_at=now,
                    )
                )
            db.session.commit()
            return
        except IntegrityError:  # a concurrent search counted it first: count it there
            db.session.rollback()
            gap = db.session.scalar(select(KnowledgeGap).where(KnowledgeGap.query_key == key))
            if gap is None:
                raise
    gap.count = KnowledgeGap.count + 1
    gap.last_at = now
    gap.resolved_at = None
    if channel not in (gap.channels or []):
        gap.channels = [*(gap.channels or []), channel]
    db.session.commit()
