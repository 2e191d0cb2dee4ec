"""Routing suggestions: (category, unit, territory, score, reasons), best first.

`suggest()` is what the API, the console and dispatch pre-fill call. It reads the
current catalogue version, its places and the current learned model once per process
and keeps them (an `Engine`); a cheap signature query, made at most every
`SIGNATURE_TTL` seconds, notices a new catalogue import or a retrained model from any
process. Everything after loading is pure: `Engine` works from plain data, which is how
the tests and the benchmark use it without a database.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from routing.blend import Classifier, LearnedModel
from routing.classify import CatalogueModel, Lexicon
from routing.engine_data import (
    RoutingData,
    Rule,
    data_from_document,
    load_lexicon,
    outside_places,
)
from routing.rules import RouteDecision, TerritoryInfo, route
from routing.territory import (
    Area,
    Gazetteer,
    Place,
    Resolution,
    build_gazetteer,
    resolve,
)
from routing.text import Segmenter, default_segmenter, features, normalise

COORDINATION_QUEUE = "协调队列（热线办）"
SIGNATURE_TTL = 5.0
TOP_CATEGORIES = 8  # categories with evidence that may make up a unit's score
TOP_RANKED = 24  # categories looked at in all (the rest only fill the list)
MIN_RESEMBLANCE = 0.05  # without any evidence, a category this unlike the text is no guess


@dataclass(frozen=True)
class Suggestion:
    category: str | None
    department: str | None  # None: the hotline office's coordination queue
    territory: str | None
    score: float
    reasons: tuple[str, ...]
    category_name: str | None = None
    department_name: str | None = None
    territory_name: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "department": self.department,
            "territory": self.territory,
            "score": self.score,
            "reasons": list(self.reasons),
            "category_name": self.category_name,
            "department_name": self.department_name,
            "territory_name": self.territory_name,
        }


# --------------------------------------------------------------------------- the engine


class Engine:
    """Everything needed to suggest, built once from plain data."""

    def __init__(
        self,
        data: RoutingData,
        learned: LearnedModel | None = None,
        *,
        lexicon: Lexicon | None = None,
        segmenter: Segmenter | None = None,
    ) -> None:
        self.data = data
        self.learned = learned
        self.segmenter = segmenter or default_segmenter()
        self.catalogue_model = CatalogueModel(
            data.categories, load_lexicon() if lexicon is None else lexicon
        )
        self.classifier = Classifier(self.catalogue_model, learned)
        provinces, outside = outside_places(data.city_name)
        self.gazetteer: Gazetteer = build_gazetteer(
            data.areas,
            data.places,
            outside,
            provinces=provinces,
            city_name=data.city_name,
            area_code=data.area_code,
            is_word=self.segmenter.is_word,
        )
        words = self.catalogue_model.vocabulary()
        words += [a.name for a in data.areas] + [x for a in data.areas for x in a.aliases]
        words += [p.name for p in data.places]
        self.segmenter.add_words(words)
        self.categories = {c.code: c for c in data.categories}
        # (category, territory) -> decision: the rules are fixed for this engine's life.
        self._routes: dict[tuple[str, str | None], RouteDecision] = {}
        self.areas = {a.code: a for a in data.areas}

    # ------------------------------------------------------------------ pieces

    def tokens(self, text: str) -> tuple[str, list[str]]:
        normalised = normalise(text)
        return normalised, self.segmenter.cut(normalised)

    def classify(self, text: str, *, top: int, fill: bool = True) -> tuple[list[Any], bool]:
        """The `top` categories best first, and whether anything in the text was recognised."""
        normalised, tokens = self.tokens(text)
        feats = features(normalised, tokens) if self.learned is not None else None
        return self.classifier.classify(normalised, tokens, feats, top=top, fill=fill)

    def featurise(self, text: str) -> list[str]:
        normalised, tokens = self.tokens(text)
        return features(normalised, tokens)

    def catalogue_probabilities(self, text: str) -> dict[str, float]:
        normalised, tokens = self.tokens(text)
        model = self.catalogue_model
        probs = model.probabilities(model.scores(normalised, tokens))
        return dict(zip(model.codes, probs.tolist(), strict=True))

    def locate(
        self,
        text: str,
        address: str | None = None,
        phone: str | None = None,
        lat: float | None = None,
        lng: float | None = None,
    ) -> Resolution:
        return resolve(
            self.gazetteer,
            text,
            address=address,
            area_code=_area_code(phone),
            lat=lat,
            lng=lng,
        )

    def chain(self, code: str | None) -> list[TerritoryInfo]:
        if code is None or code not in self.areas:
            return []
        area = self.areas[code]
        links = [area] if area.parent is None else [self.areas[area.parent], area]
        return [TerritoryInfo(a.code, a.name, a.level) for a in links]

    def territory_name(self, code: str | None) -> str | None:
        if code is None or code not in self.areas:
            return None
        return " ".join(t.name for t in self.chain(code))

    # ------------------------------------------------------------------ suggest

    def suggest(
        self,
        text: str,
        address: str | None = None,
        phone: str | None = None,
        lat: float | None = None,
        lng: float | None = None,
        *,
        limit: int = 3,
    ) -> list[Suggestion]:
        ranked, found = self.classify(text, top=TOP_RANKED)
        where = self.locate(text, address, phone, lat, lng)
        place_reasons = _place_reasons(where)

        options: list[tuple[str | None, float]]
        if where.code is not None:
            options = [(where.code, 1.0)]
        elif where.ambiguous:
            share = 1.0 / len(where.ambiguous)
            options = [(c.code, share) for c in where.ambiguous]
        else:
            options = [(None, 1.0)]

        units: dict[str | None, dict[str, Any]] = {}
        if not found:
            units[None] = {
                "rank": -1,
                "score": 0.0,
                "category": None,
                "territory": where.code,
                "reasons": ["未识别出诉求分类 → " + COORDINATION_QUEUE, *place_reasons],
                "best": 1.0,
                "like": 0.0,
            }
        # Units add up the categories the text points to. Categories nothing points to
        # only fill the list after them, those whose words the text most resembles first
        # (without evidence, only ones it resembles at all).
        pointed = [c for c in ranked[:TOP_CATEGORIES] if c.evidence or c.learned]
        fillers = [c for c in ranked if not (c.evidence or c.learned)]
        if not found:
            fillers = [c for c in fillers if c.resemblance >= MIN_RESEMBLANCE]
        for rank, group in enumerate((pointed, fillers)):
            for scored in group:
                if rank == 1 and len(units) >= limit:
                    break  # fillers come most resembling first: the rest would not show
                rule = self.data.rules.get(scored.code)
                for territory, share in options:
                    weight = scored.probability * share
                    decision = self._route(scored.code, rule, territory)
                    unit = decision.department_code if decision else None
                    entry = units.get(unit)
                    if entry is None:
                        entry = units[unit] = {
                            "rank": rank,
                            "score": 0.0,
                            "best": -1.0,
                            "like": scored.resemblance * share,
                        }
                    if entry["rank"] != rank:
                        continue  # a unit already pointed to keeps its evidence-only score
                    if rank == 1 and entry["best"] >= 0:
                        continue  # a filler unit: its most resembling category alone
                    entry["score"] += weight
                    if weight > entry["best"]:
                        entry["best"] = weight
                        entry["category"] = scored.code
                        entry["territory"] = territory if territory is not None else where.code
                        entry["reasons"] = [
                            self._category_reason(scored.code, scored.evidence, scored.resemblance),
                            *(decision.reasons if decision else [_no_rule(scored.code)]),
                            *place_reasons,
                        ]
        order = sorted(
            units.items(),
            key=lambda item: (
                item[1]["rank"],
                -item[1]["score"] if item[1]["rank"] == 0 else -item[1]["like"],
            ),
        )
        suggestions = []
        ceiling = 1.0  # a filler never shows a higher score than what precedes it
        for unit, entry in order[:limit]:
            if entry["rank"] > 0:
                entry["score"] = min(entry["score"], ceiling)
            ceiling = entry["score"] if entry["rank"] >= 0 else ceiling
            category = entry["category"]
            territory = entry["territory"]
            suggestions.append(
                Suggestion(
                    category=category,
                    department=unit,
                    territory=territory,
                    score=round(entry["score"], 4),
                    reasons=tuple(entry["reasons"]),
                    category_name=self.categories[category].name if category else None,
                    department_name=self.data.unit_names.get(unit) if unit else COORDINATION_QUEUE,
                    territory_name=self.territory_name(territory),
                )
            )
        return suggestions

    def _route(
        self, category: str, rule: Rule | None, territory: str | None
    ) -> RouteDecision | None:
        if rule is None:
            return None
        key = (category, territory)
        decision = self._routes.get(key)
        if decision is None:
            decision = self._routes[key] = self._apply(category, rule, territory)
        return decision

    def _apply(self, category: str, rule: Rule, territory: str | None) -> RouteDecision:
        chain = self.chain(territory)
        units = {t.code: self.data.units[t.code] for t in chain if t.code in self.data.units}
        return route(
            rule.mode,
            rule.department,
            rule.territory_level,
            chain,
            units,
            category_code=category,
            unit_names=self.data.unit_names,
        )

    def _category_reason(self, code: str, evidence: Sequence[str], like: float = 0.0) -> str:
        name = self.categories[code].name
        if evidence:
            shown = "、".join(evidence[:4])
        elif like > 0:
            shown = f"无直接关键词，字面与本分类用词相近（{like:.2f}）"
        else:
            shown = "无直接关键词，按模型概率"
        return f"诉求分类 {code} {name}：{shown}"


def _no_rule(category: str) -> str:
    return f"分类 {category} 在现行权责清单中无派单规则 → {COORDINATION_QUEUE}"


def _place_reasons(where: Resolution) -> list[str]:
    labels = {"address": "地址栏", "text": "诉求描述", "geo": "坐标", "phone": "来电号码"}
    reasons = []
    if where.source in ("address", "text") and where.matched:
        words = "、".join(f"“{w}”" for w in where.matched)
        reasons.append(f"地点依据：{labels[where.source]}{words}")
    reasons.extend(where.notes)
    if where.source is None and not where.notes and not where.ambiguous:
        reasons.append("未能确定事发地点")
    return reasons


def _area_code(phone: str | None) -> str | None:
    if not phone:
        return None
    from hotline.phones import parse_phone

    info = parse_phone(phone)
    return info.area_code if info.kind == "landline" else None


# --------------------------------------------------------------------------- the service


_lock = threading.Lock()
# (app, signature, engine, checked at): the engine of one app, re-validated against the
# database signature at most every SIGNATURE_TTL seconds.
_cached: tuple[int, tuple[Any, ...], Engine | None, float] | None = None


def invalidate_cache() -> None:
    """Forget the loaded engine; the next call reads the database again."""
    global _cached
    _cached = None


def _signature() -> tuple[Any, ...]:
    from sqlalchemy import func, select

    from hotline.extensions import db
    from hotline.models import CatalogueVersion, RoutingModel, TerritoryPlace

    catalogue = db.session.execute(
        select(CatalogueVersion.id, CatalogueVersion.number, CatalogueVersion.imported_at).where(
            CatalogueVersion.is_current.is_(True)
        )
    ).first()
    model = db.session.execute(
        select(RoutingModel.version, RoutingModel.trained_at).where(
            RoutingModel.is_current.is_(True)
        )
    ).first()
    places = db.session.execute(
        select(func.count(TerritoryPlace.id), func.max(TerritoryPlace.id))
    ).one()
    return (
        str(db.engine.url),
        tuple(map(str, catalogue)) if catalogue else None,
        tuple(map(str, model)) if model else None,
        tuple(places),
    )


def current_engine() -> Engine | None:
    """The engine for the current catalogue and model (None before any catalogue import)."""
    global _cached
    from flask import current_app

    from hotline.extensions import db

    app = id(current_app._get_current_object())
    cached = _cached
    now = time.monotonic()
    if cached is not None and cached[0] == app and now - cached[3] < SIGNATURE_TTL:
        return cached[2]
    with db.session.no_autoflush:
        signature = _signature()
    if cached is not None and cached[0] == app and cached[1] == signature:
        _cached = (app, signature, cached[2], now)
        return cached[2]
    with _lock:
        engine = _load_engine() if signature[1] is not None else None
        _cached = (app, signature, engine, time.monotonic())
    return engine


def _load_engine() -> Engine:
    from sqlalchemy import select
    from sqlalchemy.orm import selectinload

    from hotline.extensions import db
    from hotline.models import RoutingModel, Territory, TerritoryPlace
    from routing.catalogue import current_version
    from routing.model import ModelError, load

    version = current_version()
    assert version is not None
    data = data_from_document(version.document, version=version.number)
    # Coordinates and places live in the tables (the import fills them from the file
    # and its places sidecar); aliases as the document has them.
    rows = {
        t.code: t
        for t in db.session.scalars(
            select(Territory).options(selectinload(Territory.aliases)).where(Territory.active)
        )
    }
    data.areas = [
        Area(a.code, a.name, a.level, a.parent, a.aliases, rows[a.code].lat, rows[a.code].lng)
        if a.code in rows
        else a
        for a in data.areas
    ]
    codes = {t.id: t.code for t in rows.values()}
    data.places = [
        Place(p.name, codes[p.territory_id], p.kind, p.lat, p.lng)
        for p in db.session.scalars(select(TerritoryPlace))
        if p.territory_id in codes
    ]
    learned = None
    row = db.session.scalar(select(RoutingModel).where(RoutingModel.is_current.is_(True)))
    if row is not None:
        try:
            learned = load(row.artifact, version=row.version)
        except ModelError:
            import logging

            logging.getLogger(__name__).exception(
                "routing model version %s is unusable; using the catalogue model", row.version
            )
    engine = Engine(data, learned)
    _area_code("0750-3000000")  # load the phone metadata now, not in the first request
    return engine


def suggest(
    text: str,
    address: str | None = None,
    phone: str | None = None,
    lat: float | None = None,
    lng: float | None = None,
    *,
    limit: int = 3,
) -> list[Suggestion]:
    """Best-first routing suggestions for a request (needs an app context).

    Before any catalogue is imported there is nothing to route by: the only suggestion
    is the coordination queue.
    """
    engine = current_engine()
    if engine is None:
        return [
            Suggestion(
                None,
                None,
                None,
                0.0,
                ("尚未导入权责清单 → " + COORDINATION_QUEUE,),
                department_name=COORDINATION_QUEUE,
            )
        ]
    return engine.suggest(text, address, phone, lat, lng, limit=limit)


def versions() -> tuple[int | None, int | None]:
    """(catalogue version, model version) that `suggest` currently uses."""
    engine = current_engine()
    if engine is None:
        return None, None
    return engine.data.catalogue_version, engine.learned.version if engine.learned else None


def likely_categories(
    text: str, top: int = 3, engine: Engine | None = None
) -> list[tuple[str, float]]:
    """The categories the text points to, best first, with their probabilities; none
    when nothing in it is recognised (the knowledge base uses this to understand
    colloquial questions the way routing does). Given an `engine` (from
    `current_engine()`), it reads no database and needs no app context."""
    engine = engine or current_engine()
    if engine is None:
        return []
    ranked, found = engine.classify(text, top=top, fill=False)
    if not found:
        return []
    return [(c.code, c.probability) for c in ranked if c.evidence or c.learned]
