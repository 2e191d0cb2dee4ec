"""Candidates for a question from the database's own full-text index: SQLite's FTS5
tables or PostgreSQL's weighted tsvector, asked for the question's rarest terms (and
the sounds of bigrams no article has, which is what a homophone typo looks like). The
re-scoring in knowledge_base.search decides among them."""

from __future__ import annotations

from typing import Any

from flask import current_app

from knowledge_base.index import analyzer, document_count, document_frequencies, read_rows
from knowledge_base.scoring import Weighted
from knowledge_base.text import Query

# How many candidates the re-scoring sees (at most, before routing's category adds some).
CANDIDATES = 20
# ... and for a caller's story (KB_STORY_UNITS) on SQLite, whose bm25 ranks its rare
# words well: measured on the question sets at 100,000 articles, the same first answers
# as with 20. PostgreSQL's ts_rank does not weigh a word by its rarity: its stories keep
# 20 (with 15, one of the tuning set's stories lost its answer).
_STORY_CANDIDATES = 15
# How many of a word's names (its own and its synonyms') the index is asked for: more
# would take the places of the question's other words (会员卡 has eight names the
# articles use). Against asking every name: on the unseen sets (1,820 questions) 3
# more first answers and as many in the top 3; on the development sets (1,051) the
# same; at 100,000 articles the same time. Every name still counts in the scoring.
_UNIT_TERMS = 2
_COMMON_MIN = 100
_SUBJECT_MIN = 1000
_SUBJECT_SHARE = 0.01
_FEW = 5
# A question of at most this many units also asks the subject index, for this many more.
_SHORT = 2
_SHORT_EXTRA = 10


def is_story(units: list[Weighted]) -> bool:
    """Whether the question is a caller's story rather than a question (KB_STORY_UNITS)."""
    return len(units) > int(current_app.config["KB_STORY_UNITS"])


def _fts_quote(term: str) -> str:
    return '"' + term.replace('"', "") + '"'


def _plan(query: Query, units: list[Weighted]) -> tuple[list[str], list[str], list[str]]:
    """What to ask the index for: for each unit of the question up to _UNIT_TERMS of its
    names some article has (the caller's own word first), the weightiest units first,
    and the sounds of bigrams no article has (which is what a homophone typo looks
    like). Common terms are left to the re-scoring: they would only make the index rank
    half the knowledge base."""
    needed = [t for item in units for t in (*item.unit.terms, *item.unit.grams)]
    frequencies = document_frequencies(needed)
    story = is_story(units)
    chosen: list[tuple[float, list[str]]] = []
    for item in units:
        # The word and its synonyms; its bigrams only when no article has the word itself
        # (a typo, or a compound the articles write differently), and not in a caller's
        # story, where such words are the story's own (拿单, 院花).
        words = [t for t in item.unit.terms if frequencies[t]]
        grams = [g for g in item.unit.grams if frequencies[g]] if not (words or story) else []
        if item.unit.word in words:  # the caller's own word first, then the usual name
            words.remove(item.unit.word)
            words.insert(0, item.unit.word)
        if words or grams:
            chosen.append((item.weight, (words + grams)[:_UNIT_TERMS]))
    chosen.sort(key=lambda pair: pair[0], reverse=True)
    limit = int(current_app.config["KB_INDEX_TERMS"])
    terms = list(dict.fromkeys(t for _, group in chosen for t in group))[:limit]
    # A term in a large share of the articles would make the index rank that share: it
    # is looked for in titles and keywords only (SQLite's subject index, whose posting
    # lists are short). Every term still counts when candidates are scored.
    cap = max(_COMMON_MIN, document_count() * float(current_app.config["KB_COMMON_SHARE"]))
    common = [t for t in terms if frequencies[t] > cap]
    terms = [t for t in terms if frequencies[t] <= cap]
    # A word in a large share of even the titles (公司 in a city's 100,000 articles)
    # finds nothing in particular, and ranking its thousands of articles is the slowest
    # thing a search could do: it is left out when the question has anything else.
    ceiling = max(_SUBJECT_MIN, document_count() * _SUBJECT_SHARE)
    specific = [t for t in common if frequencies[t] <= ceiling]
    if terms or specific:
        common = specific
    # Sounds only for the question's own pieces no article has (a typo: 社宝卡), never
    # for the bigrams that straddle two words of a long story (院花 in 住了十几天院花了).
    tool = analyzer()
    sounds = [
        sound
        for item in units
        if not any(frequencies[t] for t in item.unit.terms)
        for gram in item.unit.grams
        if not frequencies[gram]
        for sound in tool._sounds([gram])
    ]
    return terms, common, list(dict.fromkeys(sounds))[:limit]


def sqlite_candidates(
    query: Query, units: list[Weighted], where: tuple[str, dict[str, Any]]
) -> list[tuple[int, float]]:
    terms, common, sounds = _plan(query, units)
    weights = current_app.config["KB_FIELD_WEIGHTS"]
    found: dict[int, float] = {}
    parts = []
    if terms:
        parts.append("{title keywords body} : (" + " OR ".join(map(_fts_quote, terms)) + ")")
    if sounds:
        parts.append("sounds : (" + " OR ".join(map(_fts_quote, sounds)) + ")")
    if parts:
        rank = "bm25(kb_fts, {title}, {keywords}, {body}, {sounds})".format(
            **{k: float(weights[k]) for k in ("title", "keywords", "body", "sounds")}
        )
        _merge(found, _fts_ranked("kb_fts", rank, " OR ".join(parts), where))
    subject_rank = "bm25(kb_fts_subject, {title}, {keywords})".format(
        **{k: float(weights[k]) for k in ("title", "keywords")}
    )
    if common and len(found) < _FEW:  # rarer words found too little: the subject index
        match = " OR ".join(map(_fts_quote, [*terms, *common]))
        _merge(found, _fts_ranked("kb_fts_subject", subject_rank, match, where))
    ranked = sorted(found.items(), key=lambda item: item[1], reverse=True)
    ranked = ranked[: _STORY_CANDIDATES if is_story(units) else CANDIDATES]
    if _is_short(terms, units):
        match = " OR ".join(map(_fts_quote, terms))
        ranked = _with_named(ranked, _fts_ranked("kb_fts_subject", subject_rank, match, where))
    return ranked


def _is_short(terms: list[str], units: list[Weighted]) -> bool:
    """A short question (补身份证) is about what titles and keywords name: the articles
    naming its words there join the candidates, which the whole text's ranking may have
    buried under bodies that list a common word (身份证 as a required paper)."""
    return bool(terms) and len(units) <= _SHORT


def _with_named(
    ranked: list[tuple[int, float]], named: list[tuple[int, float]]
) -> list[tuple[int, float]]:
    """`ranked`, then up to _SHORT_EXTRA articles of `named` it does not have yet."""
    taken = {article_id for article_id, _ in ranked}
    return ranked + [(a, rank) for a, rank in named if a not in taken][:_SHORT_EXTRA]


def _fts_ranked(
    table_name: str, rank: str, match: str, where: tuple[str, dict[str, Any]]
) -> list[tuple[int, float]]:
    matches = f"{table_name} MATCH :match"
    rows = _best_visible(
        f"SELECT rowid AS id, {rank} AS rank FROM {table_name} WHERE {matches} "
        f"ORDER BY rank LIMIT :pool",
        f"SELECT a.id, {rank} AS rank FROM {table_name} "
        f"JOIN kb_article a ON a.id = {table_name}.rowid "
        f"WHERE {matches} AND {where[0]} ORDER BY rank LIMIT :limit",
        where,
        {"match": match},
        "f.rank",
    )
    return [(row[0], -float(row[1])) for row in rows]


def _best_visible(
    best: str, every: str, where: tuple[str, dict[str, Any]], params: dict[str, Any], order: str
) -> list[Any]:
    """The index ranks its own matches (`best`, id and rank), then the visibility of only
    the best `pool` is checked, in the same query: joining every match to its article
    costs more than the ranking, and PostgreSQL, which cannot tell how rare a word is,
    would sometimes hash the whole article table to check a few hundred. Should too many
    of those few be hidden (expired, or not on this channel) while the index has more
    matches (the pool's one more row), every match is checked (`every`)."""
    pool = CANDIDATES * 3
    params = {**where[1], **params, "limit": CANDIDATES, "pool": pool + 1}
    rows = read_rows(
        f"SELECT f.id, f.rank, CASE WHEN {where[0]} THEN 1 ELSE 0 END AS shown "
        f"FROM ({best}) f JOIN kb_article a ON a.id = f.id ORDER BY {order}",
        params,
    )
    shown = [row for row in rows[:pool] if row[2]][:CANDIDATES]
    if len(shown) < CANDIDATES and len(rows) > pool:
        return read_rows(every, params)
    return shown


def _merge(found: dict[int, float], ranked: list[tuple[int, float]]) -> None:
    """Candidates of several index queries, each query's ranks scaled to its best (0–1)."""
    if not ranked:
        return
    best = max(rank for _, rank in ranked) or 1.0
    for article_id, rank in ranked:
        found[article_id] = max(found.get(article_id, 0.0), rank / best)


def pg_candidates(
    query: Query, units: list[Weighted], where: tuple[str, dict[str, Any]]
) -> list[tuple[int, float]]:
    """As on SQLite, with one difference: ts_rank reads the whole vector of every match,
    so the whole text is searched for the question's rarest terms only, as long as they
    match at most _PG_BODY_ROWS articles together. The others count like common terms:
    looked for in titles and keywords (the subject vector, migration 0008) when the
    rarer ones found too little, and in the scoring of every candidate."""
    terms, common, sounds = _plan(query, units)
    frequencies = document_frequencies(terms)
    body: list[str] = []
    rows = 0
    for term in sorted(terms, key=lambda t: frequencies[t]):
        if not body or rows + frequencies[term] <= _PG_BODY_ROWS:
            body.append(term)
            rows += frequencies[term]
    found: dict[int, float] = {}
    story = is_story(units)
    _merge(found, _pg_ranked("search_vector", [*body, *sounds], where, by_length=not story))
    beyond_budget = len(body) < len(terms)
    if (beyond_budget or common) and len(found) < _FEW:
        _merge(found, _pg_ranked("subject_vector", [*terms, *common], where))
    ranked = sorted(found.items(), key=lambda item: item[1], reverse=True)[:CANDIDATES]
    if _is_short(terms, units):
        ranked = _with_named(ranked, _pg_ranked("subject_vector", terms, where))
    return ranked


# At most this many articles are ranked by their whole vector for a question (ts_rank
# and reading the vector cost about 10 microseconds an article). Measured at 100,000
# articles against 600: the same first answers on the held-out sets (2,970 questions,
# one more of the development ones, one fewer of the tuning set's 249), 0.3 ms less
# on average and 1.1 ms less at p95; with 200, recall@1 on the unseen sets 0.889
# against 0.900.
_PG_BODY_ROWS = 300
_PG_VECTORS = ("search_vector", "subject_vector")
# ts_rank's normalization flag that divides an article's rank by its number of distinct
# words (kept in the vector's header: no time measurable at 100,000 articles). ts_rank
# adds up every occurrence, so without it a long article that says a question's words
# in passing, again and again, outranks the short one about them; SQLite's bm25 weighs
# length already. Only for a question: a caller's story is often answered by a long
# service guide, because it covers more of the story. Measured at 100,000 articles: 3
# more first answers and 4 more in the top 3 of the 916 development questions, 7 and
# 10 more of the 1,540 unseen; on the demo articles alone, the same first answers and
# one more unseen in the top 3. Stories divided too (by the length or its square
# root): more still at 100,000, but on the demo articles a story of the tuning set
# lost its answer.
_PG_BY_LENGTH = 8


def _pg_ranked(
    vector: str, lexemes: list[str], where: tuple[str, dict[str, Any]], by_length: bool = False
) -> list[tuple[int, float]]:
    """The best candidates whose `vector` has any of `lexemes`, by `ts_rank` with the
    field weights (plain SQL, as on SQLite: building the expression cost more than
    running the query), divided by the article's length if asked (_PG_BY_LENGTH). No
    weight labels in the query: with them, PostgreSQL must read every match's vector
    again to check them."""
    if not lexemes:
        return []
    assert vector in _PG_VECTORS
    weights = current_app.config["KB_FIELD_WEIGHTS"]
    # ts_rank's weights are ordered {D, C, B, A}.
    shares = [
        float(weights[k]) / float(weights["title"]) for k in ("sounds", "body", "keywords", "title")
    ]
    flags = _PG_BY_LENGTH if by_length else 0
    rank = f"ts_rank(CAST(:weights AS REAL[]), d.{vector}, CAST(:tsquery AS tsquery), {flags})"
    matches = f"d.{vector} @@ CAST(:tsquery AS tsquery)"
    params = {
        "weights": "{" + ",".join(str(share) for share in shares) + "}",
        "tsquery": " | ".join(f"'{lexeme}'" for lexeme in dict.fromkeys(lexemes)),
    }
    rows = _best_visible(
        f"SELECT d.article_id AS id, {rank} AS rank FROM kb_search_document d "
        f"WHERE {matches} ORDER BY rank DESC LIMIT :pool",
        f"SELECT a.id, {rank} AS rank FROM kb_article a "
        f"JOIN kb_search_document d ON d.article_id = a.id "
        f"WHERE {matches} AND {where[0]} ORDER BY rank DESC LIMIT :limit",
        where,
        params,
        "f.rank DESC",
    )
    return [(row[0], float(row[1])) for row in rows]
