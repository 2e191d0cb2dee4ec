"""How well a candidate article answers a question: the scores search ranks by.

Each question unit is weighted by how rare it is among the articles; an article
covers a question by the share of that weight it speaks to, names a share of its own
subject phrases, and, for the order, is fused with plain BM25 over its whole text.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from knowledge_base.index import document_count, document_frequencies
from knowledge_base.text import Analyzer, Query, Unit

_CJK = re.compile(r"[\u3400-\u9fff]")
_NON_WORD = re.compile(r"[\W_]+")
# Reciprocal-rank fusion of our ranking with plain BM25 (k, and BM25's weight).
_FUSION_K = 3
_FUSION_BM25 = 1.0
# A caller's story: the weights of the two BM25 over its words (story_cut) in the fusion,
# as words and the pairs of characters left single, and as words and those characters.
# Measured on the tuning set and held-out sets 1-4 (776 questions): with the second, four
# more first answers than with the first alone (at weight 1); at 1 and 1, two more.
_STORY_FUSION = (0.75, 0.5)
# A question that is not a story: the weight of the second of those BM25 (words and
# characters, how rare among the candidates) beside the BM25 over the index's terms. It
# reads what the question shares with an article's similar questions that its words
# alone miss (叫我明天别来 and 叫我明天不用来了). Measured with 15 similar questions an
# article: on held-out sets 5, 6 and 8-13 (1,120 questions), 8 more first answers and
# 6 more in the top 3; on the tuning set and held-out sets 1-4, one more of each. The
# same at 1; at 0.3 or 0.5, 1-3 fewer first answers. With 25 similar questions an
# article, 1.25: on the development sets (1,051 questions) 3 more first answers on
# SQLite and on PostgreSQL, on the unseen sets (1,820) 5 and 7 more. At 1.5 and 2 the
# development sets gave about the same; at 3, 9 fewer than at 0.75.
_WORDS_FUSION = 1.25
# A question of at most this many characters (a search box's) may abridge an article's
# subject phrase: the phrase's characters in the question, in order, count for this much
# of it. Measured on the tuning set and held-out sets 1-4 and 7: one more first answer
# (补社保卡), none lost; the same from 6 to 12 characters and at 0.6 or 0.8.
_ABRIDGED_CHARS = 8
_ABRIDGED_SHARE = 0.6
# How much more a caller's story's last words weigh than its first (see stress_the_ask).
_ASK_STRESS = 0.5


@dataclass
class Weighted:
    unit: Unit
    weight: float
    # Some article has one of its words or bigrams (else only its sounds can match).
    present: bool = True
    # For the substring tests of `coverage`, space-padded: its terms and bigrams that
    # some article has (None for a bigram none has), and its sounds.
    terms: tuple[str, ...] = ()
    grams: tuple[str | None, ...] = ()
    sounds: tuple[str, ...] = ()

    @classmethod
    def of(cls, unit: Unit, weight: float, frequencies: dict[str, int]) -> Weighted:
        return cls(
            unit,
            weight,
            any(frequencies.get(t, 0) for t in (*unit.terms, *unit.grams)),
            tuple(f" {t} " for t in unit.terms if frequencies.get(t, 0)),
            tuple(f" {g} " if frequencies.get(g, 0) else None for g in unit.grams),
            tuple(f" {x} " for x in unit.sounds),
        )


def weigh_units(query: Query) -> list[Weighted]:
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
        share = _unknown_share(unit.word) if df == 0 else 1.0
        weighted.append(Weighted.of(unit, idf * share, frequencies))
    return weighted


def stress_the_ask(query: Query, units: list[Weighted]) -> None:
    """A caller tells the story first and asks last (…今年跳槽到江门，东莞那边的钱要怎么
    弄到这边来): each unit of a story weighs more the later the story last says it, its
    last words up to 1 + _ASK_STRESS times as much as its first. Measured on the tuning
    set and held-out sets 1–4: two more first answers and two more in the top 3 on both
    databases, none lost at recall@3."""
    text = query.normalised
    for item in units:
        at = text.rfind(item.unit.word)
        if at < 0:
            at = max((text.rfind(term) for term in item.unit.terms), default=-1)
        if at >= 0:
            item.weight *= 1 + _ASK_STRESS * (at + len(item.unit.word) / 2) / len(text)


def _unknown_share(word: str) -> float:
    """How much a word no article has counts. A thing (股票, 比特币, 晚饭) is likely the
    subject of a question the knowledge base cannot answer; a verb or an adverb (回来,
    有钱, 做点) is how the caller tells the story."""
    tag = _word_tags().get(word)
    if tag is None:
        return 0.35
    return 0.5 if tag[0] in "n" or tag in ("vn", "eng", "j") else 0.15


@lru_cache(maxsize=1)
def _word_tags() -> dict[str, str]:
    """jieba's part-of-speech dictionary (a lookup, not a tagger: no per-question cost)."""
    import jieba.posseg

    jieba.posseg.dt.initialize()
    return dict(jieba.posseg.dt.word_tag_tab)


def preload() -> None:
    """Load the part-of-speech dictionary now (a web process's warm-up), not with the
    first question that has a word no article has."""
    _word_tags()


def coverage(units: list[Weighted], doc: Any) -> tuple[float, list[str], bool]:
    """How much of the question (by weight) the article speaks to, 0–1, and what matched:
    a word (or a synonym) in the title or keywords fully, in the body a little less; a
    long word by the share of its bigrams found; a homophone typo by its sounds.

    Terms are looked up in the space-padded term strings (a C-speed substring search:
    building a set of a long body's terms for every candidate costs more)."""
    strong = f" {doc.title_terms} {doc.keyword_terms} "
    body = f" {doc.body_terms} "
    sounds = f" {doc.sound_terms} "
    got = 0.0
    matched: list[str] = []
    on_subject = False  # something the question asks about is what the article is about
    for item in units:
        share = 0.0
        if not item.present:  # no article has its words: only a homophone can match
            if item.sounds and _all_in(item.sounds, sounds):
                got += 0.55 * item.weight
                matched.append(item.unit.word)
                on_subject = True
            continue
        if _any_in(item.terms, strong):
            share = 1.0
            on_subject = True
        elif _any_in(item.terms, body):
            share = 0.75
        else:
            if len(item.grams) >= 2:
                found = 0.0
                in_strong = 0
                for gram in item.grams:
                    if gram is None:
                        continue
                    if gram in strong:
                        found += 1.0
                        in_strong += 1
                    elif gram in body:
                        found += 0.75
                share = 0.8 * found / len(item.grams)
                on_subject |= in_strong * 2 >= len(item.grams)
            if item.sounds and _all_in(item.sounds, sounds):
                share = max(share, 0.55)
                on_subject = True
        if share:
            got += share * item.weight
            matched.append(item.unit.word)
    total = sum(item.weight for item in units)
    return (got / total if total else 0.0), matched, on_subject


# Plain loops: a generator per test (any(t in text for t in terms)) costs more than
# the C-speed substring searches it runs, and coverage makes thousands per question.
def _any_in(terms: tuple[str, ...], text: str | set[str]) -> bool:
    for term in terms:  # noqa: SIM110 (a plain loop on purpose, see above)
        if term in text:
            return True
    return False


def _all_in(terms: tuple[str, ...], text: str | set[str]) -> bool:
    for term in terms:  # noqa: SIM110 (a plain loop on purpose, see above)
        if term not in text:
            return False
    return True


def char_bonus(chars: tuple[str, ...], doc: Any) -> float:
    """The share of the question's single characters the article's title or keywords
    contain (补 in 补办): a tie-breaker between articles on the same subject."""
    if not chars:
        return 0.0
    subject = doc.title_terms + doc.keyword_terms
    return sum(c in subject for c in chars) / len(chars)


@dataclass
class Asked:
    """The question seen from the article's side: its text, bigrams, sounds and the
    synonyms it brings, to find which of an article's subject phrases it mentions; and
    which of its units each of its terms belongs to, with their weights, to find how
    much of it a similar question speaks to."""

    text: str
    grams: set[str]
    sounds: set[str]
    terms: set[str]
    units_of: dict[str, tuple[int, ...]]
    weights: tuple[float, ...]
    total: float

    @classmethod
    def of(cls, query: Query, units: list[Weighted]) -> Asked:
        units_of: dict[str, list[int]] = {}
        for i, item in enumerate(units):
            for term in item.unit.terms:
                units_of.setdefault(term, []).append(i)
        weights = tuple(item.weight for item in units)
        return cls(
            text=_NON_WORD.sub("", query.normalised),
            grams=set(query.grams),
            sounds=set(query.sounds),
            terms=set(units_of) | set(query.expansions),
            units_of={term: tuple(found) for term, found in units_of.items()},
            weights=weights,
            total=sum(weights),
        )


def subject_coverage(asked: Asked, subject_terms: str) -> float:
    """The share of an article's subject phrases (keywords, title words) the question
    mentions: how a long story that is about this article's subject shows it, even when
    most of the story is about something else. A short question may say a phrase with
    characters left out (补社保卡 for 补办社保卡, 补卡): its characters in order count
    for part of it."""
    phrases = _subject_parts(subject_terms)
    if not phrases:
        return 0.0
    terms, text, grams, sounds = asked.terms, asked.text, asked.grams, asked.sounds
    abridged = len(text) <= _ABRIDGED_CHARS
    found = 0.0
    for phrase, phrase_grams, phrase_sounds in phrases:
        if phrase in terms or phrase in text:
            found += 1.0
        elif len(phrase_grams) >= 2 and _all_in(phrase_grams, grams):
            found += 0.8
        elif phrase_sounds and _all_in(phrase_sounds, sounds):
            found += 0.6
        elif abridged and len(phrase) >= 2 and _in_order(phrase, text):
            found += _ABRIDGED_SHARE
    return found / len(phrases)


def _in_order(phrase: str, text: str) -> bool:
    """Whether every character of `phrase` is in `text`, in the same order."""
    rest = iter(text)
    return all(char in rest for char in phrase)


@lru_cache(maxsize=16384)
def _subject_parts(
    subject_terms: str,
) -> tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...]:
    """An article's subject phrases, each with its bigrams and sounds (articles recur
    among the candidates of different questions: cached)."""
    return tuple((phrase, *_phrase_parts(phrase)) for phrase in subject_terms.split())


@lru_cache(maxsize=65536)
def _phrase_parts(phrase: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A subject phrase's bigrams and sounds (phrases repeat across articles: cached)."""
    return tuple(Analyzer._grams([phrase])), tuple(Analyzer._sounds([phrase]))


def question_match(asked: Asked, question_terms: str) -> float:
    """How closely the question matches the closest of an article's similar questions
    (how citizens ask for it), 0–1: the share of the question's weight that one similar
    question speaks to, and the share of that similar question's words the question
    says, combined as their harmonic mean."""
    if not question_terms or not asked.total:
        return 0.0
    best = 0.0
    for words in _phrases(question_terms):
        # The units one of the similar question's words belongs to (a dict lookup per
        # word, not a test per unit: a long story has dozens of units).
        hit: set[int] = set()
        said = 0
        for word in words:
            found = asked.units_of.get(word)
            if found:
                hit.update(found)
                said += 1
            elif word in asked.terms or word in asked.text:
                said += 1
        if not hit:
            continue
        forward = sum(asked.weights[i] for i in hit) / asked.total
        backward = said / len(words)
        best = max(best, 2 * forward * backward / (forward + backward))
    return best


@lru_cache(maxsize=65536)
def _phrases(question_terms: str) -> tuple[tuple[str, ...], ...]:
    """An article's similar questions, each as its words (they repeat across searches)."""
    return tuple(
        words for phrase in question_terms.split(" | ") if (words := tuple(phrase.split()))
    )


# A caller's story's words, and each candidate's length and count of them (story_bm25).
StoryRanking = tuple[list[str], dict[int, tuple[int, Counter[str]]]]


def fuse(
    query: Query,
    scored: list[tuple[float, int, list[str]]],
    docs: dict[int, Any],
    memo: dict[int, tuple[int, dict[str, int]]] | None = None,
    story: list[StoryRanking] | None = None,
    words: StoryRanking | None = None,
) -> list[tuple[float, int, list[str]]]:
    """Order by reciprocal-rank fusion of our score and plain BM25 over the candidates'
    whole text: BM25 sees how much an article's body talks about the question's words,
    which is what a colloquial question shares with its answer when it shares no
    subject words. Articles below the relevance threshold are never brought back.
    `memo` keeps each article's length and term counts for a second ranking of the same
    question. For a caller's story, `story` gives its words and the candidates' as
    jieba's search mode cuts them (story_cut), in the two ways of _STORY_FUSION: a BM25
    over each instead. For a question, `words` gives the second of those ways, whose
    BM25 joins the first (_WORDS_FUSION). A ranking that leaves a candidate out is not
    used."""
    if len(scored) < 2:
        return scored
    rankings = [
        (weight, story_bm25(*ranking))
        for weight, ranking in zip(_STORY_FUSION, story or (), strict=False)
        if _ranks_all(ranking, scored)
    ]
    if rankings:
        return _fused(scored, *rankings)
    memo = {} if memo is None else memo
    terms = query.match_terms()
    frequencies = document_frequencies(terms)
    total = max(document_count(), 1)
    idf = {
        t: math.log(1 + (total - frequencies[t] + 0.5) / (frequencies[t] + 0.5))
        for t in terms
        if frequencies[t]
    }
    padded = [(t, f" {t} ") for t in idf]
    lengths: dict[int, int] = {}
    counts: dict[int, dict[str, int]] = {}
    for _, article_id, _ in scored:
        if article_id not in memo:
            doc = docs[article_id]
            text = f" {doc.title_terms} {doc.keyword_terms} {doc.body_terms} "
            memo[article_id] = (text.count(" "), term_counts(text, padded))
        lengths[article_id], counts[article_id] = memo[article_id]
    average = sum(lengths.values()) / len(lengths) or 1.0
    k1, b = 1.2, 0.75
    bm25 = {
        article_id: sum(
            idf[t] * n * (k1 + 1) / (n + k1 * (1 - b + b * lengths[article_id] / average))
            for t, n in counts[article_id].items()
        )
        for article_id in counts
    }
    if words is not None and _ranks_all(words, scored):
        return _fused(scored, (_FUSION_BM25, bm25), (_WORDS_FUSION, story_bm25(*words)))
    return _fused(scored, (_FUSION_BM25, bm25))


# Up to this many words are counted where they stand in an article's terms (a C-speed
# search of the whole text each); more (a long question's, a story's) by splitting the
# terms once and counting only the words they have. For 31 words in 15 candidates'
# index and story terms: 0.9 ms against 1.8; for 8 words, 0.85 against 0.54.
_COUNTED_IN_PLACE = 14


def term_counts(terms: str, padded: list[tuple[str, str]]) -> dict[str, int]:
    """How often each word of `padded` (the word, and the word between two spaces) is
    one of the space-separated `terms`, the ones it does not appear in left out. Few
    words are counted in place, in doubled spaces so that each occurrence keeps its own
    two (" 分 分 " would count one); many by splitting (_COUNTED_IN_PLACE)."""
    if len(padded) > _COUNTED_IN_PLACE:
        split = terms.split()
        present = {word for word, _ in padded}.intersection(split)
        return dict(Counter(term for term in split if term in present)) if present else {}
    doubled = f" {terms.replace(' ', '  ')} "
    return {word: n for word, spaced in padded if (n := doubled.count(spaced))}


def _ranks_all(ranking: StoryRanking, scored: list[tuple[float, int, list[str]]]) -> bool:
    """Whether a story ranking has words and every candidate's counts of them."""
    return bool(ranking[0]) and all(item[1] in ranking[1] for item in scored)


def _fused(
    scored: list[tuple[float, int, list[str]]], *rankings: tuple[float, dict[int, float]]
) -> list[tuple[float, int, list[str]]]:
    """Our order fused with each (weight, BM25) ranking by reciprocal rank."""
    ours = sorted(scored, key=lambda item: item[0], reverse=True)
    fused = {item[1]: 1 / (_FUSION_K + i) for i, item in enumerate(ours)}
    for weight, bm25 in rankings:
        by_bm25 = sorted(scored, key=lambda item: bm25.get(item[1], 0.0), reverse=True)
        for place, item in enumerate(by_bm25):
            fused[item[1]] += weight / (_FUSION_K + place)
    return sorted(ours, key=lambda item: fused[item[1]], reverse=True)


def story_bm25(words: list[str], counted: dict[int, tuple[int, Counter[str]]]) -> dict[int, float]:
    """BM25 of a caller's story over the candidates' whole text (each one's length and
    count of the story's words), how rare a word is judged among the candidates
    themselves: in a story most words are the caller's own, and the few that tell the
    candidates apart (房租 among 公积金's withdrawals) are what decides. Measured against
    the index's own terms: six more first answers on the tuning set and the first four
    held-out sets together, none lost; one fewer of 150 on the fifth, which was not
    looked at before."""
    total = len(counted)
    average = sum(length for length, _ in counted.values()) / total or 1.0
    having = {w: sum(1 for _, c in counted.values() if w in c) for w in set(words)}
    idf = {w: math.log(1 + (total - n + 0.5) / (n + 0.5)) for w, n in having.items() if n}
    k1, b = 1.2, 0.75
    return {
        a: sum(
            idf[w] * c[w] * (k1 + 1) / (c[w] + k1 * (1 - b + b * length / average))
            for w in words
            if c[w]
        )
        for a, (length, c) in counted.items()
    }
