"""The learned model (from the city's closed tickets) and the classifier that blends it
with the catalogue model: what routing ranks categories by."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from routing.classify import CatalogueModel, CategoryScore


@dataclass
class LearnedModel:
    """A linear model over TF-IDF features, restored from plain arrays (see routing/model.py)."""

    version: int | None
    classes: list[str]
    vocabulary: dict[str, int]
    idf: np.ndarray  # (V,)
    coef: np.ndarray  # (C, V)
    intercept: np.ndarray  # (C,)
    blend: float  # weight of this model against the catalogue model, 0..1
    samples: int = 0

    def probabilities(self, features: Iterable[str]) -> dict[str, float]:
        return dict(zip(self.classes, self.probability_array(features).tolist(), strict=True))

    def probability_array(self, features: Iterable[str]) -> np.ndarray:
        """Probabilities in the order of `classes`."""
        counts: dict[int, int] = {}
        for feature in features:
            index = self.vocabulary.get(feature)
            if index is not None:
                counts[index] = counts.get(index, 0) + 1
        if not counts:
            logits = self.intercept.astype(np.float64)
        else:
            indices = np.fromiter(counts, dtype=np.int64, count=len(counts))
            tf = 1.0 + np.log(np.fromiter(counts.values(), dtype=np.float64, count=len(counts)))
            values = tf * self.idf[indices]
            values /= np.linalg.norm(values) or 1.0
            logits = self.coef[:, indices] @ values + self.intercept
        if len(self.classes) == 1:
            return np.ones(1)
        if logits.shape[0] == 1:  # binary: sklearn keeps one row for the second class
            p = 1.0 / (1.0 + math.exp(-float(logits[0])))
            return np.array([1.0 - p, p])
        logits = logits - logits.max()
        exp = np.exp(logits)
        return exp / exp.sum()


class Classifier:
    """The catalogue model, blended with a learned model when one exists."""

    def __init__(self, catalogue: CatalogueModel, learned: LearnedModel | None = None):
        self.catalogue = catalogue
        self.learned = learned
        if learned is not None:
            # learned class -> catalogue position; classes the catalogue lost are dropped
            pairs = [
                (i, catalogue.index[code])
                for i, code in enumerate(learned.classes)
                if code in catalogue.index
            ]
            self._from = np.array([i for i, _ in pairs], dtype=np.int64)
            self._to = np.array([j for _, j in pairs], dtype=np.int64)

    def classify(
        self,
        text: str,
        tokens: Sequence[str],
        features: Sequence[str] | None = None,
        *,
        top: int = 10,
        fill: bool = True,
    ) -> tuple[list[CategoryScore], bool]:
        """The `top` categories best first, and whether any evidence was found at all.
        Without `fill`, only the categories something in the text points to (and no
        resemblance is computed: the knowledge base's use, on every search)."""
        scores = self.catalogue.scores(text, tokens)
        probs = self.catalogue.probabilities(scores)
        evidence = {code: list(ev) for code, (_, ev) in scores.items()}
        learned_best = 0.0
        learned_by_code: dict[str, float] = {}
        if self.learned is not None and self.learned.blend > 0 and features is not None:
            learned = self.learned.probability_array(features)
            w = self.learned.blend
            mixed = (1 - w) * probs
            mixed[self._to] += w * learned[self._from]
            probs = mixed / mixed.sum()
            learned_best = float(learned.max())
            # Above chance, the learned model points at the category.
            for i in np.flatnonzero(learned > 1.0 / len(learned)):
                learned_by_code[self.learned.classes[i]] = float(learned[i])
            for i in np.flatnonzero(learned >= 0.15):
                code = self.learned.classes[i]
                evidence.setdefault(code, []).append(f"历史工单模型 {learned[i]:.2f}")
        found = bool(scores) or learned_best >= 0.3
        codes = self.catalogue.codes
        like = self.catalogue.resemblance(text) if fill else np.zeros(len(codes))
        # Categories something points to, by probability; then the rest by resemblance.
        pointed = [i for i, code in enumerate(codes) if code in evidence or code in learned_by_code]
        pointed.sort(key=lambda i: (-probs[i], i))
        top = min(top, len(probs))
        if fill and len(pointed) < top:
            taken = set(pointed)
            rest = [i for i in np.argsort(-like, kind="stable").tolist() if i not in taken]
            pointed += rest[: top - len(pointed)]
        return [
            CategoryScore(
                codes[i],
                float(probs[i]),
                tuple(evidence.get(codes[i], ())),
                learned_by_code.get(codes[i], 0.0),
                float(like[i]),
            )
            for i in pointed[:top]
        ], found
