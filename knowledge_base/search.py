"""The one answer service: find the published article that answers a question.

Every channel asks here: the agent console (as the agent types, or as a call's
transcript arrives), the online hall, the window terminal and the JSON API. The
database finds candidates with its own full-text index (SQLite FTS5 `bm25`,
PostgreSQL `ts_rank` over a GIN-indexed tsvector); the best few are re-scored by how
much of the question they cover, which also decides whether anything useful was
found at all. Questions with nothing useful are counted as knowledge gaps.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from flask import current_app
from sqlalchemy import (
    REAL,
    Select,
    and_,
    bindparam,
    cast,
    column,
    func,
    literal_column,
    or_,
    select,
    table,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, TSQUERY
from sqlalchemy.exc import IntegrityError

from hotline import privacy
from hotline.clock.service import clock_settings
from hotline.errors import InvalidInput
from hotline.extensions import db
from hotline.models import Article, ArticleVersion, KnowledgeGap, SearchDocument, utcnow
from knowledge_base.index import (
    analyzer,
    dialect,
    document_count,
    document_frequencies,
    plain_text,
)
from knowledge_base.text import Query, Unit

CHANNELS = ("hotline", "portal", "window")
# Aliases callers of the API use for the same channels (ticket channel names).
CHANNEL_ALIASES = {"phone": "hotline", "sms": "hotline", "chat": "hotline", "web": "portal"}
_CANDIDATES = 20
_CJK = re.compile(r"[\u3400-\u9fff]")
_LONG_NUMBER = re.compile(r"\d{7,}")
_FTS = table("kb_fts", column("rowid"))
_SNIPPET_CHARS = 90


@dataclass
class Hit:
    """One article found, with how well it answers and where it says so."""

    article: Article
    version: ArticleVersion
    score: float
    snippet: str
    matched: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.article.key,
            "title": self.version.title,
            "kind": self.version.kind,
            "score": round(self.score, 3),
            "snippet": self.snippet,
        }


@dataclass
class SearchResult:
    query: str
    hits: list[Hit]
    useful: bool


def channel_name(channel: str | None) -> str | None:
    """The channel flag a search filters on, from any spelling callers use; None = all.
    An unknown channel is refused, never widened to every channel."""
    if not channel:
        return None
    value = CHANNEL_ALIASES.get(channel, channel)
    if value not in CHANNELS:
        names = ", ".join((*CHANNELS, *CHANNEL_ALIASES))
        raise InvalidInput(
            f"channel must be one of {names}", f"渠道须为 {names} 之一", field="channel"
        )
    return value


def private_free(question: str) -> str:
    """A question as it may be stored: citizens type phone and ID numbers into search
    boxes, and gap reports are read by editors."""
    scrubbed = privacy.scrub_text(question) or ""
    return _LONG_NUMBER.sub("***", scrubbed)


def today() -> date:
    return clock_settings().local_date(utcnow())


def visible(channel: str | None = None, on: date | None = None) -> list[Any]:
    """Conditions of an article every channel may show: published, in force, on the channel."""
    day = on or today()
    conditions: list[Any] = [
        Article.status == "published",
        Article.effective_from <= day,
        or_(Article.effective_to.is_(None), Article.effective_to >= day),
    ]
    flag = channel_name(channel)
    if flag:
        conditions.append(getattr(Article, f"on_{flag}").is_(True))
    return conditions


def _fts_quote(term: str) -> str:
    return '"' + term.replace('"', "") + '"'


def _sqlite_candidates(query: Query, conditions: list[Any]) -> list[tuple[int, float]]:
    terms = query.match_terms()
    parts = []
    if terms:
        parts.append("{title keywords body} : (" + " OR ".join(map(_fts_quote, terms)) + ")")
    if query.sounds:
        parts.append("sounds : (" + " OR ".join(map(_fts_quote, query.sounds)) + ")")
    weights = current_app.config["KB_FIELD_WEIGHTS"]
    rank = literal_column(
        "bm25(kb_fts, {title}, {keywords}, {body}, {sounds})".format(
            **{k: float(weights[k]) for k in ("title", "keywords", "body", "sounds")}
        )
    )
    statement: Select[Any] = (
        select(Article.id, rank.label("rank"))
        .select_from(_FTS)
        .join(Article, Article.id == _FTS.c.rowid)
        .where(text("kb_fts MATCH :match"), *conditions)
        .order_by(text("rank"))
        .limit(_CANDIDATES)
    )
    rows = db.session.execute(statement, {"match": " OR ".join(parts)}).all()
    return [(row[0], -float(row[1])) for row in rows]


def _pg_candidates(query: Query, conditions: list[Any]) -> list[tuple[int, float]]:
    lexemes = [f"'{t}':ABC" for t in query.match_terms()]
    lexemes += [f"'{s}':D" for s in query.sounds]
    weights = current_app.config["KB_FIELD_WEIGHTS"]
    # ts_rank's weights are ordered {D, C, B, A}; normalisation 1 divides by 1 + log(length).
    shares = [
        float(weights[k]) / float(weights["title"]) for k in ("sounds", "body", "keywords", "title")
    ]
    array = "{" + ",".join(str(share) for share in shares) + "}"
    vector = literal_column("kb_search_document.search_vector")
    tsquery = cast(bindparam("tsquery", " | ".join(lexemes)), TSQUERY)
    rank = func.ts_rank(cast(bindparam("weights", array), ARRAY(REAL)), vector, tsquery, 1)
    statement: Select[Any] = (
        select(Article.id, rank.label("rank"))
        .join(SearchDocument, SearchDocument.article_id == Article.id)
        .where(vector.op("@@")(tsquery), *conditions)
        .order_by(text("rank DESC"))
        .limit(_CANDIDATES)
    )
    rows = db.session.execute(statement).all()
    return [(row[0], float(row[1])) for row in rows]


@dataclass
class _Weighted:
    unit: Unit
    weight: float


def _units(query: Query) -> list[_Weighted]:
    """The question's units, each weighted by how rare it is among the articles. A word no
    article has (rambling detail, or the sign of a question the base cannot answer)
    counts for less than a rare word the articles do have."""
    units = list(query.units)
    if not units:  # single characters only
        units = [Unit(w, (w,), (), ()) for w in query.words]
    total = max(document_count(), 1)
    lookup = [t for u in units for t in (*u.terms, *u.grams)]
    frequencies = document_frequencies(lookup)
    weighted = []
    for unit in units:
        df = max(frequencies.get(t, 0) for t in unit.terms)
        if df == 0 and len(unit.grams) >= 2:  # a long word: as rare as its rarest part
            df = min(frequencies.get(g, 0) for g in unit.grams)
        idf = math.log(1 + (total - df + 0.5) / (df + 0.5))
        weighted.append(_Weighted(unit, idf * (0.4 if df == 0 else 1.0)))
    return weighted


def _coverage(units: list[_Weighted], doc: Any) -> tuple[float, list[str], bool]:
    """How much of the question (by weight) the article speaks to, 0–1, and what matched:
    a word (or a synonym) in the title or keywords fully, in the body a little less; a
    long word by the share of its bigrams found; a homophone typo by its sounds."""
    strong = set(doc.title_terms.split()) | set(doc.keyword_terms.split())
    body = set(doc.body_terms.split())
    sounds = set(doc.sound_terms.split())
    got = 0.0
    matched: list[str] = []
    on_subject = False  # something the question asks about is what the article is about
    for item in units:
        unit = item.unit
        share = 0.0
        if any(t in strong for t in unit.terms):
            share = 1.0
            on_subject = True
        elif any(t in body for t in unit.terms):
            share = 0.75
        else:
            if len(unit.grams) >= 2:
                in_strong = sum(g in strong for g in unit.grams)
                found = sum(1.0 if g in strong else 0.75 if g in body else 0.0 for g in unit.grams)
                share = 0.8 * found / len(unit.grams)
                on_subject |= in_strong * 2 >= len(unit.grams)
            if unit.sounds and all(s in sounds for s in unit.sounds):
                share = max(share, 0.55)
                on_subject = True
        if share:
            got += share * item.weight
            matched.append(unit.word)
    total = sum(item.weight for item in units)
    return (got / total if total else 0.0), matched, on_subject


def _snippet(version: ArticleVersion, matched: list[str]) -> str:
    body = plain_text(version.body)
    if len(body) <= _SNIPPET_CHARS:
        return body
    positions = [body.find(word) for word in matched if word and body.find(word) >= 0]
    start = max(0, min(positions) - 20) if positions else 0
    piece = body[start : start + _SNIPPET_CHARS]
    return ("…" if start else "") + piece + ("…" if start + _SNIPPET_CHARS < len(body) else "")


def search(
    question: str,
    *,
    channel: str | None = None,
    limit: int = 10,
    record_gap: bool = False,
) -> SearchResult:
    """Published, in-force articles for `question`, best first; gaps counted if asked."""
    query = analyzer().query(question or "")
    limit = max(1, min(int(limit), 50))
    if query.empty:
        return SearchResult(question, [], False)
    conditions = visible(channel)
    if dialect() == "sqlite":
        candidates = _sqlite_candidates(query, conditions)
    else:
        candidates = _pg_candidates(query, conditions)
    hits = _rescore(query, candidates, limit)
    useful = bool(hits)
    if record_gap and not useful:
        record_knowledge_gap(question, channel_name(channel) or "api")
    return SearchResult(question, hits, useful)


def _rescore(query: Query, candidates: list[tuple[int, float]], limit: int) -> list[Hit]:
    """Re-score the index's best candidates by coverage; keep those above the threshold.

    The threshold falls for long questions (a caller's story has much that no article
    needs to say), and an answer must be about something the question asks: a word of
    the question in its title or keywords, not only somewhere in its body."""
    if not candidates:
        return []
    units = _units(query)
    docs = {
        row.article_id: row
        for row in db.session.execute(
            select(
                SearchDocument.article_id,
                SearchDocument.title_terms,
                SearchDocument.keyword_terms,
                SearchDocument.body_terms,
                SearchDocument.sound_terms,
            ).where(SearchDocument.article_id.in_([a for a, _ in candidates]))
        )
    }
    config = current_app.config
    best = max(rank for _, rank in candidates) or 1.0
    share = float(config["KB_COVERAGE_SHARE"])
    threshold = float(config["KB_MIN_SCORE"]) * min(1.0, math.sqrt(8 / max(len(units), 1)))
    scored = []
    for article_id, rank in candidates:
        doc = docs.get(article_id)
        if doc is None:
            continue
        coverage, matched, on_subject = _coverage(units, doc)
        if not on_subject:
            continue
        score = share * coverage + (1 - share) * (rank / best) * min(1.0, coverage * 2)
        if score >= threshold:
            scored.append((score, article_id, matched))
    scored.sort(key=lambda item: item[0], reverse=True)
    scored = scored[:limit]
    if not scored:
        return []
    rows = db.session.execute(
        select(Article, ArticleVersion)
        .join(
            ArticleVersion,
            and_(
                ArticleVersion.article_id == Article.id,
                ArticleVersion.number == Article.live_number,
            ),
        )
        .where(Article.id.in_([a for _, a, _ in scored]))
    ).all()
    by_id = {article.id: (article, version) for article, version in rows}
    hits = []
    for score, article_id, matched in scored:
        article, version = by_id[article_id]
        hits.append(Hit(article, version, score, _snippet(version, matched), matched))
    return hits


# --- knowledge gaps -----------------------------------------------------------------


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
