"""What routing needs from a catalogue version, as plain values: rules, territories,
places, the lexicon and the places outside the city."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from routing.classify import CategoryInfo, Lexicon
from routing.territory import Area, OutsidePlace, Place
from routing.text import normalise

DATA = Path(__file__).resolve().parent / "data"
LEXICON = DATA / "lexicon.yaml"
OUTSIDE = DATA / "outside_places.yaml"


@dataclass(frozen=True)
class Rule:
    mode: str
    department: str
    territory_level: str = "district"


@dataclass
class RoutingData:
    """What routing needs from a catalogue version, as plain values."""

    areas: list[Area]
    categories: list[CategoryInfo]
    rules: dict[str, Rule]
    units: dict[str, str]  # territory code -> its government unit (属地单位)
    unit_names: dict[str, str]  # unit code -> short name
    places: list[Place] = field(default_factory=list)
    city_name: str = ""
    area_code: str | None = None
    catalogue_version: int | None = None


# --------------------------------------------------------------------------- data


def data_from_document(
    document: Mapping[str, Any],
    places_document: Mapping[str, Any] | None = None,
    *,
    version: int | None = None,
) -> RoutingData:
    """Routing data from a parsed catalogue (and its optional places sidecar)."""
    sidecar = {str(t["code"]): t for t in (places_document or {}).get("territories", [])}
    areas: list[Area] = []
    places: list[Place] = []

    def area(entry: Mapping[str, Any], level: int, parent: str | None) -> None:
        code = str(entry["code"])
        extra = sidecar.get(code, {})
        lat = entry.get("lat", extra.get("lat"))
        lng = entry.get("lng", extra.get("lng"))
        areas.append(
            Area(code, entry["name"], level, parent, tuple(entry.get("aliases", [])), lat, lng)
        )
        for raw in [*entry.get("places", []), *extra.get("places", [])]:
            places.append(_place(raw, code))

    for top in document.get("territories", []):
        area(top, 1, None)
        for child in top.get("children", []):
            area(child, 2, str(top["code"]))
    categories: list[CategoryInfo] = []
    rules: dict[str, Rule] = {}
    for first in document.get("categories", []):
        for child in first.get("children", []):
            categories.append(
                CategoryInfo(
                    child["code"],
                    child["name"],
                    child.get("description"),
                    tuple(child.get("keywords", [])),
                    first.get("name"),
                )
            )
            rules[child["code"]] = Rule(
                child["routing"], child["department"], child.get("territory_level", "district")
            )
    units = {
        d["territory"]: d["code"]
        for d in document.get("departments", [])
        if d.get("kind") == "territorial" and d.get("territory")
    }
    names = {d["code"]: d.get("short") or d["name"] for d in document.get("departments", [])}
    city = document.get("city", {})
    return RoutingData(
        areas,
        categories,
        rules,
        units,
        names,
        places,
        city.get("name", ""),
        city.get("area_code"),
        version,
    )


def _place(raw: Any, territory: str) -> Place:
    if isinstance(raw, str):
        return Place(raw, territory)
    kind = raw.get("kind", "landmark")
    return Place(raw["name"], territory, kind, raw.get("lat"), raw.get("lng"))


@cache
def load_lexicon() -> Lexicon:
    return Lexicon.from_document(yaml.safe_load(LEXICON.read_text(encoding="utf-8")))


@cache
def _outside_document() -> dict[str, Any]:
    return yaml.safe_load(OUTSIDE.read_text(encoding="utf-8"))


MUNICIPALITIES = ("北京", "天津", "上海", "重庆", "香港", "澳门", "台湾")


def outside_places(city_name: str) -> tuple[tuple[str, ...], tuple[OutsidePlace, ...]]:
    """Provinces and cities outside `city_name` (its own name and province left out)."""
    document = _outside_document()
    own = normalise(city_name).removesuffix("市")
    places_by_province: dict[str, list[str]] = document.get("places") or {}
    own_province = next(
        (p.removesuffix("省") for p, names in places_by_province.items() if own in names), None
    )
    provinces: list[str] = []
    for name in document.get("provinces", []):
        bare = name.removesuffix("省")
        if bare == own_province:
            continue
        provinces.append(name)
        if bare == name and bare not in MUNICIPALITIES:
            provinces.append(name + "省")
        elif bare == name:
            provinces.append(name + "市")
    places: list[OutsidePlace] = []
    for province, names in places_by_province.items():
        for name in names:
            if name == own:
                continue
            for spelling in (name, name + "市", province.removesuffix("省") + name):
                places.append(OutsidePlace(spelling, province.removesuffix("省")))
    return tuple(provinces), tuple(places)
