"""Knowledge gaps: questions nobody found an answer to, and the answers readers disliked.

Gaps are counted by `knowledge_base.search.record_knowledge_gap`; editors work through
the open ones (write or fix an article) and mark them resolved. A resolved gap reopens
by itself the next time the question goes unanswered.
"""

from __future__ import annotations

from sqlalchemy import select

from hotline.audit import record_event
from hotline.errors import NotFound, PermissionDenied
from hotline.extensions import db
from hotline.models import Article, KnowledgeGap, User, utcnow
from knowledge_base.articles import EDITOR_ROLES


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
