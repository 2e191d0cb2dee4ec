"""Chinese text for search: the terms an article is indexed under and a query asks for.

Three kinds of term, so that any way a citizen types a question meets the article:
- words: jieba's segmentation with the knowledge base's own words added (keywords,
  synonyms), e.g. 社保卡, 补办;
- character bigrams of every run of content characters, so any multi-character query
  matches even when jieba cuts the article differently (社保 in 社会保障卡 does not,
  but 保障 and 障卡 do);
- sounds: bigrams of toneless, fuzzy pinyin (`shebao`), which is how homophone typos
  from pinyin input (社宝卡, 公基金, 身份正) still find the article.

Normalisation is routing's: NFKC, traditional → simplified, written Cantonese →
Mandarin (咭 → 卡, 揾 → 找, 屋企 → 家里), lower case.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from routing.text import STOPWORDS as ROUTING_STOPWORDS
from routing.text import Segmenter, normalise, sounds

# Words that carry no meaning for finding an answer. Routing's list, minus words that
# name what an article is about (投诉, 咨询 …), plus the fillers of a spoken question.
_EXTRA_STOP = (
    "请问 想问 问下 问一下 一下 请教 知道 了解 告诉 帮忙 帮我 麻烦 谢谢 你好 您好 喂 "
    "怎么办 怎么样 如何 怎样 点样 应该 需要 能不能 可不可以 可否 是否 是不是 有没有 "
    "能否 哪些 哪个 哪儿 怎么 什么样 多久 之类 那么 这么 然后 所以 因为 如果 就是 "
    "自己 本人 我家 家里 啊 嗯 哎 呃 么 吖 喇 咯 嘞 啰 办理 办 弄 搞 "
    "什么时候 几时 多少钱 多少 一般 不会 会不会 开始 期间 东西 现在 最近 一直 还是"
)
STOPWORDS = (ROUTING_STOPWORDS - {"投诉", "咨询", "反映", "部门", "处理"}) | frozenset(
    _EXTRA_STOP.split()
)

_CONTENT = re.compile(r"[\u3400-\u9fff]+|[a-z0-9]+")
_CJK = re.compile(r"[\u3400-\u9fff]")
_TERM_SAFE = re.compile(r"[^\w]+")
MAX_QUERY_TERMS = 96


@dataclass(frozen=True)
class Terms:
    """A text's terms by kind, in order of first appearance, without repeats."""

    words: tuple[str, ...] = ()
    grams: tuple[str, ...] = ()
    sounds: tuple[str, ...] = ()

    def index_text(self) -> str:
        """Words and bigrams, space-separated, repeats kept (term frequency counts)."""
        return " ".join((*self.words, *self.grams))


@dataclass(frozen=True)
class Unit:
    """One thing a question asks about: a word (with its synonyms), the bigrams it is made
    of (partial evidence for long words) and its sounds (homophone typos)."""

    word: str
    terms: tuple[str, ...]
    grams: tuple[str, ...]
    sounds: tuple[str, ...]


@dataclass(frozen=True)
class Query:
    """What a search asks for: its own terms, synonym expansions, and the sounds."""

    text: str
    normalised: str
    words: tuple[str, ...]
    grams: tuple[str, ...]
    expansions: tuple[str, ...]
    sounds: tuple[str, ...]
    concepts: tuple[tuple[str, ...], ...] = field(default=())
    units: tuple[Unit, ...] = field(default=())
    # Single content characters between stop words (补, 查, 换): in a short question
    # they are often what tells apart articles on the same subject.
    chars: tuple[str, ...] = field(default=())
    # Each homophone typo (低报) and the words it was read as (低保).
    misheard: tuple[tuple[str, tuple[str, ...]], ...] = field(default=())

    @property
    def empty(self) -> bool:
        return not (self.words or self.grams or self.expansions or self.sounds)

    def read_as(self) -> str:
        """The normalised question with each homophone typo replaced by the words it
        was read as (申请低保要什么条件): what its whole text is matched with."""
        text = self.normalised
        for heard, meant in self.misheard:
            text = text.replace(heard, " ".join(meant))
        return text

    def match_terms(self) -> list[str]:
        """Meaning terms (words, expansions, bigrams), capped, most specific first."""
        ordered = list(dict.fromkeys((*self.expansions, *self.words, *self.grams)))
        return ordered[:MAX_QUERY_TERMS]


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def safe_term(term: str) -> str:
    """A term as the index stores it: word characters only (quotes can never break a query)."""
    return _TERM_SAFE.sub("", term)


class Analyzer:
    """Segmentation and synonyms for the knowledge base (one per process, data reloadable)."""

    def __init__(self) -> None:
        self._segmenter = Segmenter()
        self._stopwords: frozenset[str] = STOPWORDS
        self._lock = threading.Lock()
        self._synonyms: dict[str, tuple[str, ...]] = {}
        self._synonym_pattern: re.Pattern[str] | None = None
        # The knowledge base's own words (keywords, synonyms) by their sound: what a
        # homophone typo of one of them meant (低报 → 低保, 结婚等级 → 结婚登记).
        self._by_sound: dict[str, tuple[str, ...]] = {}
        self._heard: set[str] = set()  # the words given to add_words so far, as given

    # --- vocabulary ---------------------------------------------------------------

    def add_stopwords(self, words: Iterable[str]) -> None:
        """Words that decide nothing in this city's questions (its own name)."""
        extra = {normalise(w) for w in words if w}
        self._stopwords = self._stopwords | extra
        self.add_words(extra)

    def add_words(self, words: Iterable[str]) -> None:
        """Teach jieba the knowledge base's words (keywords, synonyms, titles' terms)."""
        offered = {w for w in words if w and len(w) <= 12}
        with self._lock:
            new = offered - self._heard
            self._heard |= new
        if not new:  # the whole vocabulary is offered again after every publication
            return
        self._segmenter.add_words(new)
        sounded = [(sound_key(w), w) for w in map(normalise, new) if len(w) <= _MISHEARD_MAX]
        with self._lock:
            for key, word in sounded:
                if key and word not in self._by_sound.get(key, ()):
                    self._by_sound[key] = (*self._by_sound.get(key, ()), word)

    def set_synonyms(self, groups: Iterable[Sequence[str]]) -> None:
        """Replace the synonym table; every term of a group expands to all the others."""
        table: dict[str, tuple[str, ...]] = {}
        for group in groups:
            terms = _unique(t for t in (normalise(x) for x in group) if len(t) >= 2)
            for term in terms:
                table[term] = _unique((*table.get(term, ()), *terms))
        self.add_words(table)
        pattern = None
        if table:
            alternatives = sorted(table, key=len, reverse=True)
            pattern = re.compile("|".join(map(re.escape, alternatives)))
        with self._lock:
            self._synonyms = table
            self._synonym_pattern = pattern

    # --- analysis -----------------------------------------------------------------

    def _runs(self, normalised: str) -> tuple[list[str], list[str]]:
        """(content words, runs): stop words and punctuation removed; a run is the text
        between two removed tokens, which is where bigrams and sounds may span."""
        words, runs, _, _ = self._pieces(normalised)
        return words, runs

    def _pieces(self, normalised: str) -> tuple[list[str], list[str], list[str], list[str]]:
        """Content words, runs, and the question's word-like pieces: every word of two or
        more characters, and each stretch of single characters (where a typo broke a word
        jieba would have known, 社宝卡 → 社/宝/卡)."""
        words: list[str] = []
        runs: list[str] = []
        pieces: list[str] = []
        current: list[str] = []
        singles: list[str] = []
        chars: list[str] = []

        def close_singles() -> None:
            if len(singles) >= 2:
                pieces.append("".join(singles))
            elif singles and _CJK.match(singles[0]):
                chars.append(singles[0])  # 补 (reissue), 查 (look up), 换 (renew) …
            singles.clear()

        for token in self._segmenter.cut(normalised):
            piece = token.strip()
            if not piece or piece in self._stopwords or not _CONTENT.fullmatch(piece):
                close_singles()
                if current:
                    runs.append("".join(current))
                    current = []
                continue
            current.append(piece)
            if len(piece) >= 2 or not _CJK.match(piece):
                close_singles()
                words.append(piece)
                pieces.append(piece)
            else:
                singles.append(piece)
        close_singles()
        if current:
            runs.append("".join(current))
        return words, runs, pieces, chars

    @staticmethod
    def _grams(runs: Iterable[str]) -> list[str]:
        grams: list[str] = []
        for run in runs:
            for chunk in _CJK_RUNS.findall(run):
                grams.extend(chunk[i : i + 2] for i in range(len(chunk) - 1))
        return grams

    @staticmethod
    def _sounds(runs: Iterable[str]) -> list[str]:
        out: list[str] = []
        for run in runs:
            for chunk in _CJK_RUNS.findall(run):
                syllables = [(sounds(c) or ("",))[0] for c in chunk]
                out.extend(a + b for a, b in zip(syllables, syllables[1:], strict=False) if a and b)
        return out

    def document(self, text: str) -> Terms:
        """Index terms of one field of an article (repeats kept for term frequency)."""
        normalised = normalise(text)
        words, runs = self._runs(normalised)
        words = [*words, *self._subwords(words)]
        grams = self._grams(runs)
        return Terms(
            words=tuple(safe_term(w) for w in words if safe_term(w)),
            grams=tuple(grams),
            sounds=tuple(self._sounds(runs)),
        )

    def _subwords(self, words: Iterable[str]) -> list[str]:
        """The dictionary words inside longer words (居民身份证 → 居民, 身份证), as jieba's
        search mode does: an article about 身份证到期 is also about 身份证."""
        found: list[str] = []
        for word in words:
            if len(word) < 3 or not _CJK.match(word):
                continue
            for size in range(2, min(len(word) - 1, 4) + 1):
                for start in range(len(word) - size + 1):
                    part = word[start : start + size]
                    if self._segmenter.is_word(part):
                        found.append(part)
        return found

    def query(self, text: str) -> Query:
        """Terms of a search, with synonyms expanded."""
        normalised = normalise(text)[:400]
        words, runs, pieces, chars = self._pieces(normalised)
        if not words and all(len(run) < 2 for run in runs):
            left = self._between_stop_words(normalised)
            words, runs, pieces = left, [*runs, *left], left
        joined = self._separable(normalised)
        words, pieces = [*words, *joined], [*pieces, *joined]
        expansions: list[str] = []
        concepts: list[tuple[str, ...]] = []
        found_terms: list[str] = []
        with self._lock:
            pattern, table = self._synonym_pattern, self._synonyms
        if pattern is not None:
            for found in pattern.findall(normalised):
                group = table.get(found, ())
                if found in self._stopwords or any(t in self._stopwords for t in group):
                    continue  # 点样/怎么: a way of asking, not a subject
                concepts.append(group)
                found_terms.append(found)
                expansions.extend(t for t in group if t != found)
        misheard = self._misheard(runs, pieces, found_terms)
        for heard, meant in misheard:
            group = _unique((*meant, *(t for m in meant for t in table.get(m, ()))))
            concepts.append(group)
            found_terms.append(heard)
            expansions.extend(group)
        units = self._units(pieces, list(zip(found_terms, concepts, strict=True)))
        return Query(
            text=text,
            normalised=normalised,
            words=_unique(safe_term(w) for w in words if safe_term(w)),
            grams=_unique(self._grams(runs)),
            expansions=_unique(safe_term(e) for e in expansions if safe_term(e)),
            sounds=_unique(self._sounds(runs))[:MAX_QUERY_TERMS],
            concepts=tuple(concepts),
            units=units,
            chars=_unique(chars),
            misheard=tuple(misheard),
        )

    def _misheard(
        self, runs: list[str], pieces: list[str], found: list[str]
    ) -> list[tuple[str, tuple[str, ...]]]:
        """Stretches of the question no dictionary knows that sound exactly like one of
        the knowledge base's own words: a homophone typo (结婚等级, 残疾人正, 出生正明)
        and the words it meant. Three or four characters anywhere in a run; two only
        where jieba left single characters (低报 → 低/报: a typo breaks a word apart),
        since two characters across two real words sound like something too often. A
        typo changes a character or two, not the whole word: at most half of them may
        differ (块地 is no 快递)."""
        with self._lock:
            by_sound = self._by_sound
        if not by_sound:
            return []
        broken = {p for p in pieces if not self._segmenter.is_word(p)}
        out: list[tuple[str, tuple[str, ...]]] = []
        for run in runs:
            for chunk in _CJK_RUNS.findall(run):
                start = 0
                while start < len(chunk) - 1:
                    for size in range(min(_MISHEARD_MAX, len(chunk) - start), 1, -1):
                        heard = chunk[start : start + size]
                        if size == 2 and not any(heard in p for p in broken):
                            continue
                        if self._segmenter.is_word(heard) or any(heard in f for f in found):
                            continue
                        meant = tuple(
                            word
                            for word in by_sound.get(sound_key(heard) or "", ())
                            if sum(a != b for a, b in zip(word, heard, strict=True)) <= size // 2
                        )
                        if meant:
                            out.append((heard, meant[:_MISHEARD_CHOICES]))
                            start += size - 1
                            break
                    start += 1
        return out

    def _between_stop_words(self, normalised: str) -> list[str]:
        """What a question of only stop words and single characters still says (几时来水:
        几时 | 来 | 水): each stretch of single characters between longer stop words,
        joined (来水), where one of them is not a stop word."""
        stretches: list[str] = []
        current: list[str] = []
        for token in [*self._segmenter.cut(normalised), ""]:
            piece = token.strip()
            if len(piece) == 1 and _CJK.match(piece):
                current.append(piece)
                continue
            if len(current) >= 2 and any(c not in self._stopwords for c in current):
                stretches.append("".join(current))
            current = []
        return stretches

    def _separable(self, normalised: str) -> list[str]:
        """The words a spoken question splits with an aspect particle (离了婚, 住过院,
        买了房): 离婚, 住院, 买房, as the articles write them."""
        return [a + b for a, b in _SEPARATED.findall(normalised) if self._segmenter.is_word(a + b)]

    def _units(
        self, pieces: list[str], concepts: list[tuple[str, tuple[str, ...]]]
    ) -> tuple[Unit, ...]:
        units: dict[str, Unit] = {}
        claimed: set[str] = set()
        extra: list[str] = []
        for found, group in concepts:
            terms = _unique(safe_term(t) for t in group if safe_term(t))
            units[found] = Unit(
                found, terms, tuple(self._grams([found])), tuple(self._sounds([found]))
            )
            for piece in pieces:
                if piece in found or found in piece:
                    claimed.add(piece)
                    # 公积金提取 holds 公积金 (a synonym) and 提取, which is asked too
                    extra.extend(r for r in piece.split(found) if len(r) >= 2)
        pieces = [*pieces, *extra]
        for piece in pieces:
            term = safe_term(piece)
            if not term or piece in claimed or term in units:
                continue
            units[term] = Unit(
                term, (term,), tuple(self._grams([piece])), tuple(self._sounds([piece]))
            )
        return tuple(units.values())


_CJK_RUNS = re.compile(r"[\u3400-\u9fff]{2,}")
_MISHEARD_MAX = 4
_MISHEARD_CHOICES = 3


def sound_key(word: str) -> str | None:
    """The word as it sounds, each character's common reading, apart (toneless, fuzzy:
    低保 and 低报 are both "di'bao"; 西安 "xi'an" is not 先 "xian"); None unless every
    character is Hanzi. Words of the same key have as many characters."""
    syllables = []
    for char in word:
        reading = sounds(char)
        if not reading:
            return None
        syllables.append(reading[0])
    return "'".join(syllables)


# A character, an aspect particle, a character (a lookahead, so that 住过院又离了婚
# gives both).
_SEPARATED = re.compile(r"(?=([\u3400-\u9fff])[了过着]([\u3400-\u9fff]))")


@dataclass(frozen=True)
class StoryCut:
    """`text` as jieba's search mode cuts it with its own dictionary: its `words` (every
    word, and the dictionary's words inside a longer one), the characters it leaves
    single (`chars`), and those characters paired into bigrams where they stand next to
    each other (`pairs`: the words it does not know, what its HMM would guess at a third
    of the cost). Repeats kept. How a caller's story is matched against whole articles
    (knowledge_base.scoring.story_bm25): the same for every article and question
    whatever the knowledge base's own words, so an article's are cut once, when it is
    indexed."""

    words: tuple[str, ...]
    pairs: tuple[str, ...]
    chars: tuple[str, ...]

    def stored(self) -> str:
        """As an article keeps it: the three space-separated, between STORY_PARTS."""
        return STORY_PARTS.join(" ".join(part) for part in (self.words, self.pairs, self.chars))


# Between the words, the pairs and the characters of an article's stored story terms
# (no term is "|": each is a \w+ word or a single Hanzi).
STORY_PARTS = " | "


def story_cut(text: str) -> StoryCut:
    """`text` cut as a caller's story is matched (StoryCut)."""
    words: list[str] = []
    pairs: list[str] = []
    chars: list[str] = []
    single: list[str] = []
    for token in _default_tokenizer().cut_for_search(normalise(text), HMM=False):
        if len(token) == 1 and _CJK.match(token):
            single.append(token)
            continue
        pairs.extend(a + b for a, b in zip(single, single[1:], strict=False))
        chars.extend(single)
        single.clear()
        if len(token) >= 2 and _STORY_TOKEN.fullmatch(token):
            words.append(token)
    pairs.extend(a + b for a, b in zip(single, single[1:], strict=False))
    chars.extend(single)
    return StoryCut(tuple(words), tuple(pairs), tuple(chars))


def story_terms(text: str) -> str:
    """`text`'s StoryCut as an article keeps it (kb_search_document.story_terms)."""
    return story_cut(text).stored()


_STORY_TOKEN = re.compile(r"\w+")


@lru_cache(maxsize=1)
def _default_tokenizer():  # type: ignore[no-untyped-def]
    """jieba's own tokenizer, which part-of-speech tagging (scoring) loads anyway."""
    import jieba

    jieba.setLogLevel(60)  # it logs the dictionary load at INFO (once: it is not free)
    return jieba.dt


# --- what the analysis's fingerprint (knowledge_base.reindex) cannot see for itself ---

# Raise it when a change to this module's code cuts articles differently: what the
# fingerprint cannot see for itself (it sees the tables, the libraries' versions and
# what normalisation and pinyin make of a probe).
# 2: an article's story terms keep the characters jieba leaves single, apart from
# their pairs.
ANALYSIS_REVISION = 2
