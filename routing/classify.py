"""Which second-level category a request belongs to: explainable scoring (no app, no DB).

Two models, blended:

* the **catalogue model** works on day one. Every category has terms: the catalogue's
  keywords, its name and the phrases of its description, plus the routing lexicon's
  colloquial words (routing/data/lexicon.yaml). A term found in the text scores
  ``origin weight × length factor × 1/(number of categories sharing it) × context``.
  Context is what keeps misleading words from deciding: a term inside a longer term
  found at the same place does not count (加装电梯 ⊃ 电梯, 燃气灶 ⊃ 燃气), a term that
  only modifies a longer dictionary word counts little (燃气|灶), and a term just after
  a contrast word (不是、并非…) counts little. Combos (every group present: 药店 +
  医保卡 + 买日用品) score for the category that the combination means. Scores become
  probabilities with a softmax. A term split by 了/过 and a short object (停了两日水 for
  停水) counts a little less. Categories nothing points to are ordered by
  **resemblance**: TF-IDF cosine over the character bigrams and single characters of
  each category's terms, so that with thin evidence the 2nd and 3rd suggestions are the
  categories whose words the text looks like, not a bare prior.
* the **learned model** (routing/model.py trains it from closed tickets) is a linear
  model over TF-IDF features (jieba tokens + character bigrams); its probabilities are
  blended in with the weight that its training held-out data chose.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from routing.text import STOPWORDS, normalise, sounds, token_spans

# How much a term counts by where it comes from.
ORIGIN_WEIGHTS = {
    "name": 1.2,
    "keyword": 1.0,
    "lexicon": 0.9,
    "part": 1.0,
    "description": 0.5,
    "weak": 0.35,
}
ORIGIN_LABELS = {
    "name": "分类名",
    "keyword": "关键词",
    "lexicon": "词表",
    "part": "分类名",
    "description": "描述",
    "weak": "相关词",
}
COMBO_WEIGHT = 2.5
MODIFIER_FACTOR = 0.35  # the term only modifies a longer word: 燃气|灶
HEAD_FACTOR = 0.8  # the term ends a longer word: 小区|物业
CONTRAST_FACTOR = 0.15
CONTRAST_WINDOW = 5
FUZZY_FACTOR = 0.6  # one character typed as a homophone (社宝卡, 公基金, 燃汽)
FUZZY_LENGTHS = (2, 3, 4)
PARTIAL_FACTOR = 0.4  # a 3-4 character term with one character different (电梯困住 ~ 电梯困人)
PARTIAL_LENGTHS = (3, 4)
# A two-character verb-object term split by an aspect word and a short object: 停了两日水
# is 停水, 补过一张卡 is 补卡 (离合词).
SPLIT_FACTOR = 0.7
SPLIT_MARKERS = frozenset("了过")
SPLIT_GAP = 3  # characters at most between the marker and the term's second character
# Characters too common to anchor a partial match (充了钱 must not find 卡充了), and too
# common to stand for a typo: a homophone or near match whose odd character in the text is
# one of them is an ordinary function word, not a mistyped term (的是 is not 的士, 出过 is
# not 出国, 收了 is not 馊了).
FUNCTION_CHARS = frozenset(
    "了的是在有我你他她们这那个也都就不没很吗呢吧啊和与及或被把给到去来上下过"
)
LOCATIVE_FACTOR = 0.3  # the term names where, not what: 学校门口, 医院旁边
# 电线杆上贴满小广告: the pole is where the ads are, not what the request is about.
LOCATIVES = ("门口", "旁边", "附近", "对面", "隔壁", "周边", "周围", "后面", "侧边", "一带", "楼下")
LOCATIVES += ("上贴", "上面贴", "上喷", "上涂")
TEMPERATURE = 0.3
# Resemblance: how much a text looks like a category's words, character by character, when
# no term of the category was found. Only orders the categories nothing points to (the
# 2nd and 3rd suggestions when evidence is thin); it never outranks evidence.
UNIGRAM_FACTOR = 0.25  # a shared single character says much less than a shared pair
_CLAUSE_BREAK = re.compile(r"[,.;:!?，。；：！？\n]")
_DESCRIPTION_SPLIT = re.compile(r"[，、。；：:（）()“”\s]|以及|及|和|与|或|如|等|特别是|包括|含")


@dataclass(frozen=True)
class CategoryInfo:
    code: str
    name: str
    description: str | None = None
    keywords: tuple[str, ...] = ()
    parent_name: str | None = None


@dataclass(frozen=True)
class Combo:
    category: str
    groups: tuple[tuple[str, ...], ...]
    note: str = ""
    weight: float = COMBO_WEIGHT


@dataclass(frozen=True)
class Lexicon:
    """Extra terms per category (used only where the catalogue has that code and name)."""

    terms: Mapping[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)
    weak: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    combos: tuple[Combo, ...] = ()
    contrast: tuple[str, ...] = ()

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> Lexicon:
        """Build from the parsed lexicon.yaml; malformed entries raise ValueError."""
        terms: dict[str, tuple[str, tuple[str, ...]]] = {}
        weak: dict[str, tuple[str, ...]] = {}
        for code, entry in (document.get("categories") or {}).items():
            words = entry.get("terms") or []
            generic = entry.get("weak") or []
            if not isinstance(entry.get("name"), str) or not all(
                isinstance(w, str) for w in [*words, *generic]
            ):
                raise ValueError(f"lexicon category {code}: needs a name and string terms")
            terms[str(code)] = (entry["name"], tuple(words))
            weak[str(code)] = tuple(generic)
        combos = []
        for entry in document.get("combos") or []:
            groups = tuple(tuple(str(w) for w in group) for group in entry["groups"])
            if not groups or not all(groups):
                raise ValueError(f"lexicon combo for {entry.get('category')}: empty group")
            combos.append(
                Combo(
                    str(entry["category"]),
                    groups,
                    str(entry.get("note", "")),
                    float(entry.get("weight", COMBO_WEIGHT)),
                )
            )
        contrast = tuple(str(w) for w in document.get("contrast") or [])
        return cls(terms, weak, tuple(combos), contrast)


@dataclass(frozen=True)
class CategoryScore:
    code: str
    probability: float
    evidence: tuple[str, ...] = ()  # readable: the words and combos that decided it
    learned: float = 0.0  # the learned model's own probability (0 without one)
    resemblance: float = 0.0  # character-gram likeness to the category's words (0..1)


@dataclass
class _Term:
    category: str
    weight: float
    origin: str


FUZZY: frozenset[str] = frozenset({"~fuzzy"})  # marks a homophone match
PARTIAL: frozenset[str] = frozenset({"~partial"})  # marks a one-character-off match
SPLIT: frozenset[str] = frozenset({"~split"})  # marks a term split by 了/过 and an object


def _sound(char: str) -> str:
    readings = sounds(char)
    return readings[0] if readings else ""


def _is_cjk(word: str) -> bool:
    return all("\u3400" <= ch <= "\u9fff" for ch in word)


_CJK_RUN = re.compile(r"[\u3400-\u9fff]+")
_STOP_CHARS = FUNCTION_CHARS | {w for w in STOPWORDS if len(w) == 1}


def _grams(text: str) -> list[str]:
    """Character bigrams and single characters of the CJK runs, none with a function
    character (了、的、是… carry grammar, not matter), no stop word alone."""
    grams: list[str] = []
    for run in _CJK_RUN.findall(text):
        grams.extend(ch for ch in run if ch not in _STOP_CHARS)
        for i in range(len(run) - 1):
            pair = run[i : i + 2]
            if not FUNCTION_CHARS.intersection(pair) and pair not in STOPWORDS:
                grams.append(pair)
    return grams


def _length_factor(word: str) -> float:
    return {1: 0.5, 2: 1.0, 3: 1.4}.get(len(word), 1.8)


def description_phrases(description: str | None) -> list[str]:
    """Short phrases of a description ("如过期变质、异物、食物中毒" -> 过期变质, 异物 …)."""
    if not description:
        return []
    return [p for p in _DESCRIPTION_SPLIT.split(description) if 2 <= len(p) <= 8]


def name_parts(name: str) -> list[str]:
    return [p for p in re.split(r"[与和及、]", name) if len(p) >= 2 and p != name]


class CatalogueModel:
    """Day-one scoring from the catalogue's own words and the routing lexicon."""

    def __init__(self, categories: Sequence[CategoryInfo], lexicon: Lexicon | None = None):
        self.codes = [c.code for c in categories]
        self.index = {code: i for i, code in enumerate(self.codes)}
        lexicon = lexicon or Lexicon()
        raw: dict[str, dict[str, _Term]] = {}  # word -> category -> best term

        def add(word: str, code: str, origin: str) -> None:
            word = normalise(word)
            if not word:
                return
            weight = ORIGIN_WEIGHTS[origin]
            current = raw.setdefault(word, {}).get(code)
            if current is None or current.weight < weight:
                raw[word][code] = _Term(code, weight, origin)

        names = {c.code: c.name for c in categories}
        for category in categories:
            add(category.name, category.code, "name")
            for part in name_parts(category.name):
                add(part, category.code, "part")
            for keyword in category.keywords:
                add(keyword, category.code, "keyword")
            for phrase in description_phrases(category.description):
                add(phrase, category.code, "description")
            extra = lexicon.terms.get(category.code)
            if extra and extra[0] == names[category.code]:
                for word in extra[1]:
                    add(word, category.code, "lexicon")
                for word in lexicon.weak.get(category.code, ()):
                    add(word, category.code, "weak")
        # A word several categories share says less about each of them.
        self.terms: dict[str, list[_Term]] = {}
        for word, by_code in raw.items():
            share = 1.0 / len(by_code)
            factor = _length_factor(word) * share
            self.terms[word] = [
                _Term(t.category, t.weight * factor, t.origin) for t in by_code.values()
            ]
        self.lengths = sorted({len(w) for w in self.terms}, reverse=True)
        # first character -> second characters of the two-character terms (for 停了…水)
        self.splittable: dict[str, set[str]] = {}
        for word in self.terms:
            if len(word) == 2 and _is_cjk(word) and word[1] not in FUNCTION_CHARS:
                self.splittable.setdefault(word[0], set()).add(word[1])
        self._build_resemblance(raw)
        # first character -> the lengths of the terms starting with it, longest first
        starts: dict[str, set[int]] = {}
        for word in self.terms:
            starts.setdefault(word[0], set()).add(len(word))
        self.starts = {c: sorted(ls, reverse=True) for c, ls in starts.items()}
        # Homophone typos: 2-4 character terms by how they sound, so "公基金" finds 公积金
        # (ji = ji); partial matches: 3-4 character terms with one character masked.
        self.by_sound: dict[tuple[str, ...], list[str]] = {}
        self.masked: dict[str, list[str]] = {}
        for word in self.terms:
            if len(word) not in FUZZY_LENGTHS or not _is_cjk(word):
                continue
            key = tuple(_sound(c) for c in word)
            if all(key):
                self.by_sound.setdefault(key, []).append(word)
            if len(word) in PARTIAL_LENGTHS:
                for i in range(len(word)):
                    kept_chars = word[:i] + word[i + 1 :]
                    if not any(c in FUNCTION_CHARS for c in kept_chars):
                        self.masked.setdefault(word[:i] + "?" + word[i + 1 :], []).append(word)
        known = set(self.codes)
        self.combos = tuple(
            Combo(
                c.category,
                tuple(tuple(normalise(w) for w in g) for g in c.groups),
                c.note,
                c.weight,
            )
            for c in lexicon.combos
            if c.category in known and lexicon.terms.get(c.category, ("",))[0] == names[c.category]
        )
        self.contrast = tuple(normalise(w) for w in lexicon.contrast)

    def _build_resemblance(self, raw: Mapping[str, Mapping[str, _Term]]) -> None:
        """A TF-IDF matrix (gram x category) over the character bigrams and single
        characters of every category's terms (a gram never crosses two terms; a term
        counts by its origin weight), each category's column L2-normalised."""
        counts: dict[str, dict[int, float]] = {}
        for word, by_code in raw.items():
            grams = set(_grams(word))
            for term in by_code.values():
                column = self.index[term.category]
                for gram in grams:
                    row = counts.setdefault(gram, {})
                    row[column] = row.get(column, 0.0) + ORIGIN_WEIGHTS[term.origin]
        size = len(self.codes)
        self.gram_index = {gram: i for i, gram in enumerate(counts)}
        idf = np.array([math.log((1 + size) / (1 + len(r))) + 1.0 for r in counts.values()])
        matrix = np.zeros((len(counts), size), dtype=np.float64)
        for i, row in enumerate(counts.values()):
            for column, count in row.items():
                matrix[i, column] = idf[i] * (1 + math.log1p(count))
        norms = np.linalg.norm(matrix, axis=0)
        self.gram_matrix = matrix / np.where(norms > 0, norms, 1.0)
        # the text's side: idf, a single character counting for less than a pair
        self.gram_idf = idf * np.array([UNIGRAM_FACTOR if len(g) == 1 else 1.0 for g in counts])

    def resemblance(self, text: str) -> np.ndarray:
        """Cosine likeness of normalised `text` to each category's words (order of codes)."""
        rows = sorted({self.gram_index[g] for g in _grams(text) if g in self.gram_index})
        if not rows:
            return np.zeros(len(self.codes), dtype=np.float64)
        weights = self.gram_idf[rows]
        return (weights @ self.gram_matrix[rows]) / float(np.linalg.norm(weights))

    def vocabulary(self) -> list[str]:
        """Every term, for the segmenter's dictionary."""
        return list(self.terms)

    def scores(
        self, text: str, tokens: Sequence[str] | None = None
    ) -> dict[str, tuple[float, list[str]]]:
        """category -> (score, evidence) for normalised `text` (with its jieba tokens)."""
        matches: list[tuple[int, int, str]] = []
        terms, starts = self.terms, self.starts
        for start, char in enumerate(text):
            for length in starts.get(char, ()):
                word = text[start : start + length]
                if word in terms and len(word) == length:
                    matches.append((start, start + length, word))
        # Longest match: a term inside a longer term at the same place does not count.
        # Longest match: a term inside a longer term found at the same place counts only
        # for the categories the longer term also points to (接种证 inside 预防接种证).
        matches.sort(key=lambda m: (m[0], -m[1]))
        kept: list[tuple[int, int, str, frozenset[str] | None]] = []
        reach = -1  # the farthest end of the matches starting at or before this one
        for index, (start, end, word) in enumerate(matches):
            if end > reach:
                kept.append((start, end, word, None))
                reach = end
                continue
            allowed: set[str] = set()
            for s2, e2, w2 in matches[:index]:
                if s2 <= start and end <= e2:
                    allowed.update(t.category for t in self.terms[w2])
            kept.append((start, end, word, frozenset(allowed)))
        kept += self._fuzzy(text, kept)
        kept += self._split(text, kept)
        spans = token_spans(tokens) if tokens else []
        result: dict[str, tuple[float, list[str]]] = {}
        seen: set[tuple[str, str]] = set()
        for start, end, word, allowed in kept:
            factor, why = self._context(text, start, end, spans)
            if allowed == FUZZY:
                factor, why = factor * FUZZY_FACTOR, f"（同音“{text[start:end]}”）"
                allowed = None
            elif allowed == PARTIAL:
                factor, why = factor * PARTIAL_FACTOR, f"（近似“{text[start:end]}”）"
                allowed = None
            elif allowed == SPLIT:
                factor, why = factor * SPLIT_FACTOR, f"（拆开“{text[start:end]}”）"
                allowed = None
            for term in self.terms[word]:
                if (term.category, word) in seen or (
                    allowed is not None and term.category not in allowed
                ):
                    continue
                seen.add((term.category, word))
                score, evidence = result.get(term.category, (0.0, []))
                label = f"{ORIGIN_LABELS[term.origin]}“{word}”{why}"
                result[term.category] = (score + term.weight * factor, [*evidence, label])
        for combo in self.combos:
            found: list[str] = []
            for group in combo.groups:
                word = next((w for w in group if w in text), None)
                if word is None:
                    break
                found.append(word)
            else:
                weight = combo.weight
                label = "组合“" + "+".join(found) + "”"
                if any(self._contrasted(text, text.find(word)) for word in found):
                    weight, label = weight * CONTRAST_FACTOR, label + "（前有否定）"
                elif combo.note:
                    label += f"（{combo.note}）"
                score, evidence = result.get(combo.category, (0.0, []))
                result[combo.category] = (score + weight, [*evidence, label])
        return result

    def _fuzzy(
        self, text: str, exact: Sequence[tuple[int, int, str, frozenset[str] | None]]
    ) -> list[tuple[int, int, str, frozenset[str] | None]]:
        """Terms typed with one character wrong (a homophone, or for 3-4 character terms any
        character), looked for only where no exact term was found."""
        size = len(text)
        good = [_is_cjk(ch) for ch in text]
        for start, end, _, _ in exact:
            good[start:end] = [False] * (end - start)
        run = [0] * (size + 1)  # good characters in a row from each position
        for i in range(size - 1, -1, -1):
            run[i] = run[i + 1] + 1 if good[i] else 0
        tones = [_sound(ch) if ok else "" for ch, ok in zip(text, good, strict=True)]
        found: list[tuple[int, int, str, frozenset[str] | None]] = []
        seen: set[str] = {word for _, _, word, _ in exact}
        for start in range(size):
            for length in FUZZY_LENGTHS:
                if length > run[start]:
                    break
                end = start + length
                window = text[start:end]
                for word in self.by_sound.get(tuple(tones[start:end]), ()):
                    odd = [i for i in range(length) if word[i] != window[i]]
                    if (
                        word not in seen
                        and len(odd) == 1
                        and window[odd[0]] not in FUNCTION_CHARS
                        and any(c not in FUNCTION_CHARS for c in word.replace(word[odd[0]], ""))
                    ):
                        seen.add(word)
                        found.append((start, end, word, FUZZY))
                if length in PARTIAL_LENGTHS:
                    for i in range(length):
                        if window[i] in FUNCTION_CHARS:
                            continue
                        for word in self.masked.get(window[:i] + "?" + window[i + 1 :], ()):
                            if word not in seen:
                                seen.add(word)
                                found.append((start, end, word, PARTIAL))
        return found

    def _split(
        self, text: str, exact: Sequence[tuple[int, int, str, frozenset[str] | None]]
    ) -> list[tuple[int, int, str, frozenset[str] | None]]:
        """Two-character terms split by 了/过 and a short object (停了两日水 -> 停水)."""
        seen = {word for _, _, word, _ in exact}
        found: list[tuple[int, int, str, frozenset[str] | None]] = []
        for marker in range(1, len(text) - 1):
            if text[marker] not in SPLIT_MARKERS:
                continue
            seconds = self.splittable.get(text[marker - 1])
            if not seconds:
                continue
            for end in range(marker + 2, min(len(text), marker + SPLIT_GAP + 2) + 1):
                char = text[end - 1]
                if not _is_cjk(char):
                    break
                word = text[marker - 1] + char
                if char in seconds and word not in seen:
                    seen.add(word)
                    found.append((marker - 1, end, word, SPLIT))
        return found

    def _context(
        self, text: str, start: int, end: int, spans: Sequence[tuple[int, int]]
    ) -> tuple[float, str]:
        factor, why = 1.0, ""
        for s, e in spans:
            if s <= start < e:
                if e - s > end - start and e >= end:
                    if e == end:
                        factor, why = HEAD_FACTOR, ""
                    else:
                        factor, why = MODIFIER_FACTOR, f"（仅为“{text[s:e]}”的修饰）"
                break
        if text.startswith(LOCATIVES, end):
            factor, why = factor * LOCATIVE_FACTOR, "（仅指地点）"
        if self._contrasted(text, start):
            factor, why = factor * CONTRAST_FACTOR, "（前有否定）"
        return factor, why

    def _contrasted(self, text: str, start: int) -> bool:
        """A contrast word (不是、并非…) just before `start`, in the same clause."""
        before = _CLAUSE_BREAK.split(text[max(0, start - CONTRAST_WINDOW) : start])[-1]
        return any(word in before for word in self.contrast)

    def probabilities(self, scores: Mapping[str, tuple[float, list[str]]]) -> np.ndarray:
        """Softmax over every category (a category without evidence scores 0)."""
        values = np.zeros(len(self.codes), dtype=np.float64)
        for code, (score, _) in scores.items():
            values[self.index[code]] = score / TEMPERATURE
        values -= values.max()
        exp = np.exp(values)
        return exp / exp.sum()
