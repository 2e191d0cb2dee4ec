"""The search index inside the database: write and remove an article's terms.

One `kb_search_document` row per searchable article holds its terms. SQLite mirrors
them into the FTS5 tables `kb_fts` and `kb_fts_subject`; PostgreSQL keeps a weighted
`tsvector` column (`search_vector`, migration 0004) built here from a literal, so
lexemes are stored exactly as segmented (PostgreSQL's own parser would not know Chinese
words), and its title and keywords alone (`subject_vector`, 0008).
Writes happen in the caller's transaction: the index can never disagree with what
was published.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import defaultdict, namedtuple
from collections.abc import Callable, Iterable
from datetime import date
from functools import lru_cache
from typing import Any

from flask import current_app
from sqlalchemy import func, select, text

from hotline.extensions import db
from hotline.models import (
    Article,
    ArticleVersion,
    SearchDocument,
    SynonymGroup,
    TermFrequency,
)
from knowledge_base.text import Analyzer, Terms, safe_term, story_terms
from routing.text import normalise

_MARKUP = re.compile(r"[#>*_`\[\]()|~-]+|!\[|https?://\S+")
_VOCABULARY_TTL_S = 5.0
_MAX_POSITION = 16383
_MAX_POSITIONS_PER_LEXEME = 64
_MAX_TERM = 64


def plain_text(markdown: str) -> str:
    """Markdown without its markup, for terms and snippets."""
    return re.sub(r"\s+", " ", _MARKUP.sub(" ", markdown or "")).strip()


def dialect() -> str:
    return db.session.get_bind().dialect.name


# --- the analyzer, with the knowledge base's own vocabulary --------------------------

_analyzer = Analyzer()
_vocabulary: dict[str, Any] = {"signature": None, "checked": 0.0}
_vocabulary_lock = threading.Lock()


def _signature() -> tuple[Any, ...]:
    """What changes when synonyms are edited or an article is published or withdrawn (in
    any process): the synonyms' count and latest edit, the latest publication and
    withdrawal (indexed, migration 0012), and the number of searchable articles (kept
    in kb_term). Counting the articles themselves scanned the table: 20 ms at 100,000."""
    synonyms = db.session.execute(
        select(func.count(SynonymGroup.id), func.max(SynonymGroup.updated_at))
    ).one()
    published = db.session.scalar(select(func.max(Article.published_at)))
    withdrawn = db.session.scalar(select(func.max(Article.withdrawn_at)))
    return (*synonyms, published, withdrawn, _kept_count())


def analyzer() -> Analyzer:
    """The process's analyzer, its synonyms and keywords reloaded when the data changed."""
    now = time.monotonic()
    if now - _vocabulary["checked"] < _VOCABULARY_TTL_S and _vocabulary["signature"]:
        return _analyzer
    signature = _signature()
    with _vocabulary_lock:
        _vocabulary["checked"] = now
        if signature != _vocabulary["signature"]:
            city = current_app.config.get("CITY_NAME") or ""
            _analyzer.add_stopwords({city, city.removesuffix("市")} - {""})
            groups = db.session.scalars(select(SynonymGroup.terms)).all()
            _analyzer.set_synonyms(groups)
            _analyzer.add_words(_published_keywords())
            _vocabulary["signature"] = signature
            forget_frequencies()
    return _analyzer


def _published_keywords() -> set[str]:
    """Every published version's keywords, read as one JSON text and parsed once: at
    100,000 articles, decoding each row's list on its own took a second after every
    publication, this a third of it."""
    joined = (
        "group_concat(keywords, ',')"
        if dialect() == "sqlite"
        else "string_agg(keywords::text, ',')"
    )
    text_of_all = db.session.execute(
        text(
            f"SELECT {joined} FROM kb_article_version "
            "WHERE state = 'published' AND keywords IS NOT NULL"
        )
    ).scalar()
    lists = json.loads(f"[{text_of_all or ''}]")
    return {str(word) for words in lists if isinstance(words, list) for word in words}


def forget_frequencies() -> None:
    """Term frequencies changed (an article was published or withdrawn in this process):
    they are read again, and so are the articles' cached rows."""
    _frequencies.clear()
    _rows.clear()


def forget_vocabulary() -> None:
    """Make the next search reload synonyms and keywords (after an edit in this process)."""
    _vocabulary["signature"] = None
    _vocabulary["checked"] = 0.0
    forget_frequencies()


# --- articles' rows a search reads (the same articles answer many questions) ---------

_rows: dict[tuple[str, int], Any] = {}
_ROW_CACHE_SIZE = 20_000


def cached_rows(
    kind: str, ids: list[int], load: Callable[[list[int]], dict[int, Any]]
) -> dict[int, Any]:
    """`load`'s rows (article id -> row) of `ids`, those read before taken from memory
    until the index changes: the same few hundred articles are the candidates of most
    questions a hotline hears in a day. `kind` names what the rows are."""
    missing = [a for a in dict.fromkeys(ids) if (kind, a) not in _rows]
    if missing:
        if len(_rows) + len(missing) > _ROW_CACHE_SIZE:
            # Full: start again, with every row asked for (those kept until now too).
            _rows.clear()
            missing = list(dict.fromkeys(ids))
        for article_id, row in load(missing).items():
            _rows[(kind, article_id)] = row
    return {a: _rows[(kind, a)] for a in ids if (kind, a) in _rows}


# --- document frequencies (how common a term is: common terms decide little) ---------

_frequencies: dict[str, int] = {}
_FREQUENCY_CACHE_SIZE = 50_000


# kb_term's row for the number of searchable articles: every one is counted under the
# empty term, so the count is kept with the others instead of counting the index (a
# table scan: a tenth of a second at 100,000 articles, after every publication).
_EVERY = ""


def _kept_count() -> int | None:
    """The number of searchable articles as the index keeps it (None: not kept yet)."""
    return db.session.scalar(select(TermFrequency.documents).where(TermFrequency.term == _EVERY))


def document_count() -> int:
    if _EVERY not in _frequencies:
        kept = _kept_count()
        if kept is None:  # an index built before the count was kept
            kept = db.session.scalar(select(func.count(SearchDocument.article_id)))
        _frequencies[_EVERY] = kept or 0
    return _frequencies[_EVERY]


def read_rows(sql: str, params: dict[str, Any], **lists: list[Any]) -> list[Any]:
    """Rows of a hot read-only query written with :named parameters; each of `lists`
    is a value list after `IN :name`. SQLite gets it straight through its driver:
    compiling a statement through SQLAlchemy costs more than SQLite running it, and a
    search runs four."""
    params = dict(params)
    postgres = dialect() != "sqlite"
    for name, values in lists.items():
        if postgres:
            # One array parameter: the statement's text stays the same whatever the
            # list's length, so psycopg prepares it once and PostgreSQL stops planning
            # it on every search (15 % of a search's time at 100,000 articles).
            params[name] = list(values)
            sql = re.sub(rf"\bIN :{name}\b", f"= ANY(:{name})", sql, flags=re.IGNORECASE)
        else:
            names = [f"{name}_{i}" for i in range(len(values))]
            params.update(zip(names, values, strict=True))
            sql = re.sub(rf":{name}\b", "(" + ", ".join(f":{n}" for n in names) + ")", sql)
    # The driver's own cursor, in the session's transaction: SQLAlchemy's statement and
    # result machinery costs as much as the query for these small reads.
    raw = db.session.connection().connection.driver_connection
    if not postgres:
        plain = {k: v.isoformat() if isinstance(v, date) else v for k, v in params.items()}
        cursor = raw.execute(sql, plain)  # type: ignore[union-attr]
    else:
        cursor = raw.execute(_pyformat(sql), params)  # type: ignore[union-attr]
    shape = _shapes.get(sql) or _shape(sql, cursor.description)
    return [shape._make(row) for row in cursor.fetchall()]


@lru_cache(maxsize=256)
def _pyformat(sql: str) -> str:
    """`sql`'s :named parameters as psycopg's %(named)s (a literal % doubled)."""
    return _NAMED.sub(r"%(\1)s", sql.replace("%", "%%"))


_NAMED = re.compile(r"(?<![:\w]):(\w+)")


_shapes: dict[str, Any] = {}


def _shape(sql: str, description: Any) -> Any:
    """A named tuple for a query's rows (row.id, row.title …), made once per query (the
    cursor's description is asked for only then: psycopg makes an object per column)."""
    if len(_shapes) > 256:
        _shapes.clear()
    names = [column[0] for column in description or ()]
    shape = _shapes[sql] = namedtuple("Row", names, rename=True)  # type: ignore[misc]
    return shape


def document_frequencies(terms: list[str]) -> dict[str, int]:
    """How many searchable articles contain each term (cached until the index changes)."""
    missing = [t for t in dict.fromkeys(terms) if t and t not in _frequencies]
    if missing:
        if len(_frequencies) > _FREQUENCY_CACHE_SIZE:
            _frequencies.clear()
        found: dict[str, int] = dict.fromkeys(missing, 0)
        rows = read_rows(
            "SELECT term, documents FROM kb_term WHERE term IN :terms", {}, terms=missing
        )
        found.update({term: int(count) for term, count in rows})
        _frequencies.update(found)
    return {t: _frequencies.get(t, 0) for t in terms}


def distinct_terms(row: SearchDocument | dict[str, str] | None) -> set[str]:
    """The terms an article is counted under in `kb_term` (words and bigrams, and the
    empty term that counts the articles)."""
    if row is None:
        return set()
    get = row.get if isinstance(row, dict) else lambda name: getattr(row, name)
    terms = {_EVERY}
    for name in ("title_terms", "keyword_terms", "body_terms"):
        terms.update((get(name) or "").split())
    return {t for t in terms if len(t) <= _MAX_TERM}


def count_terms(added: Iterable[str], removed: Iterable[str]) -> None:
    """Keep `kb_term` in step with the index (sorted: concurrent writers lock in order)."""
    changes: dict[str, int] = {}
    for term in added:
        changes[term] = changes.get(term, 0) + 1
    for term in removed:
        changes[term] = changes.get(term, 0) - 1
    apply_term_counts(changes)


def apply_term_counts(changes: dict[str, int]) -> None:
    """Add `changes` (term -> +/- documents) to kb_term in one batch of upserts."""
    rows = [{"term": t, "documents": n} for t, n in sorted(changes.items()) if n]
    if not rows:
        return
    if dialect() == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as upsert
    else:
        from sqlalchemy.dialects.postgresql import insert as upsert  # type: ignore[assignment]
    statement = upsert(TermFrequency)
    statement = statement.on_conflict_do_update(
        index_elements=[TermFrequency.term],
        set_={"documents": TermFrequency.documents + statement.excluded.documents},
    )
    for start in range(0, len(rows), 500):
        db.session.execute(statement, rows[start : start + 500])


# --- documents ------------------------------------------------------------------------


def document_terms(version: ArticleVersion) -> dict[str, Terms]:
    """Terms of each field of a version: title, keywords, body (with materials), sounds."""
    tool = analyzer()
    tool.add_words(version.keywords or [])
    keywords = list(version.keywords or [])
    title = tool.document(version.title)
    keyword_terms = tool.document(" ".join(keywords))
    asked = tool.document(" ".join(version.questions or []))
    whole = tuple(t for t in (safe_term(normalise(k)) for k in keywords) if t)
    # How citizens ask for the article is as telling as its keywords (the questions'
    # sounds stay out: homophones are matched against the subject only).
    keyword_terms = Terms(
        words=keyword_terms.words + whole + asked.words,
        grams=keyword_terms.grams + asked.grams,
        sounds=keyword_terms.sounds,
    )
    body = tool.document(plain_text(version.body) + " " + " ".join(version.materials or []))
    return {"title": title, "keywords": keyword_terms, "body": body}


def index_article(article: Article, version: ArticleVersion) -> None:
    """(Re)write the article's search terms from `version` (its live content)."""
    fields = document_terms(version)
    row = db.session.get(SearchDocument, article.id)
    before = distinct_terms(row)
    if row is None:
        row = SearchDocument(article_id=article.id)
        db.session.add(row)
    row.title_terms = fields["title"].index_text()
    row.keyword_terms = fields["keywords"].index_text()
    row.body_terms = fields["body"].index_text()
    row.sound_terms = " ".join(s for terms in fields.values() for s in terms.sounds)
    row.subject_sounds = " ".join((*fields["title"].sounds, *fields["keywords"].sounds))
    row.subject_terms = subject_phrases(version.title, version.keywords or [])
    row.question_terms = question_phrases(version.questions or [])
    row.story_terms = article_story_terms(
        version.title, version.keywords, version.questions, version.body, version.materials
    )
    db.session.flush()
    after = distinct_terms(row)
    count_terms(after - before, before - after)
    write_index(article.id, row.title_terms, row.keyword_terms, row.body_terms, row.subject_sounds)
    forget_frequencies()


def article_story_terms(
    title: str,
    keywords: list[str] | None,
    questions: list[str] | None,
    body: str,
    materials: list[str] | None,
) -> str:
    """An article's whole text as a caller's story is matched against it (story_terms)."""
    parts = [title, *(keywords or []), *(questions or []), plain_text(body), *(materials or [])]
    return story_terms("\n".join(parts))


def subject_phrases(title: str, keywords: list[str]) -> str:
    """What the article is about, as phrases a question may mention: its keywords and
    the content words of its title (space-separated, normalised)."""
    tool = analyzer()
    phrases = [safe_term(normalise(k)) for k in keywords]
    phrases += [w for w in tool.document(title).words if len(w) >= 2]
    return " ".join(dict.fromkeys(p for p in phrases if p and len(p) <= _MAX_TERM))


def question_phrases(questions: list[str]) -> str:
    """Each similar question as its distinct words; questions separated by " | "."""
    tool = analyzer()
    phrases = (" ".join(dict.fromkeys(tool.document(q).words)) for q in questions)
    return " | ".join(p for p in phrases if p)


def write_index(article_id: int, title: str, keywords: str, body: str, sounds: str) -> None:
    """The full-text index entry: title, keywords, body, and the sounds of the subject."""
    if dialect() == "sqlite":
        db.session.execute(text("DELETE FROM kb_fts WHERE rowid = :id"), {"id": article_id})
        db.session.execute(
            text(
                "INSERT INTO kb_fts (rowid, title, keywords, body, sounds) "
                "VALUES (:id, :title, :keywords, :body, :sounds)"
            ),
            {
                "id": article_id,
                "title": title,
                "keywords": keywords,
                "body": body,
                "sounds": sounds,
            },
        )
        db.session.execute(text("DELETE FROM kb_fts_subject WHERE rowid = :id"), {"id": article_id})
        db.session.execute(
            text("INSERT INTO kb_fts_subject (rowid, title, keywords) VALUES (:id, :t, :k)"),
            {"id": article_id, "t": title, "k": keywords},
        )
    else:
        db.session.execute(
            text(PG_INDEX_UPDATE),
            {"vector": index_vector(title, keywords, body, sounds), "id": article_id},
        )


# PostgreSQL's entry (migrations 0004, 0008): the whole vector, and its title and
# keywords alone (the subject vector, where common words are looked for).
PG_INDEX_UPDATE = (
    "UPDATE kb_search_document SET search_vector = CAST(:vector AS tsvector), "
    "subject_vector = ts_filter(CAST(:vector AS tsvector), '{a,b}') WHERE article_id = :id"
)


def index_vector(title: str, keywords: str, body: str, sounds: str) -> str:
    """PostgreSQL's entry: weights A title, B keywords, C body, D sounds."""
    return tsvector_literal([(title, "A"), (keywords, "B"), (body, "C"), (sounds, "D")])


def unindex_article(article: Article) -> None:
    """Remove the article from search (withdrawn, or never published)."""
    row = db.session.get(SearchDocument, article.id)
    if row is not None:
        count_terms((), distinct_terms(row))
        db.session.delete(row)
        db.session.flush()
    if dialect() == "sqlite":
        db.session.execute(text("DELETE FROM kb_fts WHERE rowid = :id"), {"id": article.id})
        db.session.execute(text("DELETE FROM kb_fts_subject WHERE rowid = :id"), {"id": article.id})
    forget_frequencies()


def tsvector_literal(fields: list[tuple[str, str]]) -> str:
    """A tsvector in PostgreSQL's input syntax: each term verbatim, with positions and
    the field's weight (A title, B keywords, C body, D sounds)."""
    positions: dict[str, list[str]] = defaultdict(list)
    position = 0
    for terms, weight in fields:
        for term in terms.split():
            position = min(position + 1, _MAX_POSITION)
            slots = positions[term]
            if len(slots) < _MAX_POSITIONS_PER_LEXEME:
                slots.append(f"{position}{weight}")
    return " ".join(f"'{term}':{','.join(slots)}" for term, slots in positions.items())


def optimize_index() -> None:
    """Compact the full-text index after a bulk change (an import, a re-index): SQLite's
    FTS5 merges its segments into one b-tree (a term is then read once, not once per
    segment); PostgreSQL refreshes the planner's statistics (the GIN index maintains
    itself)."""
    if dialect() == "sqlite":
        db.session.execute(text("INSERT INTO kb_fts (kb_fts) VALUES ('optimize')"))
        db.session.execute(text("INSERT INTO kb_fts_subject (kb_fts_subject) VALUES ('optimize')"))
    else:
        db.session.execute(text("ANALYZE kb_search_document"))
