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
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from flask import current_app
from sqlalchemy import (
    or_,
    select,
)

from hotline.clock.service import clock_settings
from hotline.errors import InvalidInput
from hotline.extensions import db
from hotline.models import (
    Article,
    ArticleVersion,
    Category,
    utcnow,
)
from knowledge_base.candidates import is_story, pg_candidates, sqlite_candidates
from knowledge_base.gaps import private_free, record_knowledge_gap
from knowledge_base.index import (
    analyzer,
    cached_rows,
    dialect,
    document_frequencies,
    plain_text,
    read_rows,
)
from knowledge_base.scoring import (
    Asked,
    StoryRanking,
    Weighted,
    char_bonus,
    coverage,
    fuse,
    question_match,
    stress_the_ask,
    subject_coverage,
    term_counts,
    weigh_units,
)
from knowledge_base.text import STORY_PARTS, Query, StoryCut, story_cut

CHANNELS = ("hotline", "portal", "window")
# Aliases callers of the API use for the same channels (ticket channel names).
CHANNEL_ALIASES = {"phone": "hotline", "sms": "hotline", "chat": "hotline", "web": "portal"}
_CHAR_SHARE = 0.05
# How much of its subject a question names when it is, whole, one of the keywords (or
# title words) of a single candidate (查公积金): at least this share.
_NAMED_SUBJECT = 0.6
# Routing's category: relevance it lends at probability 1, how sure it must be to bring
# in its category's articles as candidates, and how many.
_CATEGORY_RELEVANCE = 0.5
_CATEGORY_SURE = 0.5
_CATEGORY_EXTRA = 5
_CJK = re.compile(r"[\u3400-\u9fff]")
_LONG_NUMBER = re.compile(r"\d{7,}")
_NON_WORD = re.compile(r"[\W_]+")
_SNIPPET_CHARS = 90


@dataclass
class Hit:
    """One article found, with how well it answers and where it says so.

    It carries what a list of answers shows; `article` and `version` load the full
    rows only when a page needs them (the API's list never does)."""

    article_id: int
    key: str
    title: str
    kind: str
    version_number: int
    score: float
    snippet: str
    matched: list[str] = field(default_factory=list)

    @property
    def article(self) -> Article:
        return db.session.get(Article, self.article_id)  # type: ignore[return-value]

    @property
    def version(self) -> ArticleVersion:
        return db.session.scalars(
            select(ArticleVersion).where(
                ArticleVersion.article_id == self.article_id,
                ArticleVersion.number == self.version_number,
            )
        ).one()

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.key,
            "title": self.title,
            "kind": self.kind,
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


def visible_sql(channel: str | None = None) -> tuple[str, dict[str, Any]]:
    """`visible` as an SQL fragment over `kb_article a`, for the hot full-text queries
    (plain SQL: building expressions cost more than running the query)."""
    sql = (
        "a.status = 'published' AND a.effective_from <= :day "
        "AND (a.effective_to IS NULL OR a.effective_to >= :day)"
    )
    flag = channel_name(channel)
    if flag:
        sql += f" AND a.on_{flag} IS TRUE"
    return sql, {"day": today()}


def _snippet(body: str, matched: list[str]) -> str:
    """Where the plain-text `body` first says one of the words `matched`."""
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
    # Every term's document frequency in one read (weighing, planning and fusing ask).
    document_frequencies(
        [*query.match_terms(), *(t for u in query.units for t in (*u.terms, *u.grams))]
    )
    units = weigh_units(query)
    if is_story(units):
        stress_the_ask(query, units)
    where = visible_sql(channel)
    if dialect() == "sqlite":
        candidates = sqlite_candidates(query, units, where)
    else:
        candidates = pg_candidates(query, units, where)
    rescoring = _Rescoring(query, units)
    ids = [article_id for article_id, _rank in candidates]
    ranked = rescoring.ranked(ids, NO_CATEGORIES, limit)
    weak = not ranked or ranked[0][0] < float(current_app.config["KB_ROUTING_BELOW"])
    if weak and not is_story(units):
        # Nothing answers the question well in its own words: ask routing which category
        # it is in (a colloquial 被老板叫走人 is a dismissal) and look again, with the
        # articles of a category it is sure of as candidates too. Not for a caller's
        # story (KB_STORY_UNITS).
        categories = _likely_categories(query.text, where)
        if categories["by_id"]:
            ids += [a for a in categories["extra"] if a not in set(ids)]
            ranked = rescoring.ranked(ids, categories, limit)
    hits = _hits(ranked, rescoring.docs)
    useful = bool(hits)
    if record_gap and not useful:
        record_knowledge_gap(question, channel_name(channel) or "api")
    return SearchResult(question, hits, useful)


_category_cache: dict[str, Any] = {"at": 0.0, "ids": {}}


def _category_ids() -> dict[str, int]:
    """Category code -> id, re-read every minute (catalogue imports are rare)."""
    now = time.monotonic()
    if now - _category_cache["at"] > 60 or not _category_cache["ids"]:
        _category_cache["ids"] = dict(db.session.execute(select(Category.code, Category.id)).all())
        _category_cache["at"] = now
    return _category_cache["ids"]


NO_CATEGORIES: dict[str, Any] = {"by_id": {}, "extra": []}


def _likely_categories(question: str, where: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    """Routing's reading of the question: category id -> probability, and the visible
    articles of a category it is sure of (candidates no word of the question found)."""
    from routing.suggest import current_engine, likely_categories

    engine = current_engine()
    found = likely_categories(question, 3, engine) if engine is not None else []
    if not found:
        return NO_CATEGORIES
    ids = _category_ids()
    by_id = {ids[code]: p for code, p in found if code in ids}
    extra: list[int] = []
    code, probability = found[0]
    if code in ids and probability >= _CATEGORY_SURE:
        rows = read_rows(
            f"SELECT a.id FROM kb_article a WHERE a.category_id = :category "
            f"AND {where[0]} ORDER BY a.id LIMIT :limit",
            {**where[1], "category": ids[code], "limit": _CATEGORY_EXTRA},
        )
        extra = [row[0] for row in rows]
    return {"by_id": by_id, "extra": extra}


def _documents(ids: list[int]) -> dict[int, Any]:
    """The search terms of the articles `ids`, with their category."""
    return cached_rows("terms", ids, _read_documents)


def _read_documents(ids: list[int]) -> dict[int, Any]:
    """With what a list of answers shows of each (its live version's key, title, kind,
    number and body): read with the terms, the answers cost no query of their own."""
    rows = read_rows(
        "SELECT d.article_id, d.title_terms, d.keyword_terms, d.body_terms, "
        "d.sound_terms, d.subject_terms, d.question_terms, d.story_terms, a.category_id, "
        "a.key, v.title, v.kind, v.number, v.body "
        "FROM kb_search_document d JOIN kb_article a ON a.id = d.article_id "
        "JOIN kb_article_version v ON v.article_id = a.id AND v.number = a.live_number "
        "WHERE d.article_id IN :ids",
        {},
        ids=ids,
    )
    return {row.article_id: row for row in rows}


def _measure(
    query: Query, units: list[Weighted], asked: Asked, doc: Any
) -> tuple[float, list[str], float, float, float]:
    """An article against the question: coverage (and what matched), subject coverage,
    the closest similar question, and the single characters of its subject."""
    covered, matched, _on_subject = coverage(units, doc)
    return (
        covered,
        matched,
        subject_coverage(asked, doc.subject_terms),
        question_match(asked, doc.question_terms),
        char_bonus(query.chars, doc),
    )


class _Rescoring:
    """Re-scores the index's best candidates for one question; keeps those relevant
    enough.

    Relevance is the largest of how much of the question an article covers, how much
    of the article's subject the question names, how closely it matches one of the
    article's similar questions, or how sure routing is that the question is in the
    article's category (routing reads colloquial requests: 被老板叫走人 is a
    dismissal). The threshold falls for long questions: a caller's story has much that
    no article needs to say. Each article is measured once, however often it is ranked
    (first without routing's reading, then with it)."""

    def __init__(self, query: Query, units: list[Weighted]) -> None:
        self.query, self.units = query, units
        self.asked = Asked.of(query, units)
        self.docs: dict[int, Any] = {}
        self.measures: dict[int, tuple[float, list[str], float, float, float]] = {}
        self.counted: dict[int, tuple[int, dict[str, int]]] = {}  # for fuse's BM25
        # ... and for the story rankings (_cuts): each article's lengths and counts.
        self.story_counted: dict[int, tuple[int, int | None, Counter[str]] | None] = {}
        self.cut: StoryCut | None = None  # the question as story_cut cuts it
        config = current_app.config
        self.share = float(config["KB_COVERAGE_SHARE"])
        self.subject_share = float(config["KB_SUBJECT_SHARE"])
        self.category_share = float(config["KB_CATEGORY_SHARE"])
        self.question_share = float(config["KB_QUESTION_SHARE"])
        self.threshold = float(config["KB_MIN_SCORE"]) * min(1.0, math.sqrt(8 / max(len(units), 1)))

    def ranked(
        self, ids: list[int], categories: dict[str, Any], limit: int
    ) -> list[tuple[float, int, list[str]]]:
        """(score, article id, what matched) of the relevant ones, best first."""
        self.docs.update(_documents([a for a in ids if a not in self.docs]))
        named = self._named(ids)
        scored = []
        for article_id in ids:
            doc = self.docs.get(article_id)
            if doc is None:
                continue
            if article_id not in self.measures:
                self.measures[article_id] = _measure(self.query, self.units, self.asked, doc)
            covered, matched, subject, phrased, chars = self.measures[article_id]
            if article_id == named:
                subject = max(subject, _NAMED_SUBJECT)
            category = categories["by_id"].get(doc.category_id, 0.0)
            relevance = max(covered, subject, phrased, category * _CATEGORY_RELEVANCE)
            # The more of the article's own subject the question names, the better it
            # fits: among articles that all cover a short question, the one it is about
            # wins.
            score = (
                self.share * relevance
                + self.subject_share * subject
                + _CHAR_SHARE * chars
                + self.category_share * category
                + self.question_share * phrased
            )
            if relevance >= self.threshold:
                scored.append((score, article_id, matched))
        story = is_story(self.units)
        cuts = self._cuts(scored, story)
        if story:
            fused = fuse(self.query, scored, self.docs, self.counted, story=cuts)
        else:
            words = cuts[0] if cuts else None
            fused = fuse(self.query, scored, self.docs, self.counted, words=words)
        return fused[:limit]

    def _named(self, ids: list[int]) -> int | None:
        """The one candidate the whole question is a keyword (or title word) of, as an
        editor wrote it (查公积金 is one of the balance enquiry's keywords; its words alone
        would only say 公积金). None when several are (公积金提取 is a keyword of both
        withdrawals): the rest of the scoring decides among them."""
        if not self.asked.text:
            return None
        phrase = f" {self.asked.text} "
        named = [a for a in ids if a in self.docs and phrase in f" {self.docs[a].subject_terms} "]
        return named[0] if len(named) == 1 else None

    def _cuts(self, scored: list[tuple[float, int, list[str]]], story: bool) -> list[StoryRanking]:
        """The question's words and each candidate's length and count of them, as
        story_cut cuts both: for a caller's story, once as words and the pairs of
        characters left single and once as words and those characters themselves; for
        a question, the second only. An article indexed before its story terms were kept
        is left out, and then the index's own terms rank them all; one indexed before
        they kept their characters has only the first (until the worker's re-index,
        knowledge_base.reindex)."""
        if len(scored) < 2:
            return []
        if self.cut is None:
            self.cut = story_cut(self.query.read_as())
        cut = self.cut
        paired, single = [*cut.words, *cut.pairs], [*cut.words, *cut.chars]
        wanted = {*paired, *single} if story else set(single)
        by_pairs: dict[int, tuple[int, Counter[str]]] = {}
        by_chars: dict[int, tuple[int, Counter[str]]] = {}
        for _, article_id, _ in scored:
            if article_id not in self.story_counted:
                self.story_counted[article_id] = _story_lengths(
                    self.docs[article_id].story_terms, wanted
                )
            counted = self.story_counted[article_id]
            if counted is None:
                continue
            paired_length, single_length, counts = counted
            by_pairs[article_id] = (paired_length, counts)
            if single_length is not None:
                by_chars[article_id] = (single_length, counts)
        return [(paired, by_pairs), (single, by_chars)] if story else [(single, by_chars)]


def _story_lengths(
    terms: str | None, wanted: set[str]
) -> tuple[int, int | None, Counter[str]] | None:
    """An article's length in story terms as words and pairs, as words and characters
    (None when it was indexed before the characters were kept), and its counts of
    `wanted`; None when it has no story terms."""
    if terms is None:
        return None
    counts = _story_counts(terms, wanted)
    parts = terms.split(STORY_PARTS)
    if len(parts) != 3:  # kept before the characters were
        return terms.count(" ") + 1, None, counts
    words, pairs, chars = (part.count(" ") + 1 if part else 0 for part in parts)
    return words + pairs, words + chars, counts


def _story_counts(terms: str, wanted: set[str]) -> Counter[str]:
    """How often each of `wanted` is one of the space-separated `terms`."""
    return Counter(term_counts(terms, [(t, f" {t} ") for t in wanted]))


def _hits(scored: list[tuple[float, int, list[str]]], docs: dict[int, Any]) -> list[Hit]:
    """What a list of answers shows of the articles ranked (`docs`, their rows)."""
    if not scored:
        return []
    by_id = cached_rows("entry", [a for _, a, _ in scored], lambda ids: _entries(ids, docs))
    return [
        Hit(
            article_id,
            by_id[article_id].key,
            by_id[article_id].title,
            by_id[article_id].kind,
            by_id[article_id].number,
            score,
            _snippet(by_id[article_id].text, matched),
            matched,
        )
        for score, article_id, matched in scored
    ]


@dataclass(frozen=True)
class _Entry:
    """An article as a list of answers shows it: its live version's title and kind, and
    its body as plain text (snippets are cut from it; kept, as making it costs more than
    cutting them)."""

    key: str
    title: str
    kind: str
    number: int
    text: str


def _entries(ids: list[int], docs: dict[int, Any]) -> dict[int, _Entry]:
    return {
        a: _Entry(row.key, row.title, row.kind, row.number, plain_text(row.body))
        for a in ids
        if (row := docs.get(a)) is not None
    }


__all__ = ["Hit", "SearchResult", "private_free", "record_knowledge_gap", "search"]
