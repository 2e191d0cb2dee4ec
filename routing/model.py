"""The learned routing model: train it from closed tickets, store it without pickle.

Training (scikit-learn): TF-IDF over jieba tokens + character bigrams, multinomial
logistic regression. The stored artifact is an ``.npz`` of plain numeric arrays plus a
JSON header (vocabulary, classes, blend weight), written with ``allow_pickle=False``
and validated on load (shapes, dtypes, finite values), so a tampered or corrupt row is
refused instead of executed.

Labels: tickets that closed without a send-back (their category and their final unit,
which must agree with the catalogue's rule for that category), and every dispatcher
override recorded as a RoutingDecision (strong labels, weight 3).
"""

from __future__ import annotations

import io
import json
import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from routing.blend import LearnedModel

FORMAT = "hotline-routing-model/1"
OVERRIDE_WEIGHT = 3.0
MIN_SAMPLES = 10
HOLDOUT = 0.2
# Below this many held-out samples the blend weight is not estimated but set from the
# amount of history: w = n / (n + PRIOR_STRENGTH).
MIN_HOLDOUT_FOR_TUNING = 60
PRIOR_STRENGTH = 500.0
BLEND_GRID = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


@dataclass(frozen=True)
class Sample:
    text: str
    category: str
    weight: float = 1.0
    source: str = "closed"  # closed | override | file


@dataclass
class TrainingResult:
    model: LearnedModel
    metrics: dict[str, Any] = field(default_factory=dict)


class ModelError(ValueError):
    """A stored model that cannot be trusted, or too little data to train one."""


# --------------------------------------------------------------------------- training


def fit(
    samples: Sequence[Sample],
    featurise: Callable[[str], list[str]],
    catalogue_probabilities: Callable[[str], dict[str, float]] | None = None,
    *,
    seed: int = 12345,
) -> TrainingResult:
    """Train on `samples`; hold out a stratified share to measure it and pick the blend.

    `featurise` turns a text into model features (routing.text.features after
    segmentation); `catalogue_probabilities` gives the day-one model's probabilities,
    so the held-out data can say how much the learned model should weigh against it.
    """
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    if len(samples) < MIN_SAMPLES:
        raise ModelError(f"need at least {MIN_SAMPLES} labelled tickets, have {len(samples)}")
    classes = sorted({s.category for s in samples})
    if len(classes) < 2:
        raise ModelError("need tickets of at least two categories")

    train, held = _split(samples, seed)
    docs = {id(s): featurise(s.text) for s in samples}

    def vectoriser() -> Any:
        return TfidfVectorizer(
            analyzer=lambda doc: doc, sublinear_tf=True, min_df=1, norm="l2", dtype=np.float64
        )

    def train_on(part: Sequence[Sample]) -> tuple[Any, Any]:
        vec = vectoriser()
        matrix = vec.fit_transform([docs[id(s)] for s in part])
        clf = LogisticRegression(C=10.0, max_iter=2000)
        clf.fit(matrix, [s.category for s in part], sample_weight=[s.weight for s in part])
        return vec, clf

    metrics: dict[str, Any] = {
        "samples": len(samples),
        "overrides": sum(1 for s in samples if s.source == "override"),
        "classes": len(classes),
        "per_class": dict(Counter(s.category for s in samples).most_common()),
    }
    blend = len(samples) / (len(samples) + PRIOR_STRENGTH)
    if held and len({s.category for s in train}) >= 2:
        vec, clf = train_on(train)
        learned_part = _to_model(vec, clf, blend=1.0, samples=len(train))
        learned_hits = 0
        mixes = {w: 0 for w in BLEND_GRID}
        prior_hits = 0
        for sample in held:
            feats = docs[id(sample)]
            learned = learned_part.probabilities(feats)
            learned_hits += max(learned, key=learned.__getitem__) == sample.category
            if catalogue_probabilities is not None:
                prior = catalogue_probabilities(sample.text)
                prior_hits += max(prior, key=prior.__getitem__) == sample.category
                for w in BLEND_GRID:
                    mixed = {c: (1 - w) * p + w * learned.get(c, 0.0) for c, p in prior.items()}
                    mixes[w] += max(mixed, key=mixed.__getitem__) == sample.category
        metrics["holdout"] = len(held)
        metrics["holdout_accuracy_learned"] = round(learned_hits / len(held), 4)
        if catalogue_probabilities is not None:
            metrics["holdout_accuracy_catalogue"] = round(prior_hits / len(held), 4)
            best = max(BLEND_GRID, key=lambda w: (mixes[w], -abs(w - 0.5)))
            metrics["holdout_accuracy_blended"] = round(mixes[best] / len(held), 4)
            if len(held) >= MIN_HOLDOUT_FOR_TUNING:
                blend = best
        metrics["holdout_accuracy"] = metrics.get(
            "holdout_accuracy_blended", metrics["holdout_accuracy_learned"]
        )
    metrics["blend"] = round(blend, 3)
    vec, clf = train_on(samples)  # the stored model learns from everything
    return TrainingResult(_to_model(vec, clf, blend=blend, samples=len(samples)), metrics)


def _split(samples: Sequence[Sample], seed: int) -> tuple[list[Sample], list[Sample]]:
    """Stratified: a category with fewer than 3 samples stays wholly in training."""
    rng = random.Random(seed)
    by_class: dict[str, list[Sample]] = {}
    for sample in samples:
        by_class.setdefault(sample.category, []).append(sample)
    train: list[Sample] = []
    held: list[Sample] = []
    for group in by_class.values():
        group = list(group)
        rng.shuffle(group)
        cut = int(len(group) * HOLDOUT) if len(group) >= 3 else 0
        held.extend(group[:cut])
        train.extend(group[cut:])
    return train, held


def _to_model(vec: Any, clf: Any, *, blend: float, samples: int) -> LearnedModel:
    vocabulary = {str(k): int(v) for k, v in vec.vocabulary_.items()}
    return LearnedModel(
        version=None,
        classes=[str(c) for c in clf.classes_],
        vocabulary=vocabulary,
        idf=np.asarray(vec.idf_, dtype=np.float64),
        coef=np.asarray(clf.coef_, dtype=np.float64),
        intercept=np.asarray(clf.intercept_, dtype=np.float64),
        blend=float(blend),
        samples=samples,
    )


# --------------------------------------------------------------------------- (de)serialising


def dump(model: LearnedModel) -> bytes:
    """The model as .npz bytes: numeric arrays and a JSON header, no pickled objects."""
    terms = [""] * len(model.vocabulary)
    for term, index in model.vocabulary.items():
        terms[index] = term
    header = {
        "format": FORMAT,
        "classes": model.classes,
        "vocabulary": terms,
        "blend": model.blend,
        "samples": model.samples,
    }
    buffer = io.BytesIO()
    np.savez_compressed(
        buffer,
        header=np.frombuffer(json.dumps(header, ensure_ascii=False).encode(), dtype=np.uint8),
        idf=model.idf.astype(np.float32),
        coef=model.coef.astype(np.float32),
        intercept=model.intercept.astype(np.float64),
    )
    return buffer.getvalue()


def load(raw: bytes, version: int | None = None) -> LearnedModel:
    """Restore and validate a model written by `dump`; anything odd raises ModelError."""
    try:
        with np.load(io.BytesIO(raw), allow_pickle=False) as archive:
            if set(archive.files) != {"header", "idf", "coef", "intercept"}:
                raise ModelError(f"unexpected arrays {sorted(archive.files)}")
            header = json.loads(archive["header"].tobytes().decode("utf-8"))
            idf = archive["idf"].astype(np.float64)
            coef = archive["coef"].astype(np.float64)
            intercept = archive["intercept"].astype(np.float64)
    except ModelError:
        raise
    except (ValueError, OSError, KeyError, UnicodeDecodeError, EOFError) as exc:
        raise ModelError(f"not a routing model artifact: {exc}") from exc
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ModelError("unknown model format")
    classes, terms = header.get("classes"), header.get("vocabulary")
    blend, samples = header.get("blend"), header.get("samples", 0)
    if not (isinstance(classes, list) and all(isinstance(c, str) for c in classes) and classes):
        raise ModelError("classes must be a non-empty list of codes")
    if not (isinstance(terms, list) and all(isinstance(t, str) for t in terms)):
        raise ModelError("vocabulary must be a list of strings")
    if len(set(terms)) != len(terms):
        raise ModelError("vocabulary has duplicates")
    if not isinstance(blend, int | float) or not 0.0 <= blend <= 1.0:
        raise ModelError("blend must be between 0 and 1")
    rows = 1 if len(classes) == 2 else len(classes)
    if idf.shape != (len(terms),) or coef.shape not in ((rows, len(terms)),):
        raise ModelError("array shapes do not match the vocabulary and classes")
    if intercept.shape != (rows,):
        raise ModelError("intercept shape does not match the classes")
    if not (np.isfinite(idf).all() and np.isfinite(coef).all() and np.isfinite(intercept).all()):
        raise ModelError("arrays hold non-finite values")
    return LearnedModel(
        version=version,
        classes=classes,
        vocabulary={t: i for i, t in enumerate(terms)},
        idf=idf,
        coef=coef,
        intercept=intercept,
        blend=float(blend),
        samples=int(samples) if isinstance(samples, int) else 0,
    )


# --------------------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class LabelledItem:
    text: str
    category: str
    territory: str | None
    unit: str | None
    address: str | None = None
    phone: str | None = None
    item_id: str = ""


def read_labelled(raw: bytes, source: str) -> list[LabelledItem]:
    """A labelled YAML list (text, address?, phone?, category, territory, unit)."""
    import yaml

    try:
        document = yaml.safe_load(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ModelError(f"{source}: not a readable YAML file ({exc})") from exc
    if not isinstance(document, list):
        raise ModelError(f"{source}: must be a list of labelled items")
    items = []
    problems = []
    for index, entry in enumerate(document):
        if not isinstance(entry, dict) or not isinstance(entry.get("text"), str):
            problems.append(f"{source}: [{index}]: needs a text")
            continue
        if not isinstance(entry.get("category"), str):
            problems.append(f"{source}: [{index}]: needs a category code (quoted)")
            continue
        items.append(
            LabelledItem(
                entry["text"],
                entry["category"],
                entry.get("territory"),
                entry.get("unit"),
                entry.get("address"),
                entry.get("phone"),
                str(entry.get("id", index)),
            )
        )
    if problems:
        raise ModelError("; ".join(problems))
    return items


def evaluate(
    items: Sequence[LabelledItem],
    suggest: Callable[..., Sequence[Any]],
    classify: Callable[[str], Sequence[str]] | None = None,
    locate: Callable[..., Any] | None = None,
) -> dict[str, Any]:
    """Accuracy of `suggest` (and of `classify`'s top 3, `locate`) on labelled items,
    with per-suggestion latency. `suggest(text, address, phone)` returns suggestions."""
    import time

    hits = Counter()
    timings: list[float] = []
    misses: list[dict[str, Any]] = []
    for item in items:
        start = time.perf_counter()
        suggestions = suggest(item.text, item.address, item.phone)
        timings.append(time.perf_counter() - start)
        units = [s.department for s in suggestions]
        hits["unit_top1"] += bool(units) and units[0] == item.unit
        hits["unit_top3"] += item.unit in units[:3]
        first = suggestions[0].category if suggestions else None
        hits["category_top1"] += first == item.category
        top3 = list(classify(item.text))[:3] if classify else [s.category for s in suggestions]
        hits["category_top3"] += item.category in top3
        if locate is not None:
            where = locate(item.text, item.address, item.phone)
            hits["territory"] += where.code == item.territory
            hits["district"] += (where.code or "")[:6] == (item.territory or "")[:6]
        if not units or units[0] != item.unit:
            misses.append(
                {
                    "id": item.item_id,
                    "want": (item.category, item.unit),
                    "got": (first, units[0] if units else None),
                }
            )
    n = max(len(items), 1)
    ordered = sorted(timings)
    result: dict[str, Any] = {name: round(count / n, 4) for name, count in hits.items()}
    result.update(
        items=len(items),
        p50_ms=round(ordered[len(ordered) // 2] * 1000, 3) if ordered else None,
        p95_ms=round(ordered[int(0.95 * (len(ordered) - 1))] * 1000, 3) if ordered else None,
        misses=misses,
    )
    return result


# --------------------------------------------------------------------------- from the database


def training_samples() -> tuple[list[Sample], dict[str, int]]:
    """Labelled texts from the city's history, and how many tickets were skipped and why.

    A closed ticket teaches its category when it was never sent back and its final
    unit is one the catalogue's rule allows for that category (the category's own
    unit, or a district/street government for a territorial rule). A dispatcher's
    override (RoutingDecision.overridden with a chosen category) is a strong label.
    """
    from sqlalchemy import exists, func, select

    from hotline.extensions import db
    from hotline.models import (
        Category,
        Department,
        ReturnRequest,
        RoutingDecision,
        RoutingRule,
        Ticket,
        TicketStatus,
    )
    from routing.catalogue import current_version

    version = current_version()
    skipped: Counter[str] = Counter()
    if version is None:
        return [], dict(skipped)
    rules = {
        code: (mode, unit)
        for code, mode, unit in db.session.execute(
            select(Category.code, RoutingRule.mode, Department.code)
            .join(RoutingRule.category)
            .join(RoutingRule.department)
            .where(RoutingRule.version_id == version.id)
        )
    }
    territorial = set(
        db.session.scalars(select(Department.code).where(Department.kind == "territorial"))
    )
    sent_back = exists().where(ReturnRequest.ticket_id == Ticket.id)
    rows = db.session.execute(
        select(Ticket.id, Ticket.content, Category.code, Department.code)
        .join(Category, Ticket.category_id == Category.id)
        .join(Department, Ticket.department_id == Department.id)
        .where(Ticket.status == TicketStatus.CLOSED, ~sent_back)
    ).all()
    samples: list[Sample] = []
    overridden: set[int] = set()
    decisions = db.session.execute(
        select(RoutingDecision.ticket_id, Ticket.content, Category.code)
        .join(Ticket, RoutingDecision.ticket_id == Ticket.id)
        .join(Category, RoutingDecision.chosen_category_id == Category.id)
        .where(RoutingDecision.overridden.is_(True))
        .order_by(RoutingDecision.decided_at)
    ).all()
    latest: dict[int, tuple[str, str]] = {}
    for ticket_id, content, category in decisions:
        latest[ticket_id] = (content, category)  # the last decision on a ticket wins
    for ticket_id, (content, category) in latest.items():
        if category in rules and content:
            samples.append(Sample(content, category, OVERRIDE_WEIGHT, "override"))
            overridden.add(ticket_id)
    for ticket_id, content, category, unit in rows:
        if ticket_id in overridden:
            continue
        rule = rules.get(category)
        if rule is None:
            skipped["category_not_in_catalogue"] += 1
        elif unit != rule[1] and not (rule[0] == "territorial" and unit in territorial):
            skipped["unit_disagrees_with_rule"] += 1
        elif not content:
            skipped["empty"] += 1
        else:
            samples.append(Sample(content, category))
    skipped["sent_back"] = (
        db.session.scalar(
            select(func.count())
            .select_from(Ticket)
            .where(Ticket.status == TicketStatus.CLOSED, sent_back)
        )
        or 0
    )
    return samples, dict(skipped)


def train_from_history(*, trained_by: str | None = None) -> Any:
    """Train on the city's history, store it as the next RoutingModel version, make it
    current and return the row. Raises ModelError when there is too little history."""
    from sqlalchemy import func, select, update

    from hotline.audit import record_event
    from hotline.extensions import db
    from hotline.models import RoutingModel
    from routing.suggest import Engine, current_engine, invalidate_cache

    samples, skipped = training_samples()
    engine = current_engine()
    if engine is None:
        raise ModelError("no catalogue imported yet")
    day_one = Engine(engine.data, None, segmenter=engine.segmenter)
    result = fit(samples, day_one.featurise, day_one.catalogue_probabilities)
    result.metrics["skipped"] = skipped
    result.metrics["catalogue_version"] = engine.data.catalogue_version
    latest = db.session.scalar(select(func.max(RoutingModel.version))) or 0
    db.session.execute(
        update(RoutingModel).where(RoutingModel.is_current.is_(True)).values(is_current=False)
    )
    row = RoutingModel(
        version=latest + 1,
        samples=len(samples),
        metrics=result.metrics,
        artifact=dump(result.model),
        is_current=True,
    )
    db.session.add(row)
    db.session.flush()
    record_event(
        "routing.model_trained",
        actor=None,
        note=f"version {row.version}",
        data={"version": row.version, "samples": len(samples), "trained_by": trained_by},
    )
    db.session.commit()
    invalidate_cache()
    return row
