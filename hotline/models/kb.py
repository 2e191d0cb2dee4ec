"""Knowledge base (统一知识库): articles, their versions, the search index, synonyms,
knowledge gaps and citizens' feedback.

An article is the stable identity (`kb-0001`, the key cities use in their files); its
content lives in versions, each kept for ever. The live (published) version is the one
every channel answers from; a newer version may be in draft or review beside it.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hotline.models.base import Base, UTCDateTime, utcnow
from hotline.models.org import Category, Department


class Article(Base):
    """One knowledge item, with the fields every channel filters on copied from its live
    version (so listing and filtering never join the version history)."""

    __tablename__ = "kb_article"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(32), unique=True)
    # draft (never published) | published | withdrawn; "expired" is computed from dates.
    status: Mapped[str] = mapped_column(String(12), default="draft", index=True)
    head_number: Mapped[int] = mapped_column(Integer, default=1)
    live_number: Mapped[int | None] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(12))
    category_id: Mapped[int | None] = mapped_column(ForeignKey("category.id"), index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"), index=True)
    effective_from: Mapped[date] = mapped_column(Date)
    effective_to: Mapped[date | None] = mapped_column(Date)
    on_hotline: Mapped[bool] = mapped_column(Boolean, default=True)
    on_portal: Mapped[bool] = mapped_column(Boolean, default=True)
    on_window: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Indexed: search processes ask for the latest of each every few seconds
    # (knowledge_base.index.analyzer).
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    helpful_count: Mapped[int] = mapped_column(Integer, default=0)
    unhelpful_count: Mapped[int] = mapped_column(Integer, default=0)

    category: Mapped[Category | None] = relationship()
    department: Mapped[Department | None] = relationship()
    versions: Mapped[list[ArticleVersion]] = relationship(
        back_populates="article", order_by="ArticleVersion.number"
    )


class ArticleVersion(Base):
    """One version of an article's content and where it stands in review."""

    __tablename__ = "kb_article_version"
    __table_args__ = (UniqueConstraint("article_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("kb_article.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    # draft | review | approved | published | superseded | rejected | withdrawn
    state: Mapped[str] = mapped_column(String(12), index=True)
    title: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(12))
    category_id: Mapped[int | None] = mapped_column(ForeignKey("category.id"))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))
    body: Mapped[str] = mapped_column(Text)  # Markdown
    keywords: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Similar questions (相似问法): how citizens ask for this answer, in their words.
    questions: Mapped[list[str]] = mapped_column(JSON, default=list)
    materials: Mapped[list[str]] = mapped_column(JSON, default=list)
    issuing_unit: Mapped[str | None] = mapped_column(String(128))
    document_number: Mapped[str | None] = mapped_column(String(64))
    effective_from: Mapped[date] = mapped_column(Date)
    effective_to: Mapped[date | None] = mapped_column(Date)
    on_hotline: Mapped[bool] = mapped_column(Boolean, default=True)
    on_portal: Mapped[bool] = mapped_column(Boolean, default=True)
    on_window: Mapped[bool] = mapped_column(Boolean, default=True)
    change_note: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(12), default="editor")  # editor | import
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    review_note: Mapped[str | None] = mapped_column(Text)
    # Service guides: publication is due within KB_GUIDE_PUBLISH_LIMIT of approval.
    publish_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    late_alerted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    article: Mapped[Article] = relationship(back_populates="versions")
    category: Mapped[Category | None] = relationship()
    department: Mapped[Department | None] = relationship()

    def content(self) -> dict[str, Any]:
        """The fields an editor changes (what two versions are compared on)."""
        return {
            "title": self.title,
            "kind": self.kind,
            "category": self.category.code if self.category else None,
            "department": self.department.code if self.department else None,
            "body": self.body,
            "keywords": list(self.keywords or []),
            "questions": list(self.questions or []),
            "materials": list(self.materials or []),
            "issuing_unit": self.issuing_unit,
            "document_number": self.document_number,
            "effective_from": self.effective_from,
            "effective_to": self.effective_to,
            "channels": [
                name
                for name, on in (
                    ("hotline", self.on_hotline),
                    ("portal", self.on_portal),
                    ("window", self.on_window),
                )
                if on
            ],
        }


class SearchDocument(Base):
    """The live version's search terms (space-separated), one row per searchable article.

    The subject (title, keywords and their sounds) is what the database's full-text
    index finds candidates by: SQLite's FTS5 tables `kb_fts` and `kb_fts_subject`
    (rowid = article id), and on PostgreSQL a weighted `tsvector` column with a GIN
    index (migration 0004) and its title and keywords alone, `subject_vector`, with
    another (0008). The body's terms are read only to score those candidates.
    """

    __tablename__ = "kb_search_document"

    article_id: Mapped[int] = mapped_column(ForeignKey("kb_article.id"), primary_key=True)
    title_terms: Mapped[str] = mapped_column(Text, default="")
    keyword_terms: Mapped[str] = mapped_column(Text, default="")
    body_terms: Mapped[str] = mapped_column(Text, default="")
    sound_terms: Mapped[str] = mapped_column(Text, default="")
    subject_sounds: Mapped[str] = mapped_column(Text, default="")
    # The article's subject as phrases: its keywords and its title's words.
    subject_terms: Mapped[str] = mapped_column(Text, default="")
    # Each similar question's words, questions separated by " | ".
    question_terms: Mapped[str] = mapped_column(Text, default="")
    # Title, keywords, similar questions and body as jieba's search mode cuts them
    # (knowledge_base.text.story_terms): how a caller's long story is matched.
    story_terms: Mapped[str | None] = mapped_column(Text, nullable=True)


class TermFrequency(Base):
    """How many searchable articles contain a term (kept with the index, for idf)."""

    __tablename__ = "kb_term"

    term: Mapped[str] = mapped_column(String(64), primary_key=True)
    documents: Mapped[int] = mapped_column(Integer, default=0)


class IndexState(Base):
    """How the search index was built: one row. `analysis` is the fingerprint of the
    text analysis its terms came from (knowledge_base.reindex.analysis_fingerprint), None
    until it is known; a worker re-indexes every article when it differs from its own."""

    __tablename__ = "kb_index_state"

    id: Mapped[int] = mapped_column(primary_key=True)
    analysis: Mapped[str | None] = mapped_column(String(64))
    indexed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SynonymGroup(Base):
    """Terms that mean the same to a citizen (社保卡/医保卡/社会保障卡); editable data."""

    __tablename__ = "kb_synonym_group"

    id: Mapped[int] = mapped_column(primary_key=True)
    terms: Mapped[list[str]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class KnowledgeGap(Base):
    """A question the knowledge base had no useful answer for, counted per normalised query."""

    __tablename__ = "kb_gap"

    id: Mapped[int] = mapped_column(primary_key=True)
    query_key: Mapped[str] = mapped_column(String(200), unique=True)
    query: Mapped[str] = mapped_column(Text)
    count: Mapped[int] = mapped_column(Integer, default=1)
    channels: Mapped[list[str]] = mapped_column(JSON, default=list)
    reason: Mapped[str] = mapped_column(String(16), default="no_result")  # | unhelpful
    first_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))


class ArticleFeedback(Base):
    """A citizen's or clerk's "helpful / not helpful" on an article."""

    __tablename__ = "kb_feedback"

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("kb_article.id"), index=True)
    version_number: Mapped[int | None] = mapped_column(Integer)
    helpful: Mapped[bool] = mapped_column(Boolean)
    channel: Mapped[str] = mapped_column(String(12))
    query: Mapped[str | None] = mapped_column(Text)
    comment: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
