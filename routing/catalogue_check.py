"""Validate a parsed responsibility catalogue, reporting every problem with its location."""

from __future__ import annotations

import re
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from hotline.models.enums import HotlineStatus, RoutingMode
from routing.rules import TERRITORY_LEVELS

TOP_KINDS = ("district", "county_city")
CHILD_KINDS = ("subdistrict", "town")
DEPARTMENT_LEVELS = ("city", "district", "street")
DEPARTMENT_KINDS = ("department", "territorial", "utility", "mass_org")
ROUTING_MODES = tuple(mode.value for mode in RoutingMode)
HOTLINE_STATUSES = tuple(status.value for status in HotlineStatus)
PLACE_KINDS = ("landmark", "village", "road", "community", "area")

_ADCODE = re.compile(r"\d{6}")
_CHILD_CODE = re.compile(r"\d{9}")
_CATEGORY_L1 = re.compile(r"\d{2}")
_CATEGORY_L2 = re.compile(r"\d{4}")
_DIGITS = re.compile(r"[0-9][0-9-]*")
_UNIT_CODE = re.compile(r"\S+")


def _at(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


class _Checker:
    """Collects every problem of one document instead of stopping at the first."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[str] = []

    def add(self, where: str, message: str) -> None:
        self.problems.append(
            f"{self.source}: {where}: {message}" if where else f"{self.source}: {message}"
        )

    def mapping(self, value: Any, where: str) -> dict[str, Any] | None:
        if isinstance(value, dict):
            return value
        self.add(where, "must be a mapping")
        return None

    def entries(self, value: Any, where: str, *, non_empty: bool = False) -> list[Any]:
        if not isinstance(value, list):
            self.add(where, "must be a list")
            return []
        if non_empty and not value:
            self.add(where, "must not be empty")
        return value

    def fields(
        self,
        entry: dict[str, Any],
        where: str,
        required: tuple[str, ...],
        optional: tuple[str, ...],
    ) -> None:
        for key in required:
            if key not in entry:
                self.add(_at(where, key), "required field is missing")
        for key in entry:
            if key not in required and key not in optional:
                self.add(_at(where, key), "unknown field")

    def text(
        self,
        entry: dict[str, Any],
        key: str,
        where: str,
        *,
        max_length: int | None = None,
        pattern: re.Pattern[str] | None = None,
        expected: str = "",
    ) -> str | None:
        """The field as a string, or None (missing fields are reported by `fields`)."""
        if key not in entry:
            return None
        value = entry[key]
        at = _at(where, key)
        if not isinstance(value, str):
            hint = " (quote it)" if isinstance(value, int | float) else ""
            self.add(at, f"must be a string{hint}, got {value!r}")
            return None
        if not value.strip():
            self.add(at, "must not be empty")
            return None
        if max_length is not None and len(value) > max_length:
            self.add(at, f"longer than {max_length} characters")
            return None
        if pattern is not None and not pattern.fullmatch(value):
            self.add(at, f"{value!r} is not {expected}")
            return None
        return value

    def choice(
        self, entry: dict[str, Any], key: str, where: str, allowed: tuple[str, ...]
    ) -> str | None:
        if key not in entry:
            return None
        value = entry[key]
        if value not in allowed:
            self.add(_at(where, key), f"{value!r} is not one of {', '.join(allowed)}")
            return None
        return str(value)

    def strings(self, entry: dict[str, Any], key: str, where: str) -> list[str]:
        if key not in entry:
            return []
        value = entry[key]
        at = _at(where, key)
        if not isinstance(value, list):
            self.add(at, "must be a list of strings")
            return []
        good: list[str] = []
        for index, item in enumerate(value):
            if isinstance(item, str) and item.strip():
                good.append(item)
            else:
                self.add(f"{at}[{index}]", f"must be a non-empty string, got {item!r}")
        return good

    def number(self, entry: dict[str, Any], key: str, where: str, low: float, high: float) -> None:
        if key not in entry:
            return
        value = entry[key]
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not low <= value <= high
        ):
            self.add(_at(where, key), f"must be a number between {low:g} and {high:g}")

    def unique(self, seen: dict[str, str], code: str | None, where: str, what: str) -> None:
        if code is None:
            return
        if code in seen:
            self.add(where, f"duplicate {what} '{code}' (also at {seen[code]})")
        else:
            seen[code] = where


def validate_catalogue(document: dict[str, Any], source: str) -> list[str]:
    """Return every problem of a parsed catalogue, each as "source: location: message"."""
    check = _Checker(source)
    if check.mapping(document, "") is None:
        return check.problems
    check.fields(
        document,
        "",
        ("city", "territories", "departments", "categories"),
        ("unified_hotline", "hotlines"),
    )
    _check_city(check, document)
    if "unified_hotline" in document:
        check.text(document, "unified_hotline", "", pattern=_DIGITS, expected="a phone number")
    # A missing section is reported once above; references into it are then not checked.
    top_codes: set[str] | None = None
    child_codes: set[str] = set()
    if "territories" in document:
        top_codes, child_codes = _check_territories(check, document["territories"])
    department_codes: set[str] | None = None
    if "departments" in document:
        department_codes = _check_departments(
            check, document["departments"], top_codes, child_codes
        )
    second_level: set[str] | None = None
    if "categories" in document:
        second_level = _check_categories(check, document["categories"], department_codes)
    if "hotlines" in document:
        _check_hotlines(check, document["hotlines"], department_codes, second_level)
    return check.problems


def _check_city(check: _Checker, document: dict[str, Any]) -> None:
    if "city" not in document:
        return
    city = check.mapping(document["city"], "city")
    if city is None:
        return
    check.fields(city, "city", ("name", "adcode"), ("area_code", "timezone"))
    check.text(city, "name", "city", max_length=64)
    check.text(city, "adcode", "city", pattern=_ADCODE, expected="a 6-digit division code")
    check.text(city, "area_code", "city", pattern=re.compile(r"\d{3,4}"), expected="an area code")
    timezone = check.text(city, "timezone", "city")
    if timezone is not None:
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            check.add("city.timezone", f"unknown time zone {timezone!r}")


def _check_territories(check: _Checker, value: Any) -> tuple[set[str], set[str]]:
    """Check districts and their streets/towns; return the valid top-level and child codes."""
    seen: dict[str, str] = {}
    top_codes: set[str] = set()
    child_codes: set[str] = set()
    named: dict[str, list[tuple[str, str]]] = {}  # name -> [(location, label)]
    aliases: list[tuple[str, str, str]] = []  # (alias location, owner location, alias)

    def common(entry: dict[str, Any], where: str, kinds: tuple[str, ...], code: str | None) -> None:
        name = check.text(entry, "name", where, max_length=64)
        check.choice(entry, "kind", where, kinds)
        check.number(entry, "lat", where, -90, 90)
        check.number(entry, "lng", where, -180, 180)
        check.unique(seen, code, f"{where}.code", "territory code")
        if name is not None:
            named.setdefault(name, []).append((where, code or where))
        listed: set[str] = set()
        for index, alias in enumerate(check.strings(entry, "aliases", where)):
            at = f"{where}.aliases[{index}]"
            if len(alias) > 64:
                check.add(at, "longer than 64 characters")
            elif alias in listed:
                check.add(at, f"alias '{alias}' is listed twice")
            listed.add(alias)
            aliases.append((at, where, alias))

    for index, raw in enumerate(check.entries(value, "territories", non_empty=True)):
        where = f"territories[{index}]"
        entry = check.mapping(raw, where)
        if entry is None:
            continue
        check.fields(
            entry, where, ("code", "name", "kind"), ("aliases", "children", "lat", "lng", "places")
        )
        _check_places(check, entry, where)
        code = check.text(entry, "code", where, pattern=_ADCODE, expected="a 6-digit division code")
        common(entry, where, TOP_KINDS, code)
        if code is not None:
            top_codes.add(code)
        children = check.entries(entry.get("children", []), f"{where}.children")
        for child_index, child_raw in enumerate(children):
            child_where = f"{where}.children[{child_index}]"
            child = check.mapping(child_raw, child_where)
            if child is None:
                continue
            check.fields(
                child, child_where, ("code", "name", "kind"), ("aliases", "lat", "lng", "places")
            )
            _check_places(check, child, child_where)
            child_code = check.text(
                child, "code", child_where, pattern=_CHILD_CODE, expected="a 9-digit division code"
            )
            common(child, child_where, CHILD_KINDS, child_code)
            if child_code is None:
                continue
            if code is not None and not child_code.startswith(code):
                check.add(
                    f"{child_where}.code",
                    f"'{child_code}' does not start with its parent's code '{code}'",
                )
            else:
                child_codes.add(child_code)

    for at, owner, alias in aliases:
        others = [label for where, label in named.get(alias, []) if where != owner]
        if others:
            check.add(at, f"alias '{alias}' is the name of another territory ({', '.join(others)})")
    return top_codes, child_codes


def _check_places(check: _Checker, entry: dict[str, Any], where: str) -> None:
    """Optional `places:` of a territory: names, or {name, kind?, lat?, lng?}."""
    if "places" not in entry:
        return
    seen: set[str] = set()
    for index, raw in enumerate(check.entries(entry["places"], f"{where}.places")):
        at = f"{where}.places[{index}]"
        place = {"name": raw} if isinstance(raw, str) else check.mapping(raw, at)
        if place is None:
            continue
        check.fields(place, at, ("name",), ("kind", "lat", "lng"))
        name = check.text(place, "name", at, max_length=64)
        check.choice(place, "kind", at, PLACE_KINDS)
        check.number(place, "lat", at, -90, 90)
        check.number(place, "lng", at, -180, 180)
        if name is not None:
            if name in seen:
                check.add(f"{at}.name", f"place '{name}' is listed twice")
            seen.add(name)


def validate_places(document: Any, source: str, territory_codes: set[str]) -> list[str]:
    """Problems of a places sidecar: `territories: [{code, lat?, lng?, places?}]`."""
    check = _Checker(source)
    if check.mapping(document, "") is None:
        return check.problems
    check.fields(document, "", ("territories",), ())
    seen: dict[str, str] = {}
    for index, raw in enumerate(check.entries(document.get("territories", []), "territories")):
        where = f"territories[{index}]"
        entry = check.mapping(raw, where)
        if entry is None:
            continue
        check.fields(entry, where, ("code",), ("lat", "lng", "places"))
        code = check.text(entry, "code", where)
        if code is not None and code not in territory_codes:
            check.add(f"{where}.code", f"unknown territory '{code}'")
        check.unique(seen, code, f"{where}.code", "territory code")
        check.number(entry, "lat", where, -90, 90)
        check.number(entry, "lng", where, -180, 180)
        _check_places(check, entry, where)
    return check.problems


def _check_departments(
    check: _Checker, value: Any, top_codes: set[str] | None, child_codes: set[str]
) -> set[str]:
    seen: dict[str, str] = {}
    owners: dict[str, str] = {}  # territory code -> location of its government unit
    for index, raw in enumerate(check.entries(value, "departments", non_empty=True)):
        where = f"departments[{index}]"
        entry = check.mapping(raw, where)
        if entry is None:
            continue
        check.fields(entry, where, ("code", "name", "level", "kind"), ("short", "territory"))
        code = check.text(
            entry,
            "code",
            where,
            max_length=32,
            pattern=_UNIT_CODE,
            expected="a code without spaces",
        )
        check.unique(seen, code, f"{where}.code", "department code")
        check.text(entry, "name", where, max_length=128)
        check.text(entry, "short", where, max_length=64)
        level = check.choice(entry, "level", where, DEPARTMENT_LEVELS)
        kind = check.choice(entry, "kind", where, DEPARTMENT_KINDS)
        territory = check.text(entry, "territory", where)
        if kind == "territorial" and "territory" not in entry:
            check.add(f"{where}.territory", "a territorial unit must name the territory it governs")
        if level == "street" and kind is not None and kind != "territorial":
            check.add(f"{where}.level", "only territorial units (街道/镇) have level 'street'")
        if territory is None or top_codes is None:
            continue
        at = f"{where}.territory"
        if territory not in top_codes and territory not in child_codes:
            check.add(at, f"unknown territory '{territory}'")
            continue
        if kind != "territorial":
            continue
        if level == "street" and territory not in child_codes:
            check.add(at, f"'{territory}' is not a street or town (level 'street')")
        elif level != "street" and territory not in top_codes:
            check.add(at, f"'{territory}' is not a district or county-level city")
        elif territory in owners:
            check.add(
                at,
                f"territory '{territory}' already has a government unit (at {owners[territory]})",
            )
        else:
            owners[territory] = where
    return set(seen)


def _check_categories(check: _Checker, value: Any, department_codes: set[str] | None) -> set[str]:
    """Check the two-level taxonomy; return the second-level codes."""
    seen: dict[str, str] = {}
    second_level: set[str] = set()
    for index, raw in enumerate(check.entries(value, "categories", non_empty=True)):
        where = f"categories[{index}]"
        entry = check.mapping(raw, where)
        if entry is None:
            continue
        check.fields(entry, where, ("code", "name", "children"), ("description", "keywords"))
        code = check.text(
            entry, "code", where, pattern=_CATEGORY_L1, expected="a 2-digit category code"
        )
        check.unique(seen, code, f"{where}.code", "category code")
        _check_category_text(check, entry, where)
        for child_index, child_raw in enumerate(
            check.entries(
                entry.get("children", []), f"{where}.children", non_empty="children" in entry
            )
        ):
            child_where = f"{where}.children[{child_index}]"
            child = check.mapping(child_raw, child_where)
            if child is None:
                continue
            check.fields(
                child,
                child_where,
                ("code", "name", "routing", "department"),
                ("description", "keywords", "territory_level", "assisting"),
            )
            child_code = check.text(
                child, "code", child_where, pattern=_CATEGORY_L2, expected="a 4-digit category code"
            )
            if child_code is not None and code is not None and not child_code.startswith(code):
                check.add(
                    f"{child_where}.code",
                    f"'{child_code}' does not start with its parent's code '{code}'",
                )
            check.unique(seen, child_code, f"{child_where}.code", "category code")
            if child_code is not None:
                second_level.add(child_code)
            _check_category_text(check, child, child_where)
            _check_rule(check, child, child_where, department_codes)
    return second_level


def _check_category_text(check: _Checker, entry: dict[str, Any], where: str) -> None:
    check.text(entry, "name", where, max_length=64)
    check.text(entry, "description", where)
    check.strings(entry, "keywords", where)


def _check_rule(
    check: _Checker, entry: dict[str, Any], where: str, department_codes: set[str] | None
) -> None:
    mode = check.choice(entry, "routing", where, ROUTING_MODES)
    lead = check.text(entry, "department", where)
    if lead is not None and department_codes is not None and lead not in department_codes:
        check.add(f"{where}.department", f"unknown department '{lead}'")
    if "territory_level" in entry:
        check.choice(entry, "territory_level", where, tuple(sorted(TERRITORY_LEVELS)))
        if mode == RoutingMode.VERTICAL:
            check.add(f"{where}.territory_level", "applies to territorial routing only")
    listed: set[str] = set()
    for index, code in enumerate(check.strings(entry, "assisting", where)):
        at = f"{where}.assisting[{index}]"
        if department_codes is not None and code not in department_codes:
            check.add(at, f"unknown department '{code}'")
        elif code == lead:
            check.add(at, f"'{code}' is already the lead unit")
        elif code in listed:
            check.add(at, f"'{code}' is listed twice")
        listed.add(code)


def _check_hotlines(
    check: _Checker,
    value: Any,
    department_codes: set[str] | None,
    second_level: set[str] | None,
) -> None:
    seen: dict[str, str] = {}
    for index, raw in enumerate(check.entries(value, "hotlines")):
        where = f"hotlines[{index}]"
        entry = check.mapping(raw, where)
        if entry is None:
            continue
        check.fields(entry, where, ("number", "name", "status"), ("department", "default_category"))
        number = check.text(
            entry, "number", where, max_length=32, pattern=_DIGITS, expected="a phone number"
        )
        check.unique(seen, number, f"{where}.number", "hotline number")
        check.text(entry, "name", where, max_length=128)
        status = check.choice(entry, "status", where, HOTLINE_STATUSES)
        department = check.text(entry, "department", where)
        if "department" not in entry and status is not None and status != HotlineStatus.EMERGENCY:
            check.add(f"{where}.department", f"required for a '{status}' hotline")
        if (
            department is not None
            and department_codes is not None
            and department not in department_codes
        ):
            check.add(f"{where}.department", f"unknown department '{department}'")
        category = check.text(entry, "default_category", where)
        if category is not None and second_level is not None and category not in second_level:
            check.add(f"{where}.default_category", f"'{category}' is not a second-level category")
