"""Where a request happened: territory resolution from address, text, coordinates and phone.

Pure: plain catalogue data in, a `Resolution` out; no app, no database.

Evidence, strongest first: the address field, the description text, lat/lng (nearest
territory centre), the caller's landline area code (which only says "in the city").
Names are matched longest first: official names (白沙街道, 台山市), the aliases the
catalogue lists (台城), places the city lists (villages, landmarks, roads), and the
bare stem of a street/town name the catalogue did *not* list as an alias (白沙, 长沙,
东成). A name shared by several territories, or by a territory and a place outside the
city (长沙 in 湖南), is settled only by the district (or province) also named;
otherwise every candidate is reported and none is chosen.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from routing.text import normalise

# How a name was found, strongest first.
NAME, ALIAS, PLACE, STEM, OUTSIDE = "name", "alias", "place", "stem", "outside"
SUFFIXES = ("街道办事处", "街道办", "街道", "镇", "乡", "区", "市", "县")
# Nearest-centre lookups farther than this from every centre are not in the city.
MAX_GEO_KM = 35.0


@dataclass(frozen=True)
class Area:
    """One territory of the catalogue: level 1 district/county city, 2 street/town."""

    code: str
    name: str
    level: int
    parent: str | None = None
    aliases: tuple[str, ...] = ()
    lat: float | None = None
    lng: float | None = None


@dataclass(frozen=True)
class Place:
    """A village, landmark, road or community inside one territory."""

    name: str
    territory: str
    kind: str = "landmark"
    lat: float | None = None
    lng: float | None = None


@dataclass(frozen=True)
class OutsidePlace:
    """A place outside the city whose name a territory's name could be mistaken for."""

    name: str
    province: str | None = None


@dataclass(frozen=True)
class Candidate:
    code: str | None  # None: a place outside the city
    label: str


@dataclass(frozen=True)
class Resolution:
    """The most specific territory found, how, and what stayed ambiguous."""

    code: str | None
    level: int  # 2 street/town, 1 district, 0 none
    source: str | None  # address | text | geo | phone | None
    matched: tuple[str, ...] = ()
    ambiguous: tuple[Candidate, ...] = ()
    in_city: bool | None = None  # False: only places outside the city were named
    notes: tuple[str, ...] = ()


NOWHERE = Resolution(None, 0, None)


@dataclass(frozen=True)
class _Entry:
    kind: str
    code: str | None  # territory code; None for outside places
    province: str | None = None
    label: str | None = None


@dataclass
class _Mention:
    word: str
    start: int
    entries: list[_Entry]
    weight: float
    field: str  # address | text


@dataclass
class Gazetteer:
    """Every name that locates a request, by normalised spelling."""

    areas: dict[str, Area]
    names: dict[str, list[_Entry]] = field(default_factory=dict)
    provinces: frozenset[str] = frozenset()
    starts: dict[str, list[int]] = field(default_factory=dict)
    centres: list[tuple[str, float, float]] = field(default_factory=list)
    city_name: str = ""
    area_code: str | None = None
    is_word: Callable[[str], bool] | None = None

    def district_of(self, code: str) -> str:
        area = self.areas[code]
        return area.parent if area.parent else area.code

    def label(self, code: str) -> str:
        area = self.areas[code]
        if area.parent:
            return self.areas[area.parent].name + area.name
        return area.name


def build_gazetteer(
    areas: Iterable[Area],
    places: Iterable[Place] = (),
    outside: Iterable[OutsidePlace] = (),
    *,
    provinces: Iterable[str] = (),
    city_name: str = "",
    area_code: str | None = None,
    is_word: Callable[[str], bool] | None = None,
) -> Gazetteer:
    """Index names, aliases, stems and places. `is_word` (jieba's dictionary) lets a short
    alias inside a longer common word (排水口, 共和国, 三合一) be ignored."""
    by_code = {a.code: a for a in areas}
    gazetteer = Gazetteer(by_code, city_name=city_name, area_code=area_code, is_word=is_word)
    listed: dict[str, list[_Entry]] = {}

    def add(word: str, entry: _Entry) -> None:
        word = normalise(word)
        if len(word) < 2:
            return
        entries = listed.setdefault(word, [])
        if all((e.kind, e.code) != (entry.kind, entry.code) for e in entries):
            entries.append(entry)

    for area in by_code.values():
        add(area.name, _Entry(NAME, area.code))
        if area.level == 2 and area.name.endswith("街道"):
            add(area.name[:-1], _Entry(NAME, area.code))  # 白沙街道 -> 白沙街
        for alias in area.aliases:
            add(alias, _Entry(ALIAS, area.code))
        stem = _stem(area.name)
        if stem and stem not in area.aliases:
            add(stem, _Entry(STEM, area.code))

    # Street/town centres (and places) locate coordinates; a district's own centre only
    # when none of its streets has one (it sits on its seat street anyway).
    located = {a.parent for a in by_code.values() if a.parent and a.lat is not None}
    for area in by_code.values():
        if area.lat is None or area.lng is None or area.code in located:
            continue
        gazetteer.centres.append((area.code, area.lat, area.lng))
    for place in places:
        if place.territory in by_code:
            add(place.name, _Entry(PLACE, place.territory))
            if place.lat is not None and place.lng is not None:
                gazetteer.centres.append((place.territory, place.lat, place.lng))
    province_names = set()
    for province in provinces:
        province_names.add(normalise(province))
        add(province, _Entry(OUTSIDE, None, normalise(province), province))
    for other in outside:
        label = (other.province or "") + other.name
        add(other.name, _Entry(OUTSIDE, None, normalise(other.province or other.name), label))
    # A name is the city's own only when no territory claims it: "江门" is not outside.
    if city_name:
        listed.pop(normalise(city_name), None)
        listed.pop(normalise(city_name).rstrip("市"), None)
    gazetteer.names = listed
    gazetteer.provinces = frozenset(province_names)
    starts: dict[str, set[int]] = {}
    for word in listed:
        starts.setdefault(word[0], set()).add(len(word))
    gazetteer.starts = {c: sorted(ls, reverse=True) for c, ls in starts.items()}
    return gazetteer


def _stem(name: str) -> str | None:
    for suffix in SUFFIXES:
        if name.endswith(suffix) and len(name) - len(suffix) >= 2:
            return name[: -len(suffix)]
    return None


# --------------------------------------------------------------------------- matching


def find_mentions(gazetteer: Gazetteer, text: str) -> list[tuple[str, int, list[_Entry]]]:
    """Non-overlapping names in normalised `text`, longest first: (word, start, entries)."""
    found: list[tuple[int, int, str]] = []
    names, starts = gazetteer.names, gazetteer.starts
    for start, char in enumerate(text):
        for length in starts.get(char, ()):
            word = text[start : start + length]
            if word in names and len(word) == length:
                found.append((-length, start, word))
    found.sort()
    taken: list[tuple[int, int]] = []
    result = []
    for negative, start, word in found:
        end = start - negative
        if any(start < b and a < end for a, b in taken):
            continue
        entries = names[word]
        if _inside_common_word(gazetteer, text, start, end, entries):
            continue
        taken.append((start, end))
        result.append((word, start, entries))
    result.sort(key=lambda item: item[1])
    return result


def _inside_common_word(
    gazetteer: Gazetteer, text: str, start: int, end: int, entries: list[_Entry]
) -> bool:
    """A short alias or stem that is only part of an ordinary word (排水口 ⊃ 水口)."""
    if gazetteer.is_word is None or end - start > 2:
        return False
    if any(e.kind in (NAME, PLACE) for e in entries):
        return False
    for before in range(0, 3):
        for after in range(0, 3):
            if before == after == 0 or start - before < 0 or end + after > len(text):
                continue
            window = text[start - before : end + after]
            if window not in gazetteer.names and gazetteer.is_word(window):
                return True
    return False


# --------------------------------------------------------------------------- resolving


def resolve(
    gazetteer: Gazetteer,
    text: str = "",
    *,
    address: str | None = None,
    area_code: str | None = None,
    lat: float | None = None,
    lng: float | None = None,
) -> Resolution:
    """The territory of a request. The address field outranks the text (a name in the
    address weighs ten times one in the text); text may refine an address to a street
    of the same district, and coordinates refine a district to its nearest street."""
    mentions: list[_Mention] = []
    for field_name, raw, weight in (("address", address, 10.0), ("text", text, 1.0)):
        if raw:
            for word, start, entries in find_mentions(gazetteer, normalise(raw)):
                mentions.append(_Mention(word, start, entries, weight, field_name))

    named = _from_mentions(gazetteer, mentions)
    notes = list(named.notes)
    if lat is not None and lng is not None:
        near = nearest(gazetteer, lat, lng)
        if near is not None:
            code, km = near
            if named.code is None and named.in_city is not False and not named.ambiguous:
                return Resolution(
                    code,
                    gazetteer.areas[code].level,
                    "geo",
                    (f"{lat:.4f},{lng:.4f}",),
                    in_city=True,
                    notes=(*notes, f"坐标最近：{gazetteer.label(code)}（约 {km:.1f} 公里）"),
                )
            if (
                named.code is not None
                and named.level == 1
                and gazetteer.district_of(code) == named.code
                and code != named.code
            ):
                return Resolution(
                    code,
                    2,
                    named.source,
                    (*named.matched, f"{lat:.4f},{lng:.4f}"),
                    named.ambiguous,
                    True,
                    (*notes, f"坐标细化到 {gazetteer.label(code)}（约 {km:.1f} 公里）"),
                )
    if named.code is not None or named.ambiguous or named.in_city is False:
        return named

    if area_code:
        if gazetteer.area_code and area_code == gazetteer.area_code:
            return Resolution(
                None,
                0,
                "phone",
                (area_code,),
                in_city=True,
                notes=(
                    *notes,
                    f"来电区号 {area_code}：{gazetteer.city_name}市内固话，区（市）不明",
                ),
            )
        notes.append(f"来电区号 {area_code}：市外固话（不代表事发地）")
    return Resolution(None, 0, None, named.matched, in_city=named.in_city, notes=tuple(notes))


def _from_mentions(gazetteer: Gazetteer, mentions: Sequence[_Mention]) -> Resolution:
    if not mentions:
        return NOWHERE
    # Districts (and provinces) that the unambiguous, trusted mentions vouch for.
    district_votes: dict[str, float] = {}
    provinces: set[str] = set()
    for mention in mentions:
        # Only a name that means one territory vouches: a homonym cannot settle itself.
        codes = {e.code for e in mention.entries if e.code}
        outside = [e for e in mention.entries if e.kind == OUTSIDE]
        trusted = any(e.kind != STEM for e in mention.entries)
        if len(codes) == 1 and not outside and trusted:
            district = gazetteer.district_of(codes.pop())
            district_votes[district] = district_votes.get(district, 0.0) + mention.weight
        if outside and len(mention.entries) == len(outside):
            provinces.update(e.province for e in outside if e.province)

    resolved: list[tuple[_Mention, str]] = []
    ambiguous: list[Candidate] = []
    outside_words: list[str] = []
    for mention in mentions:
        choice, candidates = _settle(gazetteer, mention.entries, district_votes, provinces)
        if choice is not None:
            resolved.append((mention, choice))
        elif candidates:
            ambiguous.extend(c for c in candidates if c not in ambiguous)
        else:
            outside_words.append(mention.word)

    notes: list[str] = []
    if not resolved:
        if ambiguous:
            words = "、".join(dict.fromkeys(m.word for m in mentions))
            labels = "、".join(c.label for c in ambiguous)
            return Resolution(
                None,
                0,
                None,
                tuple(dict.fromkeys(m.word for m in mentions)),
                tuple(ambiguous),
                None,
                (f"“{words}”有同名地点：{labels}，未注明所属区（市），请核实",),
            )
        return Resolution(
            None,
            0,
            None,
            tuple(outside_words),
            in_city=False,
            notes=(f"仅提及市外地点：{'、'.join(outside_words)}",),
        )

    # Pick the district with the most weight, then its most-mentioned street.
    weight: dict[str, float] = {}
    first: dict[str, int] = {}
    for order, (mention, code) in enumerate(resolved):
        district = gazetteer.district_of(code)
        weight[district] = weight.get(district, 0.0) + mention.weight
        first.setdefault(district, order)
    district = max(weight, key=lambda d: (weight[d], -first[d]))
    streets: dict[str, float] = {}
    street_first: dict[str, int] = {}
    for order, (mention, code) in enumerate(resolved):
        if code != district and gazetteer.district_of(code) == district:
            streets[code] = streets.get(code, 0.0) + mention.weight
            street_first.setdefault(code, order)
    code = max(streets, key=lambda s: (streets[s], -street_first[s])) if streets else district
    used = [m for m, c in resolved if c in (code, district)]
    source = "address" if any(m.field == "address" for m in used) else "text"
    others = [gazetteer.label(c) for _, c in resolved if gazetteer.district_of(c) != district]
    if others:
        notes.append("另提及：" + "、".join(dict.fromkeys(others)))
    if ambiguous:
        notes.append("另有同名地点未采用：" + "、".join(c.label for c in ambiguous))
    return Resolution(
        code,
        gazetteer.areas[code].level,
        source,
        tuple(dict.fromkeys(m.word for m in used)),
        (),
        True,
        tuple(notes),
    )


def _settle(
    gazetteer: Gazetteer,
    entries: Sequence[_Entry],
    district_votes: Mapping[str, float],
    provinces: set[str],
) -> tuple[str | None, list[Candidate]]:
    """One mention's territory, or its candidates when the name alone cannot tell."""
    inside = [e for e in entries if e.code is not None]
    outside = [e for e in entries if e.code is None]
    codes = list(dict.fromkeys(e.code for e in inside if e.code))
    if not codes:
        return None, []
    supported = [c for c in codes if gazetteer.district_of(c) in district_votes]
    outside_supported = any(e.province in provinces for e in outside)
    strong = [e for e in inside if e.kind != STEM]
    if len(codes) == 1 and not outside and strong:
        return codes[0], []
    if len(supported) == 1 and not outside_supported:
        return supported[0], []
    if outside_supported and not supported:
        return None, []
    candidates = [Candidate(c, gazetteer.label(c)) for c in codes]
    candidates += [Candidate(None, f"{e.label}（市外）") for e in outside]
    return None, candidates


def nearest(gazetteer: Gazetteer, lat: float, lng: float) -> tuple[str, float] | None:
    """The territory whose centre (or listed place) is nearest, with the distance in km."""
    best: tuple[str, float] | None = None
    for code, c_lat, c_lng in gazetteer.centres:
        km = _km(lat, lng, c_lat, c_lng)
        if best is None or km < best[1]:
            best = (code, km)
    if best is None or best[1] > MAX_GEO_KM:
        return None
    return best


def _km(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(h))
