"""Import, validate and export the responsibility catalogue (权责清单与热线归并目录)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import func, select, update
from sqlalchemy.orm import selectinload

from hotline.audit import record_event
from hotline.errors import ImportFailed, NotFound
from hotline.extensions import db
from hotline.models import (
    CatalogueVersion,
    Category,
    Department,
    Hotline,
    RoutingRule,
    Territory,
    TerritoryAlias,
    TerritoryPlace,
)
from routing.catalogue_check import (
    CHILD_KINDS,
    DEPARTMENT_KINDS,
    DEPARTMENT_LEVELS,
    HOTLINE_STATUSES,
    ROUTING_MODES,
    TOP_KINDS,
    validate_catalogue,
    validate_places,
)
from routing.rules import DISTRICT, RouteDecision, TerritoryInfo, route

__all__ = [
    "CHILD_KINDS",
    "DEPARTMENT_KINDS",
    "DEPARTMENT_LEVELS",
    "HOTLINE_STATUSES",
    "PACKAGED_CATALOGUE",
    "ROUTING_MODES",
    "TOP_KINDS",
    "catalogue_counts",
    "current_version",
    "export_catalogue",
    "get_version",
    "import_catalogue",
    "parse_catalogue",
    "places_file",
    "route_for",
    "rule_for",
    "territorial_units",
    "territory_chain",
    "validate_catalogue",
]

# The Jiangmen demo city, shipped with the package so the demo needs nothing else.
PACKAGED_CATALOGUE = Path(__file__).resolve().parent / "data" / "jiangmen_catalogue.yaml"


# --------------------------------------------------------------------------- reading


# libyaml's parser when installed (about 10x faster); the safe constructor either way.
_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_SafeLoader):  # type: ignore[valid-type,misc]
    """Safe YAML that refuses a key given twice in one mapping (PyYAML keeps the last)."""


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    keys: set[Any] = set()
    for key_node, _value in node.value:
        key = loader.construct_object(key_node)
        try:
            duplicate = key in keys
        except TypeError:  # unhashable key: the safe constructor reports it below
            continue
        if duplicate:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping",
                node.start_mark,
                f"found duplicate key {key!r}",
                key_node.start_mark,
            )
        keys.add(key)
    return loader.construct_mapping(node)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def parse_catalogue(raw: bytes, source: str) -> Any:
    """Parse UTF-8 YAML; a syntax error is refused with its line and column."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportFailed(
            [f"{source}: not UTF-8 text (first bad byte at offset {exc.start})"]
        ) from exc
    try:
        return yaml.load(text, Loader=_Loader)  # a SafeLoader subclass: no arbitrary objects
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = exc.problem or exc.context or "invalid YAML"
        raise ImportFailed([f"{source}: {where}YAML syntax error: {problem}"]) from exc
    except yaml.YAMLError as exc:
        raise ImportFailed([f"{source}: YAML syntax error: {exc}"]) from exc


def catalogue_counts(document: dict[str, Any]) -> dict[str, int]:
    """How many entities of each kind a (valid) catalogue holds."""
    territories = document.get("territories", [])
    categories = document.get("categories", [])
    return {
        "territories": len(territories),
        "streets_and_towns": sum(len(t.get("children", [])) for t in territories),
        "departments": len(document.get("departments", [])),
        "categories": len(categories),
        "subcategories": sum(len(c.get("children", [])) for c in categories),
        "hotlines": len(document.get("hotlines", [])),
    }


# --------------------------------------------------------------------------- import


def places_file(path: str | Path) -> Path:
    """The optional places sidecar of a catalogue file: X.yaml -> X.places.yaml beside it.

    It holds territory centres (lat/lng) and places (villages, landmarks, roads) that
    locate requests; the same fields may also be written inline in the catalogue.
    """
    path = Path(path)
    return path.with_name(path.stem + ".places.yaml")


def import_catalogue(path: str | Path, *, imported_by: str | None = None) -> CatalogueVersion:
    """Validate a catalogue file and, only if it is clean, store it as the new current version.

    Entities are upserted by code so ids (and the tickets pointing at them) stay
    stable; entities missing from the file are deactivated, never deleted. Places
    (inline or in the `places_file` sidecar) replace the stored places when given and
    leave them alone when neither lists any.
    """
    path = Path(path)
    source = path.name
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ImportFailed([f"{source}: cannot read the file ({exc.strerror})"]) from exc
    document = parse_catalogue(raw, source)
    problems = validate_catalogue(document, source)
    sidecar = places_file(path)
    places_document: dict[str, Any] | None = None
    if sidecar.is_file():
        places_document = parse_catalogue(sidecar.read_bytes(), sidecar.name)
        if not problems:
            codes = {t["code"] for t in document["territories"]} | {
                c["code"] for t in document["territories"] for c in t.get("children", [])
            }
            problems = validate_places(places_document, sidecar.name, codes)
    if problems:
        raise ImportFailed(problems)
    try:
        version = _store(
            document, source, hashlib.sha256(raw).hexdigest(), imported_by, places_document
        )
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    from routing.suggest import invalidate_cache

    invalidate_cache()  # this process routes by the new version at once; others within seconds
    return version


def _store(
    document: dict[str, Any],
    source: str,
    checksum: str,
    imported_by: str | None,
    places_document: dict[str, Any] | None = None,
) -> CatalogueVersion:
    deactivated: dict[str, int] = {}
    extra = {t["code"]: t for t in (places_document or {}).get("territories", [])}

    territories = {
        t.code: t
        for t in db.session.scalars(select(Territory).options(selectinload(Territory.aliases)))
    }
    listed: set[str] = set()
    places: list[tuple[str, Any]] = []
    for entry in document["territories"]:
        top = _upsert_territory(territories, entry, parent=None, extra=extra.get(entry["code"]))
        listed.add(top.code)
        for child in entry.get("children", []):
            listed.add(
                _upsert_territory(
                    territories, child, parent=top, extra=extra.get(child["code"])
                ).code
            )
            places += [(child["code"], p) for p in child.get("places", [])]
        places += [(entry["code"], p) for p in entry.get("places", [])]
    for code, entry in extra.items():
        places += [(code, p) for p in entry.get("places", [])]
    deactivated["territories"] = _deactivate(territories, listed)
    place_count = None
    if places or places_document is not None:
        place_count = _sync_places(territories, places)

    departments = {d.code: d for d in db.session.scalars(select(Department))}
    for entry in document["departments"]:
        department = _get_or_add(departments, Department, entry["code"])
        department.name = entry["name"]
        department.short_name = entry.get("short") or entry["name"]
        department.level = entry["level"]
        department.kind = entry["kind"]
        territory_code = entry.get("territory")
        department.territory = territories[territory_code] if territory_code else None
        department.active = True
    deactivated["departments"] = _deactivate(
        departments, {entry["code"] for entry in document["departments"]}
    )

    categories = {c.code: c for c in db.session.scalars(select(Category))}
    listed = set()
    for entry in document["categories"]:
        first = _upsert_category(categories, entry, parent=None)
        listed.add(first.code)
        for child in entry["children"]:
            listed.add(_upsert_category(categories, child, parent=first).code)
    deactivated["categories"] = _deactivate(categories, listed)

    hotlines = {h.number: h for h in db.session.scalars(select(Hotline))}
    for entry in document.get("hotlines", []):
        hotline = hotlines.get(entry["number"])
        if hotline is None:
            hotline = Hotline(number=entry["number"])
            db.session.add(hotline)
            hotlines[hotline.number] = hotline
        hotline.name = entry["name"]
        hotline.status = entry["status"]
        hotline.department = departments[entry["department"]] if "department" in entry else None
        default = entry.get("default_category")
        hotline.default_category = categories[default] if default else None
        hotline.active = True
    deactivated["hotlines"] = _deactivate(
        hotlines, {entry["number"] for entry in document.get("hotlines", [])}
    )

    latest = db.session.scalar(select(func.max(CatalogueVersion.number))) or 0
    db.session.execute(
        update(CatalogueVersion)
        .where(CatalogueVersion.is_current.is_(True))
        .values(is_current=False)
    )
    version = CatalogueVersion(
        number=latest + 1,
        source=source[:255],
        checksum=checksum,
        imported_by=imported_by,
        document=document,
        is_current=True,
    )
    db.session.add(version)
    for first in document["categories"]:
        for entry in first["children"]:
            version.rules.append(
                RoutingRule(
                    category=categories[entry["code"]],
                    mode=entry["routing"],
                    department=departments[entry["department"]],
                    territory_level=entry.get("territory_level", DISTRICT),
                    assisting=list(entry.get("assisting", [])),
                )
            )
    db.session.flush()
    record_event(
        "catalogue.imported",
        actor=None,
        note=source,
        data={
            "version": version.number,
            "source": source,
            "checksum": checksum,
            "imported_by": imported_by,
            "counts": catalogue_counts(document),
            "deactivated": deactivated,
            "places": place_count,
        },
    )
    return version


def _get_or_add(index: dict[str, Any], model: type[Any], code: str) -> Any:
    row = index.get(code)
    if row is None:
        row = model(code=code)
        db.session.add(row)
        index[code] = row
    return row


def _upsert_territory(
    index: dict[str, Territory],
    entry: dict[str, Any],
    parent: Territory | None,
    extra: dict[str, Any] | None = None,
) -> Territory:
    territory: Territory = _get_or_add(index, Territory, entry["code"])
    territory.name = entry["name"]
    territory.kind = entry["kind"]
    territory.parent = parent
    territory.lat = entry.get("lat", (extra or {}).get("lat"))
    territory.lng = entry.get("lng", (extra or {}).get("lng"))
    territory.active = True
    # Replace the aliases by difference: deleting and re-inserting the same alias
    # in one flush would break the (territory, alias) unique constraint.
    wanted = list(dict.fromkeys(entry.get("aliases", [])))
    for alias in list(territory.aliases):
        if alias.alias not in wanted:
            territory.aliases.remove(alias)
    present = {alias.alias for alias in territory.aliases}
    territory.aliases.extend(TerritoryAlias(alias=a) for a in wanted if a not in present)
    return territory


def _sync_places(territories: dict[str, Territory], listed: list[tuple[str, Any]]) -> int:
    """Make the stored places exactly the listed ones (upsert by territory and name)."""
    db.session.flush()  # new territories need their ids
    wanted: dict[tuple[int, str], dict[str, Any]] = {}
    for code, raw in listed:
        place = {"name": raw} if isinstance(raw, str) else raw
        wanted[(territories[code].id, place["name"])] = place
    for row in db.session.scalars(select(TerritoryPlace)):
        place = wanted.pop((row.territory_id, row.name), None)
        if place is None:
            db.session.delete(row)
            continue
        row.kind = place.get("kind", "landmark")
        row.lat, row.lng = place.get("lat"), place.get("lng")
    for (territory_id, name), place in wanted.items():
        db.session.add(
            TerritoryPlace(
                territory_id=territory_id,
                name=name,
                kind=place.get("kind", "landmark"),
                lat=place.get("lat"),
                lng=place.get("lng"),
            )
        )
    return len(listed)


def _upsert_category(
    index: dict[str, Category], entry: dict[str, Any], parent: Category | None
) -> Category:
    category: Category = _get_or_add(index, Category, entry["code"])
    category.name = entry["name"]
    category.parent = parent
    category.description = entry.get("description")
    category.keywords = list(entry.get("keywords", []))
    category.active = True
    return category


def _deactivate(index: dict[str, Any], listed: set[str]) -> int:
    """Retire rows the new file no longer lists; old tickets still point at them."""
    count = 0
    for key, row in index.items():
        if key not in listed and row.active:
            row.active = False
            count += 1
    return count


# --------------------------------------------------------------------------- queries


def current_version() -> CatalogueVersion | None:
    return db.session.scalar(select(CatalogueVersion).where(CatalogueVersion.is_current.is_(True)))


def get_version(number: int) -> CatalogueVersion:
    version = db.session.scalar(select(CatalogueVersion).where(CatalogueVersion.number == number))
    if version is None:
        raise NotFound(f"No catalogue version {number}", f"权责清单第 {number} 版不存在")
    return version


def rule_for(category_code: str, version: CatalogueVersion | None = None) -> RoutingRule | None:
    """The routing rule of a second-level category in `version` (default: the current one)."""
    version = version or current_version()
    if version is None:
        return None
    return db.session.scalar(
        select(RoutingRule)
        .join(RoutingRule.category)
        .where(RoutingRule.version_id == version.id, Category.code == category_code)
    )


def territory_chain(territory_code: str) -> list[TerritoryInfo]:
    """The territory and its district, district first; empty for an unknown code."""
    territory = db.session.scalar(select(Territory).where(Territory.code == territory_code))
    if territory is None:
        return []
    chain = [territory] if territory.parent is None else [territory.parent, territory]
    return [TerritoryInfo(t.code, t.name, t.level) for t in chain]


def territorial_units(territory_codes: Iterable[str] | None = None) -> dict[str, str]:
    """territory code -> code of the active government unit that owns it (属地单位)."""
    query = (
        select(Territory.code, Department.code)
        .join(Department.territory)
        .where(Department.kind == "territorial", Department.active.is_(True))
    )
    if territory_codes is not None:
        query = query.where(Territory.code.in_(list(territory_codes)))
    return {territory: unit for territory, unit in db.session.execute(query)}


def route_for(
    category_code: str,
    territory_code: str | None = None,
    *,
    version: CatalogueVersion | None = None,
) -> RouteDecision | None:
    """Apply the catalogue rule of a category to an address; None when no rule exists.

    None means the category has no mapping: the ticket goes to the hotline
    office's coordination queue.
    """
    rule = rule_for(category_code, version)
    if rule is None:
        return None
    chain = territory_chain(territory_code) if territory_code else []
    units = territorial_units(t.code for t in chain)
    wanted = [rule.department.code, *units.values()]
    names = {
        code: short_name
        for code, short_name in db.session.execute(
            select(Department.code, Department.short_name).where(Department.code.in_(wanted))
        )
    }
    return route(
        rule.mode,
        rule.department.code,
        rule.territory_level,
        chain,
        units,
        category_code=category_code,
        unit_names=names,
    )


# --------------------------------------------------------------------------- export


def export_catalogue(path: str | Path, version_number: int | None = None) -> CatalogueVersion:
    """Write a version (default: the current one) as YAML that imports back to the same rows."""
    version = get_version(version_number) if version_number is not None else current_version()
    if version is None:
        raise NotFound("No catalogue has been imported yet", "尚未导入权责清单")
    header = (
        f"# 12345 responsibility catalogue (权责清单), version {version.number}, "
        f"imported from {version.source} on {version.imported_at:%Y-%m-%d %H:%M} UTC\n"
    )
    body = yaml.safe_dump(version.document, allow_unicode=True, sort_keys=False, width=100)
    Path(path).write_text(header + body, encoding="utf-8")
    record_event(
        "catalogue.exported",
        actor=None,
        note=Path(path).name,
        data={"version": version.number, "file": Path(path).name},
    )
    db.session.commit()
    return version
